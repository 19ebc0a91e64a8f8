"""tf_ffm.glob follows tf.io.gfile.glob: compared with it on a local tree
(dotfiles, hidden directories, wildcards in any component, escapes,
character classes, directories, trailing slashes, relative and absolute
patterns, file://), and the same rules over s3:// (moto)."""
import os
import pathlib

import pytest
import tensorflow as tf

pytest.register_assert_rewrite("s3_server")
import tf_ffm  # noqa: E402
from s3_server import create_objects  # noqa: E402

pytest_plugins = ["s3_server"]

TREE = [
    "d/a.tfrecord", "d/.b.tfrecord", "d/c.txt", "d/B.tfrecord", "d/sub/x.tfrecord",
    "d/sub/.y.tfrecord", ".hidden/h.tfrecord", "e/a.tfrecord", "e/part-1.tfrecord",
    "d/st*r", "d/q?", "d/br[1]", "d/br1", "d/back\\slash", "top.tfrecord",
    ".top.tfrecord", "sp ace/a b.tfrecord",
]

PATTERNS = [
    "d/*", "./d/*", "d/*.tfrecord", "d/.*", "*/a.tfrecord", "*/*", "*/*/*",
    "*", "./*", ".*", "*.tfrecord", "d", "d/", "d/a.tfrecord", "./d/a.tfrecord",
    "d/nothing", "nope/*", "d/**", "**/x.tfrecord", "d/st\\*r", "d/q?", "d/q\\?",
    "d/br[1]", "d/br\\[1]", "d/[!a]*", "d/[^a]*", "d/[a-c]*", "d/[[:upper:]]*",
    "d/back\\\\slash", "d//a.tfrecord", "d//*", "d/./a*", "d/../d/a*", "d/*/",
    "d/sub/", "*/sub/*", "./*/../d/a*", "d/a.tfrecord/", "d/*.TFRECORD",
    "sp ace/*", "?/*", "[de]/a*", ".", "",
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("glob")
    for rel in TREE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())
    os.symlink("d", root / "link-to-d")
    os.symlink(root / "missing", root / "d" / "dangling")
    return root


def _tf_glob(pattern):
    return sorted(tf.io.gfile.glob(pattern))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_relative_patterns_match_tf_io_gfile_glob(tree, pattern, monkeypatch):
    monkeypatch.chdir(tree)
    want = _tf_glob(pattern)
    assert tf_ffm.glob(pattern) == want


def test_absolute_and_file_uri_patterns_match_tf_io_gfile_glob(tree):
    for pattern in PATTERNS:
        if not pattern or pattern.startswith("."):
            continue
        for prefix in (f"{tree}/", f"file://{tree}/"):
            assert tf_ffm.glob(prefix + pattern) == _tf_glob(prefix + pattern), prefix + pattern


def test_what_tf_rules_mean(tree, monkeypatch):
    # The rules spelled out, so a change in either implementation shows here.
    monkeypatch.chdir(tree)
    assert tf_ffm.glob("d/*.tfrecord") == [
        "d/.b.tfrecord", "d/B.tfrecord", "d/a.tfrecord"]           # dotfiles match *
    assert tf_ffm.glob("./e/*") == ["./e/a.tfrecord", "./e/part-1.tfrecord"]  # ./ kept
    assert tf_ffm.glob("*/a.tfrecord") == [                        # as TF: ./ added
        "./d/a.tfrecord", "./e/a.tfrecord", "./link-to-d/a.tfrecord"]
    assert "./.hidden/h.tfrecord" in tf_ffm.glob("*/*.tfrecord")  # hidden directories
    assert tf_ffm.glob("d/st\\*r") == ["d/st*r"]                    # escapes
    assert tf_ffm.glob("d/sub") == ["d/sub"]                       # no wildcard: itself
    assert "d/sub" in tf_ffm.glob("d/s*")                          # directories too
    assert "d/dangling" in tf_ffm.glob("d/*")                      # as listed


def test_lists_bytes_and_paths(tree, monkeypatch):
    monkeypatch.chdir(tree)
    # A list: each pattern's matches in turn, duplicates kept (as TF).
    patterns = ["e/*", "d/a*", "e/*"]
    assert tf_ffm.glob(patterns) == tf.io.gfile.glob(patterns) == [
        "e/a.tfrecord", "e/part-1.tfrecord", "d/a.tfrecord",
        "e/a.tfrecord", "e/part-1.tfrecord"]
    assert tf_ffm.glob(("e/a*", b"d/a*")) == tf.io.gfile.glob(("e/a*", b"d/a*")) == [
        "e/a.tfrecord", "d/a.tfrecord"]
    assert tf_ffm.glob(iter(["d/a*"])) == ["d/a.tfrecord"]
    assert tf_ffm.glob([]) == [] == tf.io.gfile.glob([])
    # Beyond tf.io.gfile.glob (which iterates bytes as ints and rejects
    # paths): a bytes pattern and os.PathLike, str results.
    assert tf_ffm.glob(b"d/a*") == ["d/a.tfrecord"]
    assert tf_ffm.glob(pathlib.Path("d") / "a*") == ["d/a.tfrecord"]
    assert tf_ffm.glob([pathlib.Path("e") / "a*"]) == ["e/a.tfrecord"]


def test_wrong_types_raise_type_error(tree):
    with pytest.raises(TypeError, match="got int: 7"):
        tf_ffm.glob(["d/*", 7])
    with pytest.raises(TypeError, match="got NoneType"):
        tf_ffm.glob(None)
    with pytest.raises(TypeError):
        tf.io.gfile.glob(["d/*", 7])  # as TF


# -- s3:// ---------------------------------------------------------------------

BUCKET = "ffm-glob-rules"
KEYS = ["d/a.tfrecord", "d/.b.tfrecord", "d/B.tfrecord", "d/c.txt", "d/st*r",
        "d/q?", "d/br1", "d/sub/x.tfrecord", "e/a.tfrecord", "top.tfrecord"]


@pytest.fixture(scope="module")
def bucket(moto_s3):
    s3 = moto_s3.client()
    s3.create_bucket(Bucket=BUCKET)
    create_objects(s3, BUCKET, {k: k.encode() for k in KEYS})
    return f"s3://{BUCKET}"


def test_s3_follows_the_same_rules(bucket):
    u = lambda *keys: [f"{bucket}/{k}" for k in keys]  # noqa: E731
    assert tf_ffm.glob(f"{bucket}/d/*.tfrecord") == u(
        "d/.b.tfrecord", "d/B.tfrecord", "d/a.tfrecord")               # dotfiles
    assert tf_ffm.glob(f"{bucket}/d/.*") == u("d/.b.tfrecord")
    assert tf_ffm.glob(f"{bucket}/d/[!a.]*") == u("d/B.tfrecord", "d/br1", "d/c.txt",
                                                 "d/q?", "d/st*r")
    assert tf_ffm.glob(f"{bucket}/d/[^a.]*") == tf_ffm.glob(f"{bucket}/d/[!a.]*")
    assert tf_ffm.glob(f"{bucket}/d/st\\*r") == u("d/st*r")          # escapes
    assert tf_ffm.glob(f"{bucket}/d/q\\?") == u("d/q?")
    assert tf_ffm.glob(f"{bucket}/d/a.tfrecord") == u("d/a.tfrecord")  # no wildcard
    assert tf_ffm.glob(f"{bucket}/d/none.tfrecord") == []
    # Lists (in turn, duplicates kept), bytes, mixed with local patterns.
    assert tf_ffm.glob([f"{bucket}/e/*", f"{bucket}/d/a*".encode(), f"{bucket}/e/*"]) == u(
        "e/a.tfrecord", "d/a.tfrecord", "e/a.tfrecord")
    assert tf_ffm.glob([f"{bucket}/top.*", "/no/such/dir/*"]) == u("top.tfrecord")


def test_s3_differences_are_explicit(bucket):
    # Objects only: S3 has no directories, so d/sub is not a match.
    assert f"{bucket}/d/sub" not in tf_ffm.glob(f"{bucket}/d/*")
    with pytest.raises(ValueError, match="last path component"):
        tf_ffm.glob(f"{bucket}/*/a.tfrecord")
    with pytest.raises(ValueError, match="last path component"):
        tf_ffm.glob([f"{bucket}/e/*", f"{bucket}/[de]/a.tfrecord"])
    with pytest.raises(tf.errors.NotFoundError, match="does not exist"):
        tf_ffm.glob("s3://ffm-glob-no-such-bucket/*")
