"""s3:// against SeaweedFS: a real S3 server that checks SigV4 signatures.

Reads equal a local read; credentials are checked (wrong secret, unknown key,
a read-only identity writing an index) and give one documented error class,
tf.errors.PermissionDeniedError, on every call; and the server failing
mid-read gives the outcome the README promises: paused → a stall then every
record; killed → an error within a bound (fail fast, not a performance
number); killed and restarted → every record.

Each read runs in a fresh interpreter (run_snippet or a Popen of the same
prelude) with exactly the environment the case needs, since tf_ffm keeps one
S3 client per configuration for the life of a process.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

pytest.register_assert_rewrite("s3_server", "seaweedfs_server")
from s3_server import (_SNIPPET_PRELUDE, isolated_aws_env,  # noqa: E402
                       run_snippet)
from seaweedfs_server import (ADMIN_KEY, ADMIN_SECRET, READER_KEY,  # noqa: E402
                              READER_SECRET, REGION)

pytest_plugins = ["seaweedfs_server"]

BUCKET = "ffm-weed"
KEY = "data/big.tfrecord"
# ~10 KiB records, ~6 MiB: a read that is still running when the server is
# stopped (small chunks and budget, and a consumer that takes ~2 ms a record).
RECORDS = [(b"%06d" % i) * (1700 + i % 13) for i in range(600)]
SMALL = [b"small-%d" % i for i in range(20)]


def _digest(records):
    h = hashlib.sha256()
    for r in records:
        h.update(len(r).to_bytes(8, "little"))
        h.update(r)
    return h.hexdigest()


def _tfrecord(tmp, name, records):
    path = os.path.join(tmp, name)
    with tf.io.TFRecordWriter(path) as w:
        for r in records:
            w.write(r)
    return path


@pytest.fixture(scope="module")
def weed_data(seaweedfs, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("weed-data"))
    big = _tfrecord(tmp, "big.tfrecord", RECORDS)
    small = _tfrecord(tmp, "small.tfrecord", SMALL)
    s3 = seaweedfs.client()
    s3.create_bucket(Bucket=BUCKET)
    with open(big, "rb") as f:
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=f.read())
    with open(small, "rb") as f:
        s3.put_object(Bucket=BUCKET, Key="data/small.tfrecord", Body=f.read())
    seaweedfs.local_big = big
    seaweedfs.config_dir = tmp
    return seaweedfs


@pytest.fixture
def weed(weed_data):
    """The module's server, running: a test that killed it leaves it dead
    (restarting costs ~20 s), and the next test that needs it restarts it."""
    if weed_data.proc.poll() is not None:
        weed_data.start()
    return weed_data


def _env(server, key=ADMIN_KEY, secret=ADMIN_SECRET, **extra):
    return isolated_aws_env(
        server.config_dir, AWS_ENDPOINT_URL=server.endpoint_url,
        AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret,
        AWS_REGION=REGION, **extra)


def test_records_equal_a_local_read(weed):
    local = [r.numpy() for r in tf.data.TFRecordDataset(weed.local_big)]
    assert local == RECORDS
    got = run_snippet(f"""
import hashlib
h = hashlib.sha256(); n = 0
for r in tf_ffm.FFMRecordDataset({f"s3://{BUCKET}/{KEY}"!r}, num_parallel_reads=2):
    b = r.numpy(); h.update(len(b).to_bytes(8, "little")); h.update(b); n += 1
emit({{"n": n, "digest": h.hexdigest(),
       "glob": tf_ffm.glob("s3://{BUCKET}/data/*.tfrecord")}})
""", _env(weed))
    assert got["n"] == len(RECORDS)
    assert got["digest"] == _digest(RECORDS)
    assert got["glob"] == [f"s3://{BUCKET}/{KEY}", f"s3://{BUCKET}/data/small.tfrecord"]


_EVERY_CALL = f"""
uri = "s3://{BUCKET}/data/small.tfrecord"
emit({{
    "read": attempt(lambda: count(uri)),
    "glob": attempt(lambda: tf_ffm.glob("s3://{BUCKET}/data/*")),
    "index_load": attempt(lambda: len(tf_ffm.RecordIndex.load(
        "s3://{BUCKET}/data/small.index"))),
}})
"""


@pytest.fixture(scope="module")
def saved_index(weed_data):
    weed = weed_data
    got = run_snippet(f"""
index = tf_ffm.RecordIndex.build(["s3://{BUCKET}/data/small.tfrecord"], progress=False)
index.save("s3://{BUCKET}/data/small.index")
emit(len(tf_ffm.RecordIndex.load("s3://{BUCKET}/data/small.index")))
""", _env(weed))
    assert got == len(SMALL)


@pytest.mark.parametrize("key,secret", [
    (ADMIN_KEY, "not-the-secret"),       # SignatureDoesNotMatch
    ("NO-SUCH-KEY-ID", ADMIN_SECRET),    # InvalidAccessKeyId
], ids=["wrong-secret", "unknown-key"])
def test_bad_credentials_are_permission_denied_on_every_call(
        weed, saved_index, key, secret):
    got = run_snippet(_EVERY_CALL, _env(weed, key, secret))
    for call, outcome in got.items():
        assert not outcome["ok"], (call, outcome)
        assert outcome["error"] == "PermissionDeniedError", (call, outcome)
        assert "credentials" in outcome["message"], (call, outcome)
        assert secret not in outcome["message"], call
    assert f"s3://{BUCKET}/data/small.tfrecord" in got["read"]["message"]


def test_good_credentials_control(weed, saved_index):
    got = run_snippet(_EVERY_CALL, _env(weed, READER_KEY, READER_SECRET))
    assert got["read"] == {"ok": True, "value": len(SMALL)}
    assert got["index_load"] == {"ok": True, "value": len(SMALL)}
    assert got["glob"]["ok"]


def test_read_only_identity_writing_an_index_is_permission_denied(weed):
    got = run_snippet(f"""
index = tf_ffm.RecordIndex.build(["s3://{BUCKET}/data/small.tfrecord"], progress=False)
emit(attempt(lambda: index.save("s3://{BUCKET}/data/readonly.index")))
""", _env(weed, READER_KEY, READER_SECRET))
    assert not got["ok"]
    assert got["error"] == "PermissionDeniedError", got
    assert f"s3://{BUCKET}/data/readonly.index" in got["message"]


def test_missing_bucket_is_not_found_naming_it(weed):
    got = run_snippet("""
emit({"read": attempt(lambda: count("s3://ffm-no-such-bucket/a.tfrecord")),
      "glob": attempt(lambda: tf_ffm.glob("s3://ffm-no-such-bucket/*")),
      "empty_prefix": attempt(lambda: tf_ffm.glob("s3://%s/nothing-here/*"))})
""" % BUCKET, _env(weed))
    for call in ("read", "glob"):
        assert got[call]["error"] == "NotFoundError", got
        assert "ffm-no-such-bucket" in got[call]["message"], got
        assert "does not exist" in got[call]["message"], got
    assert got["empty_prefix"] == {"ok": True, "value": []}


# --- the server failing mid-read -----------------------------------------

_SLOW_READ = f"""
import hashlib, time
h = hashlib.sha256(); n = 0
opts = tf_ffm.S3Options(**json.loads(os.environ["FFM_TEST_S3"]))
ds = tf_ffm.FFMRecordDataset("s3://{BUCKET}/{KEY}", chunk_size=64 << 10,
                             first_chunk_size=64 << 10,
                             memory_budget=256 << 10, s3=opts)
def consume():
    global n
    for r in ds:
        b = r.numpy(); h.update(len(b).to_bytes(8, "little")); h.update(b)
        n += 1
        if n == 20:
            print("@@STARTED@@", flush=True)
        time.sleep(0.002)
    return n
result = attempt(consume)
result.update(n=n, digest=h.hexdigest(), t_end=time.time(),
              retries=tf_ffm.stats().get("retries", 0))
emit(result)
"""


def _read_while(weed, action, options, timeout=150):
    """Starts the slow read, runs action() once it has 20 records, and
    returns (the reader's outcome, its end time minus action's start)."""
    env = _env(weed, FFM_TEST_S3=json.dumps(options))
    proc = subprocess.Popen([sys.executable, "-c", _SNIPPET_PRELUDE + _SLOW_READ],
                            env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("@@STARTED@@"):
                break
        else:
            raise AssertionError("reader ended before 20 records:\n"
                                 + proc.stderr.read()[-3000:])
        t_action = time.time()
        action()
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for line in reversed(out.splitlines()):
        if line.startswith("@@RESULT@@"):
            result = json.loads(line[len("@@RESULT@@"):])
            return result, result["t_end"] - t_action
    raise AssertionError(f"no result (exit {proc.returncode}):\n{err[-3000:]}")


@pytest.fixture
def restored(weed):
    """Leaves the server resumed (not stopped) whatever happened."""
    yield weed
    if weed.proc.poll() is None:
        weed.resume()


def test_paused_server_stalls_then_every_record(restored):
    def pause():
        restored.pause()
        time.sleep(4)
        restored.resume()
    got, _ = _read_while(restored, pause, {"max_attempts": 3})
    assert got["ok"], got
    assert got["n"] == len(RECORDS)
    assert got["digest"] == _digest(RECORDS)


def test_stall_longer_than_request_timeout_is_cut_and_retried(restored):
    """A GET that receives nothing for request_timeout (curl's low-speed
    limit, applied on Linux too) is abandoned and retried: the retries
    counter moves, and the read still ends with every record."""
    def pause():
        restored.pause()
        time.sleep(6)
        restored.resume()
    got, _ = _read_while(restored, pause, {"request_timeout": 2,
                                           "max_attempts": 10,
                                           "read_deadline": 60})
    assert got["ok"], got
    assert got["retries"] > 0, got
    assert got["n"] == len(RECORDS)
    assert got["digest"] == _digest(RECORDS)


def test_killed_and_restarted_server_every_record(restored):
    def kill_and_restart():
        restored.kill()
        time.sleep(1)
        restored.start()
    got, _ = _read_while(restored, kill_and_restart,
                         {"max_attempts": 100, "read_deadline": 120})
    assert got["ok"], got
    assert got["n"] == len(RECORDS)
    assert got["digest"] == _digest(RECORDS)


def test_killed_server_fails_fast_naming_uri_range_attempts(restored):
    got, seconds = _read_while(restored, restored.kill,
                               {"max_attempts": 3, "read_deadline": 10})
    assert not got["ok"], got
    assert got["error"] == "UnavailableError", got
    # A fail-fast guarantee, not a performance number: generous bound.
    assert seconds < 60, (seconds, got)
    message = got["message"]
    assert f"s3://{BUCKET}/{KEY}" in message
    assert "read of bytes [" in message
    assert "attempts in" in message
    assert ADMIN_SECRET not in message


_DESTROY_MID_READ = f"""
import gc, sys, time
opts = tf_ffm.S3Options(**json.loads(os.environ["FFM_TEST_S3"]))
ds = tf_ffm.FFMRecordDataset("s3://{BUCKET}/{KEY}", chunk_size=64 << 10,
                             first_chunk_size=64 << 10,
                             memory_budget=1 << 20, s3=opts)
it = iter(ds)
for _ in range(20):
    next(it)
# The next 40 records (~400 KB, to ~640 KB into the object) must be read
# ahead before the server is paused: wait for the readahead rather than
# trusting a fixed time (on a loaded machine it may not have got there).
deadline = time.time() + 30
while tf_ffm.stats()["bytes_read"] < (704 << 10) and time.time() < deadline:
    time.sleep(0.01)
print("@@STARTED@@", flush=True)
sys.stdin.readline()  # the server is paused now
for _ in range(40):  # all read ahead: frees budget for reads that stall
    next(it)
time.sleep(0.3)
start = time.time()
del it
gc.collect()
emit({{"ok": True, "destroy_s": time.time() - start}})
"""


def test_iterator_destroyed_while_reads_stall_returns_promptly(restored):
    """With the server paused, running GETs hang until the stall timeout
    (request_timeout, 15 s by default); destroying the iterator must not wait
    for them: it cancels them and leaves them to end in the background."""
    env = _env(restored, FFM_TEST_S3=json.dumps({"max_attempts": 3}))
    proc = subprocess.Popen(
        [sys.executable, "-c", _SNIPPET_PRELUDE + _DESTROY_MID_READ], env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        for line in proc.stdout:
            if line.startswith("@@STARTED@@"):
                break
        else:
            raise AssertionError(proc.stderr.read()[-3000:])
        restored.pause()
        time.sleep(0.5)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        result = None
        for line in proc.stdout:
            if line.startswith("@@RESULT@@"):
                result = json.loads(line[len("@@RESULT@@"):])
                break
        restored.resume()  # lets the abandoned reads end, and the process
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert result is not None and result["ok"], err[-3000:]
    # Bounded by the reader's abandon_after (1 s), not by the stall: a
    # generous bound for a loaded machine, far below the 15 s stall timeout.
    assert result["destroy_s"] < 5, result
    assert proc.returncode == 0, err[-3000:]
