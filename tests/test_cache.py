"""The local cache of s3:// objects (cache_dir=) against a real S3 server
(moto): a second epoch served from the cache, byte for byte the stock
reader's records; tf_ffm.stats() counters; entries flipped on disk, a changed
object, a cache that cannot hold or write anything, two processes sharing a
directory; `tf-ffm cache show/clear`.
"""
import json
import os
import random
import re
import subprocess
import sys

import pytest
import tensorflow as tf

pytest.register_assert_rewrite("s3_server")
import tf_ffm  # noqa: E402
from conftest import write_records  # noqa: E402
from s3_server import isolated_aws_env, run_snippets  # noqa: E402

pytest_plugins = ["s3_server"]

BUCKET = "ffm-cache"
MiB = 1 << 20
BLOCK = MiB  # the cache's default block size


def _records(seed, count, max_len):
    rng = random.Random(seed)
    return [b"%d:%d:" % (seed, i) + rng.randbytes(rng.randrange(max_len))
            for i in range(count)]


class Objects:
    """TFRecord files on local disk and the same bytes in the bucket."""

    def __init__(self, directory, server):
        self.server = server
        self.client = server.client()
        self.client.create_bucket(Bucket=BUCKET)
        self.local, self.uris, self.blocks = [], [], 0
        # 2.5 MiB (blocks across the prefetcher's 1 MiB first read and its
        # later runs, a short last one), a small file, an empty one.
        for name, records in (("a.tfrecord", _records(1, 160, 32 << 10)),
                              ("b.tfrecord", _records(2, 50, 4 << 10)),
                              ("empty.tfrecord", [])):
            path = os.path.join(directory, name)
            write_records(path, records)
            self.put("data/" + name, path)
            self.local.append(path)
            self.uris.append(f"s3://{BUCKET}/data/{name}")
            self.blocks += -(-os.path.getsize(path) // BLOCK)

    def put(self, key, path):
        with open(path, "rb") as f:
            self.client.put_object(Bucket=BUCKET, Key=key, Body=f.read())


@pytest.fixture(scope="module")
def objects(moto_s3, tmp_path_factory):
    return Objects(str(tmp_path_factory.mktemp("cache-objects")), moto_s3)


def stock(paths):
    return [r.numpy() for r in tf.data.TFRecordDataset(paths)]


def epoch(ds):
    return [r.numpy() for r in ds]


def delta(before):
    after = tf_ffm.stats()
    return {k: after[k] - before[k] for k in after if k.startswith("cache_")}


def entries(cache_dir):
    root = os.path.join(cache_dir, "ffm-cache-v1", "data")
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def gets(server):
    return server.requests(r'"GET /%s/data/' % BUCKET)


def test_second_epoch_comes_from_the_cache(objects, moto_s3, tmp_path):
    expected = stock(objects.local)
    assert len(expected) == 210
    ds = tf_ffm.FFMRecordDataset(objects.uris, cache_dir=str(tmp_path))
    before = tf_ffm.stats()
    assert epoch(ds) == expected
    first = delta(before)
    assert first["cache_hits"] == 0
    assert first["cache_misses"] == objects.blocks
    assert len(entries(str(tmp_path))) == objects.blocks

    before, requests = tf_ffm.stats(), gets(moto_s3)
    assert epoch(ds) == expected
    second = delta(before)
    assert second["cache_misses"] == 0
    assert second["cache_hits"] >= objects.blocks
    assert second["cache_hit_bytes"] == sum(os.path.getsize(p) for p in objects.local)
    assert second["cache_corrupt"] == second["cache_errors"] == 0
    assert gets(moto_s3) == requests  # nothing fetched again
    # Another dataset (a new process would be the same) finds it too, also
    # when reading two files at once.
    assert sorted(epoch(tf_ffm.FFMRecordDataset(
        objects.uris, num_parallel_reads=2, cache_dir=str(tmp_path)))) == sorted(expected)
    assert gets(moto_s3) == requests


def test_the_environment_variable_names_the_directory(objects, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_FFM_CACHE_DIR", str(tmp_path))
    expected = stock(objects.local)
    assert epoch(tf_ffm.FFMRecordDataset(objects.uris)) == expected
    assert len(entries(str(tmp_path))) == objects.blocks


def test_corrupt_and_truncated_entries_are_never_returned(objects, tmp_path):
    expected = stock(objects.local)
    ds = tf_ffm.FFMRecordDataset(objects.uris, cache_dir=str(tmp_path))
    assert epoch(ds) == expected
    paths = entries(str(tmp_path))
    for i, path in enumerate(paths):
        if i % 2:
            with open(path, "r+b") as f:  # one payload byte flipped
                f.seek(-7, os.SEEK_END)
                b = f.read(1)
                f.seek(-7, os.SEEK_END)
                f.write(bytes([b[0] ^ 0x01]))
        else:
            os.truncate(path, os.path.getsize(path) // 2)
    before = tf_ffm.stats()
    assert epoch(ds) == expected
    d = delta(before)
    assert d["cache_corrupt"] == len(paths)
    assert d["cache_misses"] == len(paths)
    before = tf_ffm.stats()
    assert epoch(ds) == expected  # fetched again and written whole
    assert delta(before)["cache_misses"] == 0


def test_a_changed_object_is_fetched_again(objects, tmp_path):
    v1, v2 = (str(tmp_path / n) for n in ("v1.tfrecord", "v2.tfrecord"))
    write_records(v1, [b"one-%04d" % i for i in range(3000)])
    write_records(v2, [b"two-%04d" % i for i in range(3000)])
    assert os.path.getsize(v1) == os.path.getsize(v2)  # same size, new bytes
    uri = f"s3://{BUCKET}/changing/x.tfrecord"
    cache = str(tmp_path / "cache")
    objects.put("changing/x.tfrecord", v1)
    ds = tf_ffm.FFMRecordDataset(uri, cache_dir=cache)
    assert epoch(ds) == stock(v1)
    objects.put("changing/x.tfrecord", v2)
    before = tf_ffm.stats()
    assert epoch(ds) == stock(v2)  # the next epoch opens it again
    assert delta(before)["cache_misses"] >= 1


def test_a_tiny_cache_size_evicts_and_still_reads_everything(objects, tmp_path):
    expected = stock(objects.local)
    cap = 2 * BLOCK + BLOCK // 2
    ds = tf_ffm.FFMRecordDataset(objects.uris, cache_dir=str(tmp_path), cache_size=cap)
    before = tf_ffm.stats()
    assert epoch(ds) == expected
    assert epoch(ds) == expected
    assert delta(before)["cache_evictions"] >= 1
    assert sum(os.path.getsize(p) for p in entries(str(tmp_path))) <= cap
    # Smaller than one block: nothing is ever written, nothing fails.
    assert epoch(tf_ffm.FFMRecordDataset(
        objects.uris, cache_dir=str(tmp_path / "none"), cache_size=1000)) == expected
    assert entries(str(tmp_path / "none")) == []


def test_a_cache_that_cannot_be_written_never_fails_a_read(objects, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    before = tf_ffm.stats()
    assert epoch(tf_ffm.FFMRecordDataset(
        objects.uris, cache_dir=str(blocker / "cache"))) == stock(objects.local)
    d = delta(before)
    assert d["cache_errors"] == objects.blocks
    assert d["cache_hits"] == 0


def test_two_processes_share_one_directory(objects, moto_s3, s3_log_dir, tmp_path):
    cache = str(tmp_path)
    env = isolated_aws_env(s3_log_dir, AWS_ENDPOINT_URL=moto_s3.endpoint_url,
                           AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s",
                           AWS_REGION="us-east-1", TF_FFM_CACHE_DIR=cache)
    code = (f"got = records({objects.uris!r})\n"
            "s = tf_ffm.stats()\n"
            "emit({'records': got, 'misses': s['cache_misses'], 'hits': s['cache_hits']})\n")
    results = run_snippets([(code, env), (code, env)], threads=2)
    expected = [r.hex() for r in stock(objects.local)]
    for r in results:
        assert r["records"] == expected
    # Each block fetched by one of them; the other read it from the cache.
    assert sum(r["misses"] for r in results) == objects.blocks
    assert len(entries(cache)) == objects.blocks


def tf_ffm_cmd(*args):
    return subprocess.run([sys.executable, "-m", "tf_ffm", *args], capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


def test_cache_cli_shows_and_clears(objects, tmp_path):
    cache = str(tmp_path / "c")
    assert epoch(tf_ffm.FFMRecordDataset(objects.uris, cache_dir=cache)) \
        == stock(objects.local)
    (tmp_path / "c" / "mine.txt").write_text("kept")
    done = tf_ffm_cmd("cache", "show", cache, "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["entries"] == objects.blocks
    assert shown["bytes"] > sum(os.path.getsize(p) for p in objects.local)
    done = tf_ffm_cmd("cache", "clear", cache)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"cleared .*: [0-9.]+ MiB freed\n", done.stdout)
    assert entries(cache) == []
    assert (tmp_path / "c" / "mine.txt").read_text() == "kept"
    assert tf_ffm_cmd("cache", "show", cache).stdout == f"{cache}: 0 blocks, 0.0 MiB\n"
    missing = str(tmp_path / "missing")
    done = tf_ffm_cmd("cache", "show", missing)
    assert done.returncode == 1
    assert re.fullmatch(r"tf-ffm cache: NotFoundError: .*missing: no such cache "
                        r"directory \(--debug for the traceback\)\n", done.stderr)


def test_options_reach_the_ops(tmp_path):
    assert tf_ffm.S3Options(region="r", cache_dir="/c", cache_size=5).to_attr() \
        == "s3.region=r;cache.dir=/c;cache.size=5"
    with pytest.raises(ValueError, match="cache_size"):
        tf_ffm.FFMRecordDataset("s3://b/k", cache_dir=str(tmp_path), cache_size=-1)
    with pytest.raises(ValueError, match="may not contain ';'"):
        tf_ffm.FFMRecordDataset("s3://b/k", cache_dir="/a;b")
