"""The s3:// filesystem against SeaweedFS, which verifies every request's
SigV4 signature (moto does not): multipart uploads, ranged reads, listings,
copies and deletes are all signed correctly; a read-only identity's write
and a wrong secret fail with PermissionDeniedError naming the URI.

Each case runs in a fresh interpreter with exactly its credentials, since
the AWS SDK reads them once per client.
"""
import pytest

pytest.register_assert_rewrite("s3_server", "seaweedfs_server")
from s3_server import isolated_aws_env, run_snippets  # noqa: E402
from seaweedfs_server import (ADMIN_KEY, ADMIN_SECRET, READER_KEY,  # noqa: E402
                              READER_SECRET, REGION)

pytest_plugins = ["seaweedfs_server"]

BUCKET = "ffm-fs-weed"
PART = 10 << 20  # ffm::kS3UploadPartSize

_ADMIN = f"""
import random
data = random.Random(1).randbytes({2 * PART + 11})
records = [b"r%d" % i * (i % 300) for i in range(2000)]
root = "s3://{BUCKET}/fs"
with tf.io.gfile.GFile(root + "/big.bin", "wb") as f:
    f.write(data)
with tf.io.TFRecordWriter(root + "/recs/a.tfrecord") as w:
    for r in records:
        w.write(r)
tf.io.gfile.copy(root + "/big.bin", root + "/copy.bin")
tf.io.gfile.rename(root + "/copy.bin", root + "/moved.bin")
with tf.io.gfile.GFile(root + "/big.bin", "rb") as f:
    f.seek({PART} - 3)
    middle = f.read(10)
result = {{
    "big": tf.io.gfile.GFile(root + "/big.bin", "rb").read() == data,
    "moved": tf.io.gfile.GFile(root + "/moved.bin", "rb").read() == data,
    "middle": middle == data[{PART} - 3:{PART} + 7],
    "records": [r.numpy() for r in tf.data.TFRecordDataset(root + "/recs/a.tfrecord")] == records,
    "list": sorted(tf.io.gfile.listdir(root)),
    "glob": tf.io.gfile.glob(root + "/*/*.tfrecord"),
}}
tf.io.gfile.rmtree(root)
result["after_rmtree"] = tf.io.gfile.exists(root)
emit(result)
"""

_LIMITED = f"""
def write():
    with tf.io.gfile.GFile("s3://{BUCKET}/denied.bin", "wb") as f:
        f.write(b"x" * 1000)
emit({{
    "write": attempt(write),
    "glob": attempt(lambda: tf.io.gfile.glob("s3://{BUCKET}/seed*")),
    "read": attempt(lambda: tf.io.gfile.GFile("s3://{BUCKET}/seed.txt", "rb").read().decode()),
}})
"""


def test_signed_requests_and_denials(seaweedfs, tmp_path):
    seaweedfs.client().create_bucket(Bucket=BUCKET)
    seaweedfs.client().put_object(Bucket=BUCKET, Key="seed.txt", Body=b"seed")

    def env(key, secret):
        return isolated_aws_env(str(tmp_path), AWS_ENDPOINT_URL=seaweedfs.endpoint_url,
                                AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret,
                                AWS_REGION=REGION)

    admin, reader, wrong = run_snippets([
        (_ADMIN, env(ADMIN_KEY, ADMIN_SECRET)),
        (_LIMITED, env(READER_KEY, READER_SECRET)),
        (_LIMITED, env(ADMIN_KEY, "not-the-secret")),
    ], threads=3)

    assert admin == {
        "big": True, "moved": True, "middle": True, "records": True,
        "list": ["big.bin", "moved.bin", "recs"],
        "glob": [f"s3://{BUCKET}/fs/recs/a.tfrecord"],
        "after_rmtree": False}

    assert reader["read"] == {"ok": True, "value": "seed"}
    assert reader["write"]["error"] == "PermissionDeniedError", reader
    assert f"s3://{BUCKET}/denied.bin" in reader["write"]["message"]
    assert reader["glob"] == {"ok": True, "value": [f"s3://{BUCKET}/seed.txt"]}

    for call in ("write", "glob", "read"):
        assert wrong[call]["error"] == "PermissionDeniedError", (call, wrong[call])
        assert "credentials" in wrong[call]["message"], (call, wrong[call])
