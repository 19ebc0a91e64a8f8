"""The s3:// filesystem tf_ffm registers with TensorFlow (cc/fs/), against a
real S3 server (moto): tf.io.gfile round trips at the multipart boundaries,
listings past one ListObjectsV2 page, the stock TFRecordDataset and
TFRecordWriter, checkpoints, SavedModels, tf.data snapshots, directories,
errors by class and message, and writes that never complete leaving no
object.

Uploads go in parts of 10 MiB (Arrow's fixed part size), two at a time
(TF_FFM_S3_PARTS_IN_FLIGHT; the filesystem reads its settings at each
open).
"""
import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

pytest.register_assert_rewrite("s3_server")
import tf_ffm  # noqa: E402
from s3_server import (_SNIPPET_PRELUDE, create_objects,  # noqa: E402
                       isolated_aws_env, run_snippets)

pytest_plugins = ["s3_server"]

BUCKET = "ffm-fs"
MiB = 1 << 20
PART = 10 * MiB  # ffm::kS3UploadPartSize


@pytest.fixture(scope="module")
def s3(moto_s3):
    client = moto_s3.client()
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(autouse=True)
def two_parts_in_flight(moto_s3, monkeypatch):
    monkeypatch.setenv("TF_FFM_S3_PARTS_IN_FLIGHT", "2")


def _bytes(n, seed=0):
    return random.Random(seed * 7919 + n).randbytes(n)


def _get(s3, key):
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _exists(s3, key):
    return s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0) > 0


def _uploads(s3, key):
    got = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key)
    return got.get("Uploads", [])


def test_registered_on_import():
    assert tf_ffm.s3_filesystem() == "tf_ffm"
    assert "s3" in tf.io.gfile.get_registered_schemes()


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 3 * PART + 7],
                         ids=["0", "1", "part-1", "part", "part+1", "3parts+7"])
def test_round_trip(s3, moto_s3, size):
    key = f"round/{size}.bin"
    uri = f"s3://{BUCKET}/{key}"
    data = _bytes(size)
    with tf.io.gfile.GFile(uri, "wb") as f:
        # Odd-sized writes, so parts are cut from the writer's buffer.
        for at in range(0, size, MiB + 3):
            f.write(data[at:at + MiB + 3])
        assert f.tell() == size
    assert _get(s3, key) == data
    assert tf.io.gfile.stat(uri).length == size
    assert not tf.io.gfile.isdir(uri)
    with tf.io.gfile.GFile(uri, "rb") as f:
        assert f.read() == data
        if size > 10:
            f.seek(size // 2)
            assert f.read(7) == data[size // 2:size // 2 + 7]
    parts = moto_s3.requests(rf'"PUT /{BUCKET}/{key}\?partNumber=')
    # Under one part, one PutObject; from one part on, parts of PART bytes.
    assert parts == (0 if size < PART else -(-size // PART))
    assert _uploads(s3, key) == []


def test_listing_past_one_page(s3):
    names = {f"many/k{i:05d}.bin": b"x" for i in range(1010)}
    names.update({f"many/sub/s{i}": b"y" for i in range(3)})
    create_objects(s3, BUCKET, names)
    children = tf.io.gfile.listdir(f"s3://{BUCKET}/many")
    assert len(children) == 1011
    assert "sub" in children and "k01009.bin" in children
    matched = tf.io.gfile.glob(f"s3://{BUCKET}/many/k*.bin")
    assert matched == sorted(f"s3://{BUCKET}/{k}" for k in names if "/sub/" not in k)
    assert tf.io.gfile.glob(f"s3://{BUCKET}/many/*/s?") == [
        f"s3://{BUCKET}/many/sub/s{i}" for i in range(3)]
    assert tf.io.gfile.glob(f"s3://{BUCKET}/many/nothing*") == []
    assert tf.io.gfile.isdir(f"s3://{BUCKET}/many/sub")
    tf.io.gfile.rmtree(f"s3://{BUCKET}/many")
    assert not tf.io.gfile.exists(f"s3://{BUCKET}/many")


def _write_local(path, records):
    with tf.io.TFRecordWriter(path) as w:
        for r in records:
            w.write(r)


def _records(seed, count):
    rng = random.Random(seed)
    return [b"%d-%d:" % (seed, i) + rng.randbytes(rng.choice([0, 3, 900, 40000]))
            for i in range(count)]


def test_stock_tfrecord_dataset_and_writer(s3, tmp_path):
    files = []
    for f, count in enumerate([600, 40]):  # ~12 MiB: readahead past chunks
        records = _records(f, count)
        local = str(tmp_path / f"{f}.tfrecord")
        _write_local(local, records)
        uri = f"s3://{BUCKET}/records/{f}.tfrecord"
        with tf.io.TFRecordWriter(uri) as w:
            for r in records:
                w.write(r)
        with open(local, "rb") as lf:
            assert _get(s3, f"records/{f}.tfrecord") == lf.read()
        files.append((local, uri))
    local_files, uris = zip(*files)
    want = [r.numpy() for r in tf.data.TFRecordDataset(list(local_files))]
    for n in (None, 2):
        got = [r.numpy() for r in tf.data.TFRecordDataset(list(uris),
                                                          num_parallel_reads=n)]
        assert got == want if n is None else sorted(got) == sorted(want)
    gz = f"s3://{BUCKET}/records/z.tfrecord.gz"
    with tf.io.TFRecordWriter(gz, options="GZIP") as w:
        for r in want[:50]:
            w.write(r)
    assert [r.numpy() for r in tf.data.TFRecordDataset(gz, "GZIP")] == want[:50]


def test_checkpoint_save_restore(s3):
    v = tf.Variable(np.arange(1000, dtype=np.float32))
    ckpt = tf.train.Checkpoint(v=v, step=tf.Variable(7))
    directory = f"s3://{BUCKET}/ckpt"
    manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=2)
    for step in range(3):
        ckpt.step.assign(step)
        manager.save()
    assert tf.train.latest_checkpoint(directory) == f"{directory}/ckpt-3"
    assert len(tf.io.gfile.glob(f"{directory}/ckpt-*.index")) == 2
    v.assign(tf.zeros_like(v))
    ckpt.restore(manager.latest_checkpoint).assert_consumed()
    assert int(ckpt.step) == 2
    np.testing.assert_array_equal(v.numpy(), np.arange(1000, dtype=np.float32))


def test_saved_model_and_dataset_snapshot(s3):
    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable([[2.0], [3.0]])

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.w)

    path = f"s3://{BUCKET}/saved/scale"
    tf.saved_model.save(Scale(), path)
    loaded = tf.saved_model.load(path)
    x = tf.constant([[1.0, 1.0], [2.0, 0.5]])
    np.testing.assert_allclose(loaded(x).numpy(), [[5.0], [5.5]])

    ds = tf.data.Dataset.range(300).map(lambda i: (i, tf.strings.as_string(i)))
    snapshot = f"s3://{BUCKET}/snapshot"
    ds.save(snapshot)
    back = tf.data.Dataset.load(snapshot)
    assert [(int(a), b.numpy()) for a, b in back] == [
        (i, str(i).encode()) for i in range(300)]


def test_append_flush_directories_copy_rename(s3):
    uri = f"s3://{BUCKET}/ops/log.txt"
    f = tf.io.gfile.GFile(uri, "w")
    f.write("abc")
    f.flush()  # smaller than a part: visible at once (TensorBoard needs it)
    assert _get(s3, "ops/log.txt") == b"abc"
    f.write("def")
    f.close()
    with tf.io.gfile.GFile(uri, "a") as f:
        f.write("ghi")
    assert _get(s3, "ops/log.txt") == b"abcdefghi"

    tf.io.gfile.makedirs(f"s3://{BUCKET}/ops/a/b/c")
    assert tf.io.gfile.isdir(f"s3://{BUCKET}/ops/a/b/c")
    assert sorted(tf.io.gfile.listdir(f"s3://{BUCKET}/ops")) == ["a", "log.txt"]
    tf.io.gfile.copy(uri, f"s3://{BUCKET}/ops/a/copy.txt")
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.io.gfile.copy(uri, f"s3://{BUCKET}/ops/a/copy.txt")
    tf.io.gfile.rename(f"s3://{BUCKET}/ops/a/copy.txt",
                       f"s3://{BUCKET}/ops/a/moved.txt")
    assert _get(s3, "ops/a/moved.txt") == b"abcdefghi"
    assert not tf.io.gfile.exists(f"s3://{BUCKET}/ops/a/copy.txt")
    assert [p for p, _, _ in tf.io.gfile.walk(f"s3://{BUCKET}/ops")] == [
        f"s3://{BUCKET}/ops", f"s3://{BUCKET}/ops/a", f"s3://{BUCKET}/ops/a/b",
        f"s3://{BUCKET}/ops/a/b/c"]
    with pytest.raises(tf.errors.FailedPreconditionError,
                       match=f"s3://{BUCKET}/ops/a/b: is a directory"):
        tf.io.gfile.remove(f"s3://{BUCKET}/ops/a/b")
    tf.io.gfile.rmtree(f"s3://{BUCKET}/ops/a")
    assert tf.io.gfile.listdir(f"s3://{BUCKET}/ops") == ["log.txt"]
    tf.io.gfile.remove(uri)
    assert not tf.io.gfile.exists(uri)


def test_errors_name_the_uri(s3):
    missing = f"s3://{BUCKET}/nope/missing.bin"
    for call in (lambda: tf.io.gfile.GFile(missing, "rb").read(),
                 lambda: tf.io.gfile.stat(missing),
                 lambda: tf.io.gfile.remove(missing),
                 lambda: tf.io.gfile.listdir(f"s3://{BUCKET}/nope"),
                 lambda: list(tf.data.TFRecordDataset(missing))):
        with pytest.raises(tf.errors.NotFoundError) as e:
            call()
        assert f"s3://{BUCKET}/nope" in str(e.value)
    with pytest.raises(tf.errors.NotFoundError, match="bucket 'no-such-bucket'"):
        tf.io.gfile.GFile("s3://no-such-bucket/k", "rb").read()
    with pytest.raises(tf.errors.NotFoundError, match="bucket 'no-such-bucket'"):
        with tf.io.gfile.GFile("s3://no-such-bucket/k", "wb") as f:
            f.write("x")
    assert not tf.io.gfile.exists(missing)
    os.environ["TF_FFM_S3_PARTS_IN_FLIGHT"] = "0"  # restored by the fixture
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="TF_FFM_S3_PARTS_IN_FLIGHT"):
        with tf.io.gfile.GFile(f"s3://{BUCKET}/k", "wb") as f:
            f.write("x")


def test_abandoned_write_leaves_no_object(s3):
    key = "abandoned/big.bin"
    f = tf.io.gfile.GFile(f"s3://{BUCKET}/{key}", "wb")
    f.write(_bytes(2 * PART + 5))  # two parts sent, the upload under way
    assert len(_uploads(s3, key)) == 1
    del f  # never closed: the upload is aborted
    assert _uploads(s3, key) == []
    assert not _exists(s3, key)


def test_killed_writer_leaves_no_object(s3, moto_s3, s3_log_dir):
    """A process killed mid-upload never completes it: no object appears
    (the incomplete upload stays until a lifecycle rule removes it, as with
    any S3 client)."""
    key = "killed/big.bin"
    env = isolated_aws_env(
        s3_log_dir, AWS_ENDPOINT_URL=moto_s3.endpoint_url,
        AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1",
        PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    code = _SNIPPET_PRELUDE + f"""
import time
f = tf.io.gfile.GFile("s3://{BUCKET}/{key}", "wb")
f.write(b"z" * ({2 * PART}))
print("PARTS-SENT", flush=True)
time.sleep(120)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for line in proc.stdout:
            if "PARTS-SENT" in line:
                break
        assert len(_uploads(s3, key)) == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not _exists(s3, key)
    for upload in _uploads(s3, key):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=key,
                                  UploadId=upload["UploadId"])


def test_credentials_and_denied_writes(moto_s3_auth, s3_log_dir):
    """Wrong secret: PermissionDenied on every call; an identity that may
    only read: reads work, a write fails at close with PermissionDenied and
    leaves nothing."""
    auth = moto_s3_auth
    code = f"""
ok = "s3://{auth.bucket}/{auth.readable_key}"
def write():
    with tf.io.gfile.GFile("s3://{auth.bucket}/data/new.bin", "wb") as f:
        f.write(b"x" * 100)
emit({{
    "read": attempt(lambda: len(tf.io.gfile.GFile(ok, "rb").read())),
    "stat": attempt(lambda: tf.io.gfile.stat(ok).length),
    "list": attempt(lambda: tf.io.gfile.listdir("s3://{auth.bucket}/data")),
    "glob": attempt(lambda: tf.io.gfile.glob("s3://{auth.bucket}/data/*")),
    "stock": attempt(lambda: sum(1 for _ in tf.data.TFRecordDataset(ok))),
    "write": attempt(write),
    "exists_after": attempt(lambda: tf.io.gfile.exists("s3://{auth.bucket}/data/new.bin")),
}})
"""

    def env(secret):
        return isolated_aws_env(
            s3_log_dir, AWS_ENDPOINT_URL=auth.endpoint_url,
            AWS_ACCESS_KEY_ID=auth.key_id, AWS_SECRET_ACCESS_KEY=secret,
            AWS_REGION="us-east-1")

    reader, wrong = run_snippets([(code, env(auth.secret)),
                                  (code, env("not-the-secret"))])
    assert reader["stock"] == {"ok": True, "value": auth.record_count}
    assert reader["list"] == {"ok": True, "value": ["ok.tfrecord"]}
    assert reader["write"]["error"] == "PermissionDeniedError", reader["write"]
    assert f"s3://{auth.bucket}/data/new.bin" in reader["write"]["message"]
    assert reader["exists_after"] == {"ok": True, "value": False}

    # listdir is left out: TensorFlow's Python listdir asks isdir first,
    # which turns any error into "Could not find directory".
    for call in ("read", "stat", "glob", "stock", "write"):
        assert wrong[call]["error"] == "PermissionDeniedError", (call, wrong[call])
        assert "credentials" in wrong[call]["message"], (call, wrong[call])


_SCHEMES = """
import tensorflow as tf
print("RESULT", [tf_ffm.s3_filesystem(), "s3" in tf.io.gfile.get_registered_schemes()])
"""
_OTHER_FIRST = """
import ctypes, glob, os
import pyarrow, tensorflow as tf
# Another package's s3:// (standing in for tensorflow-io): the same plugin,
# registered before tf_ffm is imported.
for pattern in ("libarrow.so.*", "libarrow_s3.so.*"):
    ctypes.CDLL(sorted(glob.glob(os.path.join(os.path.dirname(pyarrow.__file__),
                                              pattern)))[0], mode=ctypes.RTLD_GLOBAL)
plugin = sorted(glob.glob(os.path.join(sys.argv[1], "tf_ffm", "_ffm_ops*.so")))[0]
tf.experimental.register_filesystem_plugin(plugin)
import tf_ffm
tf_ffm.FFMRecordDataset  # the ops still load
"""


def test_registration_in_fresh_processes():
    """Registered when TensorFlow is imported after tf_ffm; not with
    TF_FFM_S3_FILESYSTEM=0; left to whoever registered s3:// first, with the
    ops still loading. One interpreter per case, run side by side."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(tf_ffm.__file__)))
    cases = [("import tf_ffm" + _SCHEMES, {}),
             ("import tf_ffm" + _SCHEMES, {"TF_FFM_S3_FILESYSTEM": "0"}),
             (_OTHER_FIRST + _SCHEMES, {})]
    procs = [subprocess.Popen([sys.executable, "-c", "import sys\n" + code, root],
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **env),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for code, env in cases]
    got = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        line = [l for l in stdout.splitlines() if l.startswith("RESULT")][-1]
        got.append(eval(line[len("RESULT "):]))  # noqa: S307 - our subprocess
    assert got[0] == ["tf_ffm", True]
    assert got[1] == ["off (TF_FFM_S3_FILESYSTEM=0)", False]
    assert got[2][0].startswith("another package's") and got[2][1], got[2]
