"""s3:// failures against a real S3 server (moto): the TF error class a caller
can act on, and a message naming the s3:// URI (and the byte offset where
bytes are wrong), never a secret."""
import os

import pytest
import tensorflow as tf

pytest.register_assert_rewrite("s3_server")
import tf_ffm  # noqa: E402
from s3_server import (isolated_aws_env, free_port, run_snippet,  # noqa: E402
                       run_snippets)

pytest_plugins = ["s3_server"]

BUCKET = "ffm-errors"
RECORDS = [b"record-%d-" % i + bytes(100 * i) for i in range(50)]


def _tfrecord_bytes(tmp_dir, records, compression=""):
    path = os.path.join(tmp_dir, "tmp.tfrecord")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(
            compression_type=compression)) as w:
        for r in records:
            w.write(r)
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def bucket(moto_s3, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("s3-errors"))
    good = _tfrecord_bytes(tmp, RECORDS)
    gz = _tfrecord_bytes(tmp, RECORDS, "GZIP")
    # Flip one byte inside the 11th record's data: its data CRC no longer
    # matches.
    offset_11 = sum(16 + len(r) for r in RECORDS[:10])
    corrupt = bytearray(good)
    corrupt[offset_11 + 12 + 3] ^= 0xFF
    objects = {
        "good.tfrecord": good,
        "text.txt": b"this is a plain text file, not a TFRecord file\n" * 20,
        "good.tfrecord.gz": gz,
        # cut in the middle of the 21st record
        "truncated.tfrecord": good[:sum(16 + len(r) for r in RECORDS[:20]) + 30],
        "corrupt.tfrecord": bytes(corrupt),
    }
    s3 = moto_s3.client()
    s3.create_bucket(Bucket=BUCKET)
    for key, body in objects.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return {"truncated_at": sum(16 + len(r) for r in RECORDS[:20]),
            "corrupt_at": offset_11}


def uri(key):
    return f"s3://{BUCKET}/{key}"


def read_all(uris, **kwargs):
    return [r.numpy() for r in tf_ffm.FFMRecordDataset(uris, **kwargs)]


def read_until_error(uris, **kwargs):
    out = []
    with pytest.raises(tf.errors.OpError) as info:
        for r in tf_ffm.FFMRecordDataset(uris, **kwargs):
            out.append(r.numpy())
    return out, info.value


def test_control_the_good_object_reads(bucket):
    assert read_all(uri("good.tfrecord")) == RECORDS


def test_missing_key_is_not_found(bucket):
    with pytest.raises(tf.errors.NotFoundError) as info:
        read_all(uri("no/such/key.tfrecord"))
    assert uri("no/such/key.tfrecord") in info.value.message


def test_missing_key_after_good_files_fails_at_that_file(bucket):
    got, error = read_until_error([uri("good.tfrecord"), uri("missing.tfrecord")])
    assert got == RECORDS
    assert isinstance(error, tf.errors.NotFoundError)
    assert uri("missing.tfrecord") in error.message


def test_missing_bucket_is_not_found(bucket):
    missing = "s3://ffm-no-such-bucket/data/a.tfrecord"
    with pytest.raises(tf.errors.NotFoundError) as info:
        read_all(missing)
    assert missing in info.value.message


@pytest.mark.parametrize("key,compression", [
    ("text.txt", None),
    ("good.tfrecord.gz", None),  # GZIP bytes read as uncompressed
])
def test_not_a_tfrecord_is_data_loss_at_offset_0_with_hint(bucket, key, compression):
    with pytest.raises(tf.errors.DataLossError) as info:
        read_all(uri(key), compression_type=compression)
    message = info.value.message
    assert uri(key) in message
    assert "offset 0" in message
    assert "compression_type" in message


def test_uncompressed_object_read_as_gzip_is_data_loss(bucket):
    with pytest.raises(tf.errors.DataLossError) as info:
        read_all(uri("good.tfrecord"), compression_type="GZIP")
    assert uri("good.tfrecord") in info.value.message


@pytest.mark.parametrize("chunks", [{}, dict(chunk_size=1024, first_chunk_size=256)])
def test_truncated_object_is_data_loss_after_the_whole_records(bucket, chunks):
    got, error = read_until_error(uri("truncated.tfrecord"), **chunks)
    assert got == RECORDS[:20]
    assert isinstance(error, tf.errors.DataLossError)
    assert uri("truncated.tfrecord") in error.message
    assert str(bucket["truncated_at"]) in error.message


def test_corrupt_record_is_data_loss_naming_its_offset(bucket):
    got, error = read_until_error(uri("corrupt.tfrecord"))
    assert got == RECORDS[:10]
    assert isinstance(error, tf.errors.DataLossError)
    assert uri("corrupt.tfrecord") in error.message
    assert str(bucket["corrupt_at"]) in error.message
    # without CRC checks the flipped byte is delivered as data
    assert len(read_all(uri("corrupt.tfrecord"), verify_crc=False)) == len(RECORDS)


@pytest.mark.parametrize("bad", [
    "s3://Bad_Bucket/x",
    "s3://bucket/",       # no key
    "s3://bucket",        # no key
    "s3://ab/x",          # bucket name too short
    "s3:///x",            # no bucket
    "s3://bucket/dir/",   # a prefix, not an object
])
def test_invalid_uri_is_invalid_argument(moto_s3, bad):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        read_all(bad)
    assert f"'{bad}'" in info.value.message


def test_invalid_bucket_in_glob_is_invalid_argument(moto_s3):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        tf_ffm.glob("s3://Bad_Bucket/data/*.tfrecord")
    assert "Bad_Bucket" in info.value.message


def test_every_s3_options_field_is_a_key_the_engine_accepts(bucket, tmp_path):
    """tf_ffm.S3Options and S3Config::Apply (CacheConfig for the cache_*
    fields) stay in sync: every field, set, reaches the engine as a known key
    (an unknown one is InvalidArgument)."""
    import dataclasses
    given = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region="us-east-1",
                 anonymous=False, ca_file="/nonexistent-unused-over-http.pem",
                 verify_tls=True, max_attempts=3, connect_timeout=5.0,
                 request_timeout=10.0, read_deadline=20.0,
                 cache_dir=str(tmp_path), cache_size=1 << 30)
    assert {f.name for f in dataclasses.fields(tf_ffm.S3Options)} == set(given)
    s3 = tf_ffm.S3Options(**given)
    assert read_all(uri("good.tfrecord"), s3=s3) == RECORDS
    assert tf_ffm.glob(f"s3://{BUCKET}/good.tfrecord", s3=s3) == [uri("good.tfrecord")]


@pytest.mark.parametrize("options,mentions", [
    (dict(endpoint_url="ftp://127.0.0.1:1"), "ftp://127.0.0.1:1"),
    (dict(endpoint_url="http://127.0.0.1:1/path"), "http://127.0.0.1:1/path"),
    (dict(max_attempts=0), "max_attempts"),
    (dict(request_timeout=-1.0), "request_timeout"),
    (dict(read_deadline=0.0), "read_deadline"),
])
def test_invalid_s3_options_are_invalid_argument(bucket, options, mentions):
    s3 = tf_ffm.S3Options(**options)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        read_all(uri("good.tfrecord"), s3=s3)
    assert mentions in info.value.message
    assert uri("good.tfrecord") in info.value.message
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        tf_ffm.glob(f"s3://{BUCKET}/*.tfrecord", s3=s3)
    assert mentions in info.value.message


def test_s3_options_reject_separator_in_values():
    with pytest.raises(ValueError, match="region"):
        tf_ffm.FFMRecordDataset(uri("x"), s3=tf_ffm.S3Options(region="a;b"))
    with pytest.raises(TypeError, match="S3Options"):
        tf_ffm.FFMRecordDataset(uri("x"), s3={"endpoint_url": "http://x"})


def test_unreachable_endpoint_is_unavailable(bucket):
    """Nothing listens on the port: the SDK's retries are exhausted quickly
    (max_attempts=2) and the error is the retryable class, naming the URI."""
    s3 = tf_ffm.S3Options(endpoint_url=f"http://127.0.0.1:{free_port()}",
                          max_attempts=2, connect_timeout=2)
    with pytest.raises(tf.errors.UnavailableError) as info:
        read_all(uri("good.tfrecord"), s3=s3)
    assert uri("good.tfrecord") in info.value.message
    with pytest.raises(tf.errors.UnavailableError):
        tf_ffm.glob(f"s3://{BUCKET}/*.tfrecord", s3=s3)


def test_malformed_endpoint_environment_is_invalid_argument(moto_s3, s3_log_dir):
    """AWS_ENDPOINT_URL is read when the op is built; a malformed value fails
    every s3:// read and listing with InvalidArgument (fresh process: the
    environment and the client cache are per process)."""
    env = isolated_aws_env(s3_log_dir, AWS_ACCESS_KEY_ID="k",
                           AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1",
                           AWS_ENDPOINT_URL="ftp://x")
    result = run_snippet(f"""
results = {{}}
for value in ["ftp://x", "http://127.0.0.1:1/some/path", "127.0.0.1:1"]:
    os.environ["AWS_ENDPOINT_URL"] = value
    results[value] = [attempt(lambda: count("{uri('good.tfrecord')}")),
                      attempt(lambda: tf_ffm.glob("s3://{BUCKET}/*.tfrecord"))]
os.environ["AWS_ENDPOINT_URL"] = {moto_s3.endpoint_url!r}
os.environ["AWS_MAX_ATTEMPTS"] = "0"
results["AWS_MAX_ATTEMPTS=0"] = [attempt(lambda: count("{uri('good.tfrecord')}"))]
del os.environ["AWS_MAX_ATTEMPTS"]
results["fixed"] = [attempt(lambda: count("{uri('good.tfrecord')}"))]
emit(results)
""", env)
    for value in ["ftp://x", "http://127.0.0.1:1/some/path", "127.0.0.1:1"]:
        read, listing = result[value]
        assert read["error"] == "InvalidArgumentError", result
        assert f"'{value}'" in read["message"]
        assert uri("good.tfrecord") in read["message"]
        assert listing["error"] == "InvalidArgumentError", result
        assert f"'{value}'" in listing["message"]
    [read] = result["AWS_MAX_ATTEMPTS=0"]
    assert read["error"] == "InvalidArgumentError", result
    assert "AWS_MAX_ATTEMPTS" in read["message"]
    # the environment is read again for each new dataset
    assert result["fixed"] == [{"ok": True, "value": len(RECORDS)}]


# --- a server that checks signatures and IAM policies -----------------------

_AUTH_SNIPPET = """
emit({{"read": attempt(lambda: records("s3://{bucket}/{readable}")),
      "denied": attempt(lambda: count("s3://{bucket}/{denied}")),
      "glob": attempt(lambda: tf_ffm.glob("s3://{bucket}/data/*.tfrecord"))}})
"""


@pytest.fixture(scope="module")
def auth_results(moto_s3_auth, s3_log_dir):
    """One fresh process per set of credentials (the client, and the
    credentials it resolved, are cached per process): the IAM user's key,
    that key with a wrong secret, and a key id the server does not know."""
    a = moto_s3_auth
    code = _AUTH_SNIPPET.format(bucket=a.bucket, readable=a.readable_key,
                                denied=a.denied_key)

    def env(key_id, secret):
        return isolated_aws_env(s3_log_dir, AWS_ENDPOINT_URL=a.endpoint_url,
                                AWS_REGION="us-east-1",
                                AWS_ACCESS_KEY_ID=key_id,
                                AWS_SECRET_ACCESS_KEY=secret)

    wrong_secret = "Wr0ngSecretWr0ngSecretWr0ngSecret0000000"
    unknown_secret = "UnknownKeysSecretUnknownKeysSecret00000"
    good, bad_secret, unknown = run_snippets([
        (code, env(a.key_id, a.secret)),
        (code, env(a.key_id, wrong_secret)),
        (code, env("AKIAIOSFODNN7UNKNOWN", unknown_secret)),
    ])
    return {"good": good, "bad_secret": bad_secret, "unknown": unknown,
            "secrets": {"good": a.secret, "bad_secret": wrong_secret,
                        "unknown": unknown_secret}}


def test_auth_control_valid_key_reads(auth_results, moto_s3_auth):
    """The same requests succeed with the IAM user's key, so the failures
    below are the credentials' doing."""
    read = auth_results["good"]["read"]
    assert read["ok"], read
    assert len(read["value"]) == moto_s3_auth.record_count
    assert auth_results["good"]["glob"] == {
        "ok": True, "value": [f"s3://{moto_s3_auth.bucket}/{moto_s3_auth.readable_key}"]}


@pytest.mark.parametrize("case", ["bad_secret", "unknown"])
def test_bad_credentials_are_rejected_without_leaking_the_secret(
        auth_results, moto_s3_auth, case):
    result = auth_results[case]
    secret = auth_results["secrets"][case]
    read_uri = f"s3://{moto_s3_auth.bucket}/{moto_s3_auth.readable_key}"
    read = result["read"]
    # A HEAD answer has no body to tell a bad signature from a denial, so
    # every call raises the one documented class, PermissionDeniedError, and
    # the message says what to check.
    assert read["error"] == "PermissionDeniedError", read
    assert read_uri in read["message"]
    assert "credentials" in read["message"] or "AWS_ACCESS_KEY_ID" in read["message"]
    # A listing's error body names the cause (a bad signature or key id):
    # the same class, with the server's reason in the message.
    listing = result["glob"]
    assert listing["error"] == "PermissionDeniedError", listing
    assert f"s3://{moto_s3_auth.bucket}/data" in listing["message"]
    assert "AWS_SECRET_ACCESS_KEY" in listing["message"]
    for outcome in result.values():
        assert secret not in outcome["message"]
        assert auth_results["secrets"]["good"] not in outcome["message"]


def test_access_denied_by_policy_is_permission_denied(auth_results, moto_s3_auth):
    denied = auth_results["good"]["denied"]
    assert denied["error"] == "PermissionDeniedError", denied
    assert f"s3://{moto_s3_auth.bucket}/{moto_s3_auth.denied_key}" in denied["message"]
    assert auth_results["secrets"]["good"] not in denied["message"]


def test_auth_server_rejects_unsigned_setup_clients(moto_s3_auth):
    """The server really enforces authentication: the dummy set-up key, which
    worked before enforcement, is now refused."""
    import botocore.exceptions
    with pytest.raises(botocore.exceptions.ClientError) as info:
        moto_s3_auth.server.client().head_object(
            Bucket=moto_s3_auth.bucket, Key=moto_s3_auth.readable_key)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
