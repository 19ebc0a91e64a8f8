"""s3:// reads against a real S3 server (moto) give the stock reader's records.

Every expectation comes from tf.data.TFRecordDataset reading the same bytes
from local files.
"""
import collections
import os
import random
import re

import pytest
import tensorflow as tf

pytest.register_assert_rewrite("s3_server")
import tf_ffm  # noqa: E402
from conftest import write_records  # noqa: E402
from s3_server import isolated_aws_env, run_snippet  # noqa: E402

pytest_plugins = ["s3_server"]

BUCKET = "ffm-read"
KiB = 1 << 10
SMALL_CHUNK = 64 * KiB


def _records(seed, count, max_len):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        n = rng.choice([0, 1, rng.randrange(max_len), rng.randrange(max_len)])
        out.append(b"%d:%d:" % (seed, i) + rng.randbytes(n))
    return out


class Data:
    """Local files and the same bytes as s3:// objects."""

    def __init__(self, local_dir, server):
        self.local = {}
        self.s3 = {}
        self.sizes = {}
        specs = {
            # name: (records, compression)
            "a.tfrecord": (_records(1, 150, 24 * KiB), None),
            "b.tfrecord": (_records(2, 40, 96 * KiB), None),
            # records larger than a 64 KiB chunk and a 1 MiB first read
            "big.tfrecord": ([os.urandom(300 * KiB), b"",
                              os.urandom(1100 * KiB), b"tail"], None),
            "c.tfrecord": (_records(3, 300, 4 * KiB), None),
            "empty.tfrecord": ([], None),
            "a.tfrecord.gz": (_records(4, 200, 24 * KiB), "GZIP"),
            "b.tfrecord.gz": (_records(5, 60, 64 * KiB), "GZIP"),
        }
        client = server.client()
        client.create_bucket(Bucket=BUCKET)
        for name, (records, compression) in specs.items():
            path = os.path.join(local_dir, name)
            write_records(path, records, compression or "")
            with open(path, "rb") as f:
                body = f.read()
            client.put_object(Bucket=BUCKET, Key="data/" + name, Body=body)
            self.local[name] = path
            self.s3[name] = f"s3://{BUCKET}/data/{name}"
            self.sizes[name] = len(body)
        assert self.sizes["empty.tfrecord"] == 0

    def names(self, *names):
        return [self.local[n] for n in names], [self.s3[n] for n in names]


@pytest.fixture(scope="module")
def data(moto_s3, tmp_path_factory):
    return Data(str(tmp_path_factory.mktemp("s3-read")), moto_s3)


PLAIN = ("a.tfrecord", "b.tfrecord", "big.tfrecord", "empty.tfrecord",
         "c.tfrecord")
GZIP = ("a.tfrecord.gz", "b.tfrecord.gz")


def stock(paths, **kwargs):
    return [r.numpy() for r in tf.data.TFRecordDataset(paths, **kwargs)]


def ffm(uris, **kwargs):
    return [r.numpy() for r in tf_ffm.FFMRecordDataset(uris, **kwargs)]


SMALL = dict(chunk_size=SMALL_CHUNK, first_chunk_size=SMALL_CHUNK)


@pytest.mark.parametrize("chunks", [{}, SMALL], ids=["default_chunks", "64KiB_chunks"])
@pytest.mark.parametrize("num_parallel_reads", [None, 1, 2])
def test_same_records_in_same_order_as_stock(data, num_parallel_reads, chunks):
    local, uris = data.names(*PLAIN)
    expected = stock(local, num_parallel_reads=num_parallel_reads)
    assert len(expected) == 150 + 40 + 4 + 300
    assert ffm(uris, num_parallel_reads=num_parallel_reads, **chunks) == expected


@pytest.mark.parametrize("chunks", [{}, SMALL], ids=["default_chunks", "64KiB_chunks"])
def test_autotune_gives_the_same_multiset(data, chunks):
    local, uris = data.names(*PLAIN)
    expected = stock(local, num_parallel_reads=tf.data.AUTOTUNE)
    got = ffm(uris, num_parallel_reads=tf.data.AUTOTUNE, **chunks)
    assert collections.Counter(got) == collections.Counter(expected)


@pytest.mark.parametrize("chunks", [{}, SMALL], ids=["default_chunks", "64KiB_chunks"])
@pytest.mark.parametrize("num_parallel_reads", [None, 2])
def test_gzip_matches_stock(data, num_parallel_reads, chunks):
    local, uris = data.names(*GZIP)
    expected = stock(local, compression_type="GZIP",
                     num_parallel_reads=num_parallel_reads)
    assert len(expected) == 260
    got = ffm(uris, compression_type="GZIP",
              num_parallel_reads=num_parallel_reads, **chunks)
    assert got == expected


def test_filenames_as_a_dataset_match_stock(data):
    local, uris = data.names(*PLAIN)
    expected = stock(tf.data.Dataset.from_tensor_slices(local),
                     num_parallel_reads=2)
    got = ffm(tf.data.Dataset.from_tensor_slices(uris), num_parallel_reads=2,
              **SMALL)
    assert got == expected


def test_zero_byte_object_gives_no_records(data):
    assert ffm(data.s3["empty.tfrecord"]) == []
    assert ffm([data.s3["empty.tfrecord"]] * 3, num_parallel_reads=2) == []


def test_small_chunks_are_ranged_gets(data, moto_s3):
    """A 64 KiB chunk size really reads the object as many ranged GETs
    (answered 206 by the server), not one whole-object request."""
    key = "data/b.tfrecord"
    ranged = r'"GET /%s/%s HTTP/1\.1" 206 ' % (BUCKET, re.escape(key))
    before = moto_s3.requests(ranged)
    got = ffm(data.s3["b.tfrecord"], **SMALL)
    assert got == stock(data.local["b.tfrecord"])
    size = data.sizes["b.tfrecord"]
    assert size > 10 * SMALL_CHUNK
    assert moto_s3.requests(ranged) - before >= size // SMALL_CHUNK


@pytest.mark.parametrize("skip", [1, 75, 150, 170, 300])
def test_checkpoint_restore_mid_file(data, tmp_path, skip):
    """Restoring a checkpoint taken after `skip` records (mid-file, at a file
    boundary, across files) gives exactly the records after it."""
    local, uris = data.names("a.tfrecord", "b.tfrecord", "c.tfrecord")
    expected = stock(local)

    def make():
        return tf_ffm.FFMRecordDataset(uris, **SMALL)

    it = iter(make())
    head = [next(it).numpy() for _ in range(skip)]
    assert head == expected[:skip]
    ckpt = tf.train.Checkpoint(iterator=it)
    path = ckpt.write(str(tmp_path / "ckpt"))
    rest = [r.numpy() for r in it]
    assert rest == expected[skip:]

    # into the same iterator, after it was exhausted
    ckpt.read(path).assert_consumed()
    assert [r.numpy() for r in it] == expected[skip:]

    # into a fresh iterator of a fresh dataset
    fresh = iter(make())
    tf.train.Checkpoint(iterator=fresh).read(path).assert_consumed()
    assert [r.numpy() for r in fresh] == expected[skip:]


def test_checkpoint_restore_with_parallel_reads(data, tmp_path):
    local, uris = data.names("a.tfrecord", "big.tfrecord", "c.tfrecord")
    expected = stock(local, num_parallel_reads=2)
    it = iter(tf_ffm.FFMRecordDataset(uris, num_parallel_reads=2, **SMALL))
    head = [next(it).numpy() for _ in range(101)]
    assert head == expected[:101]
    path = tf.train.Checkpoint(iterator=it).write(str(tmp_path / "ckpt"))
    fresh = iter(tf_ffm.FFMRecordDataset(uris, num_parallel_reads=2, **SMALL))
    tf.train.Checkpoint(iterator=fresh).read(path).assert_consumed()
    assert [r.numpy() for r in fresh] == expected[101:]


def test_explicit_endpoint_without_environment(data, moto_s3, s3_log_dir):
    """S3Options(endpoint_url=...) alone reaches the server: no
    AWS_ENDPOINT_URL in the environment, in a fresh process (one client per
    configuration and process)."""
    local, uris = data.names("a.tfrecord", "big.tfrecord")
    env = isolated_aws_env(s3_log_dir, AWS_ACCESS_KEY_ID="k",
                           AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1")
    result = run_snippet(f"""
opts = tf_ffm.S3Options(endpoint_url={moto_s3.endpoint_url!r})
assert "AWS_ENDPOINT_URL" not in os.environ
emit({{"records": attempt(lambda: records({uris!r}, num_parallel_reads=2, s3=opts)),
      "glob": attempt(lambda: tf_ffm.glob("s3://{BUCKET}/data/*.gz", s3=opts))}})
""", env)
    assert result["records"]["ok"], result
    assert result["records"]["value"] == [
        r.hex() for r in stock(local, num_parallel_reads=2)]
    assert result["glob"] == {"ok": True, "value": [
        data.s3["a.tfrecord.gz"], data.s3["b.tfrecord.gz"]]}
