"""tf_ffm.glob over s3:// against a real S3 server (moto): ListObjectsV2
pagination (more than 1000 keys), sorting, wildcards in the last component,
prefixes with no matches."""
import fnmatch
import os
import random

import pytest
import tensorflow as tf

pytest.register_assert_rewrite("s3_server")
import tf_ffm  # noqa: E402
from s3_server import create_objects  # noqa: E402

pytest_plugins = ["s3_server"]

BUCKET = "ffm-listing"
N_SHARDS = 1105  # > 1000: ListObjectsV2 answers in more than one page


def _tfrecord(tmp_dir, payload):
    path = os.path.join(tmp_dir, "one.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        w.write(payload)
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def keys(moto_s3, tmp_path_factory):
    """Every key in the bucket (shuffled before upload, so listing order
    cannot come from insertion order)."""
    tmp = str(tmp_path_factory.mktemp("s3-listing"))
    objects = {}
    for i in range(N_SHARDS):
        key = f"many/part-{i:05d}.tfrecord"
        objects[key] = _tfrecord(tmp, key.encode())
    objects.update({
        "many/_SUCCESS": b"",
        "many/part-00001.tfrecord.idx": b"0 10\n",
        "many/README.txt": b"not data",
        "many/sub/part-00000.tfrecord": _tfrecord(tmp, b"nested"),
        "many/sub/deeper/part-00001.tfrecord": _tfrecord(tmp, b"nested2"),
        "manyother/part-00000.tfrecord": _tfrecord(tmp, b"sibling prefix"),
        "top.tfrecord": _tfrecord(tmp, b"top"),
        "top.txt": b"",
        "mixed/B.tfrecord": b"",
        "mixed/a.tfrecord": b"",
        "mixed/a-1.tfrecord": b"",
        "mixed/a_1.tfrecord": b"",
        "mixed/aa.tfrecord": b"",
        "mixed/space name.tfrecord": b"",
    })
    shuffled = list(objects.items())
    random.Random(7).shuffle(shuffled)
    s3 = moto_s3.client()
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="ffm-listing-empty")
    create_objects(s3, BUCKET, dict(shuffled), threads=16)
    listed = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="many/") for o in page.get("Contents", [])]
    assert len(listed) == N_SHARDS + 5
    return sorted(objects)


def expected(keys, directory, pattern):
    """What glob should return: objects directly under `directory` whose
    name matches `pattern` (shell rules), as sorted s3:// URIs."""
    out = []
    for key in keys:
        parent, _, name = key.rpartition("/")
        if parent == directory and fnmatch.fnmatchcase(name, pattern):
            out.append(f"s3://{BUCKET}/{key}")
    return sorted(out)


def test_more_than_one_page_of_keys(keys, moto_s3):
    next_pages = r'"GET /%s\?\S*continuation-token=\S*prefix=many/ ' % BUCKET
    before = moto_s3.requests(next_pages)
    got = tf_ffm.glob(f"s3://{BUCKET}/many/*.tfrecord")
    assert moto_s3.requests(next_pages) > before  # a second page was asked for
    assert len(got) == N_SHARDS
    assert got == [f"s3://{BUCKET}/many/part-{i:05d}.tfrecord"
                   for i in range(N_SHARDS)]
    assert got == sorted(got)


@pytest.mark.parametrize("pattern", [
    "*",
    "part-0000?.tfrecord",
    "part-00[0-1]*.tfrecord",
    "part-0110[!0-2].tfrecord",
    "part-*.tfrecord.idx",
    "_SUCCESS",
    "*.txt",
    "part-01104.tfrecord",
])
def test_wildcards_filter_the_last_component(keys, pattern):
    got = tf_ffm.glob(f"s3://{BUCKET}/many/{pattern}")
    assert got == expected(keys, "many", pattern)
    assert got, "the pattern should match something"


def test_not_recursive_and_prefix_is_a_directory(keys):
    # many/sub/* are not under many/ directly; manyother/ is not under many/
    got = tf_ffm.glob(f"s3://{BUCKET}/many/*")
    assert not any("/sub/" in u or "manyother" in u for u in got)
    assert tf_ffm.glob(f"s3://{BUCKET}/many/sub/*.tfrecord") == [
        f"s3://{BUCKET}/many/sub/part-00000.tfrecord"]
    assert tf_ffm.glob(f"s3://{BUCKET}/many/sub/deeper/*") == [
        f"s3://{BUCKET}/many/sub/deeper/part-00001.tfrecord"]


def test_sorted_like_python(keys):
    got = tf_ffm.glob(f"s3://{BUCKET}/mixed/*")
    assert got == expected(keys, "mixed", "*")
    assert len(got) == 6
    assert got[0] == f"s3://{BUCKET}/mixed/B.tfrecord"  # byte order: upper first


def test_bucket_root(keys):
    assert tf_ffm.glob(f"s3://{BUCKET}/*.tfrecord") == [f"s3://{BUCKET}/top.tfrecord"]
    assert tf_ffm.glob(f"s3://{BUCKET}/top.*") == [
        f"s3://{BUCKET}/top.tfrecord", f"s3://{BUCKET}/top.txt"]


@pytest.mark.parametrize("pattern", [
    "s3://ffm-listing/many/*.parquet",          # prefix exists, nothing matches
    "s3://ffm-listing/no-such-prefix/*.tfrecord",
    "s3://ffm-listing/man/*",                   # a key prefix, not a directory
    "s3://ffm-listing-empty/*",                 # empty bucket
    "s3://ffm-listing-empty/data/*.tfrecord",
])
def test_no_matches_is_an_empty_list(keys, pattern):
    assert tf_ffm.glob(pattern) == []


def test_wildcards_only_in_the_last_component(keys):
    with pytest.raises(ValueError, match="last path component"):
        tf_ffm.glob(f"s3://{BUCKET}/*/part-00000.tfrecord")


def test_glob_then_read(keys):
    uris = tf_ffm.glob(f"s3://{BUCKET}/many/part-0100?.tfrecord")
    assert len(uris) == 10
    got = [r.numpy() for r in tf_ffm.FFMRecordDataset(
        uris, num_parallel_reads=4)]
    assert got == [u[len(f"s3://{BUCKET}/"):].encode() for u in uris]


def test_glob_in_a_tf_function(keys):
    @tf.function
    def listing():
        return tf_ffm.glob(f"s3://{BUCKET}/many/part-0000?.tfrecord")

    got = [u.decode() for u in listing().numpy()]
    assert got == expected(keys, "many", "part-0000?.tfrecord")
