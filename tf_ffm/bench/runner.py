"""Run measurements: one reader run per fresh subprocess, and the raw ceiling.

A reader run starts `python -m tf_ffm.bench.worker` so that no state (page
cache aside), thread pool or allocator high-water mark carries over from one
run to the next, and peak RSS belongs to that run alone. Before each run the
files behind the target are read once more (`warm_page_cache`): on a machine
that pages out cold memory without pressure (DAMON, see machine.py) a dataset
left alone for a minute is otherwise partly re-read from disk, by the reader
("local") or by the server (mount, s3).

The raw ceiling is what the storage delivers to parallel ranged reads with no
parsing: 8 MiB ranges, 16 at once, with os.pread for paths (local or mount)
and HTTP range GETs for an endpoint. A reader's throughput divided by it says
how much of the available bandwidth the reader uses.
"""
import concurrent.futures
import dataclasses
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from typing import Dict, List, Optional, Tuple

from tf_ffm.bench import machine, servers

CHUNK = 8 << 20
IN_FLIGHT = 16
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass
class Target:
    """What one reader reads in one profile: files plus the environment to read them."""

    paths: List[str]                 # local or mount paths, or s3:// URIs
    sizes: List[int]                 # bytes of each file
    env: Dict[str, str] = dataclasses.field(default_factory=dict)
    urls: Optional[List[str]] = None  # http URLs of the same files (ceiling)
    helper_pgid: Optional[int] = None  # process group serving the reads (the
                                       # mount's rclone): its CPU is measured too
    server_pgids: Tuple[int, ...] = ()  # other processes of the set-up (nginx):
                                        # their CPU is not "something else busy"
    source_paths: Optional[List[str]] = None  # local files behind paths/urls

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)


class WorkerError(RuntimeError):
    """A measurement subprocess failed; the message ends with its stderr."""


def _process_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def group_cpu_s(pgid) -> float:
    """CPU seconds (user+sys) used so far by the live processes of group pgid."""
    if not pgid:
        return 0.0
    ticks = sum(int(f[11]) + int(f[12]) for f in servers.group_stats(pgid))
    return ticks / os.sysconf("SC_CLK_TCK")


def worker_command(reader, read_mode, target, consumption, limit=None, min_seconds=0.0,
                   n=None, python=None, min_epochs=1, cache_dir=None):
    cmd = [python or sys.executable, "-m", "tf_ffm.bench.worker",
           "--reader", reader, "--read-mode", read_mode, "--consumption", consumption,
           "--file-bytes", str(target.total_bytes), "--min-seconds", str(min_seconds),
           "--min-epochs", str(min_epochs)]
    if cache_dir:
        cmd += ["--cache-dir", cache_dir]
    if n:
        cmd += ["--n", str(n)]
    if limit:
        cmd += ["--limit-records", str(limit)]
    return cmd + ["--files", *target.paths]


def group_read_bytes(pgid) -> int:
    """Bytes the live processes of group pgid have read from block devices."""
    return sum(machine.read_bytes(pid) or 0 for pid, _ in servers.group_pids(pgid))


def _setup_counters(target):
    """(helper CPU s, server CPU s, server disk bytes) so far."""
    return (group_cpu_s(target.helper_pgid),
            sum(group_cpu_s(p) for p in target.server_pgids),
            sum(group_read_bytes(p) for p in target.server_pgids))


def run_worker(reader, read_mode, target, consumption, limit=None, *, min_seconds=0.0,
               n=None, timeout_s=1800, warm=True, quiet_wait_s=0.0, min_epochs=1,
               cache=False):
    """One measurement in a fresh interpreter; returns the worker's JSON dict.

    min_seconds: whole epochs are read again until this much time has passed
    (and at least min_epochs). cache: the ffm reader caches in a directory
    made empty for this run (epoch 1 fills it) and deleted after it.
    Added to the result: "loadavg" (1/5/15 min, before the run), and the CPU
    seconds during the run of target.helper_pgid ("helper_cpu_s", e.g. the
    rclone mount) and of target.server_pgids ("server_cpu_s", nginx) with the
    bytes those read from disk ("server_read_bytes"). quiet_wait_s: wait up to
    this long for other jobs to leave the CPUs first ("quiet_wait_s",
    "busy_before_cores": CPUs busy just before the start).
    """
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    env.update(target.env)
    if warm and target.source_paths:
        warm_page_cache(target.source_paths)
    waited, busy = machine.wait_for_quiet(max_wait_s=quiet_wait_s) if quiet_wait_s else (
        0.0, None)
    load = machine.loadavg()
    helper0, server0, disk0 = _setup_counters(target)
    started = time.perf_counter()
    name = f"{reader}_{read_mode}/{consumption}"
    cache_dir = tempfile.mkdtemp(prefix="tf-ffm-bench-cache-") if cache else None
    try:
        proc = subprocess.run(
            worker_command(reader, read_mode, target, consumption, limit, min_seconds, n,
                           min_epochs=min_epochs, cache_dir=cache_dir),
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise WorkerError(f"{name}: no result after {timeout_s} s") from e
    finally:
        if cache_dir:
            shutil.rmtree(cache_dir, ignore_errors=True)
    helper1, server1, disk1 = _setup_counters(target)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
    if not lines:
        raise WorkerError(f"{name} exited with {proc.returncode}:\n{tail}")
    result = json.loads(lines[-1])
    result["process_s"] = time.perf_counter() - started  # start-up and exit included
    result["loadavg"] = load
    result["quiet_wait_s"], result["busy_before_cores"] = waited, busy
    if proc.returncode != 0:
        # The measurement finished and is kept, but the crash (e.g. at
        # interpreter exit) is reported, never hidden.
        result["exit_warning"] = (f"exited with {proc.returncode} after measuring:\n"
                                  f"{tail}")
    if target.helper_pgid:
        result["helper_cpu_s"] = helper1 - helper0
    if target.server_pgids:
        result["server_cpu_s"] = server1 - server0
        result["server_read_bytes"] = disk1 - disk0
    return result


def _ranges(sizes, chunk):
    for i, size in enumerate(sizes):
        for off in range(0, size, chunk):
            yield i, off, min(chunk, size - off)


def _run_parallel(read_range, sizes, chunk, in_flight, min_seconds, min_passes=2):
    """Read every range `in_flight` at a time, in whole passes over all files
    until min_seconds have passed and at least min_passes were made (a
    first pass also pays for cold connections and a cold FUSE daemon; the
    ceiling is the best pass, "pass_s" lists them all)."""
    expected = sum(sizes)
    total = passes = 0
    pass_s = []
    with concurrent.futures.ThreadPoolExecutor(in_flight) as pool:
        cpu0 = _process_cpu_s()
        t0 = time.perf_counter()
        while True:
            p0 = time.perf_counter()
            # Submitted all at once; the pool runs in_flight of them at a time.
            jobs = [pool.submit(read_range, *r) for r in _ranges(sizes, chunk)]
            got = sum(j.result() for j in jobs)
            if got != expected:
                raise IOError(f"raw read returned {got} bytes, expected {expected}")
            pass_s.append(time.perf_counter() - p0)
            total += got
            passes += 1
            if passes >= 100 or (passes >= min_passes
                                 and time.perf_counter() - t0 >= min_seconds):
                break
        wall = time.perf_counter() - t0
        cpu = _process_cpu_s() - cpu0
    return {"bytes": total, "wall_s": wall, "cpu_s": cpu, "passes": passes,
            "pass_bytes": expected, "pass_s": pass_s}


def ceiling_posix(paths, sizes=None, chunk=CHUNK, in_flight=IN_FLIGHT, min_seconds=0.0):
    """Parallel os.pread of every file in `chunk` ranges, `in_flight` at once.

    Each range opens the file anew: on a FUSE mount a file handle streams
    sequentially, so separate handles are what lets ranges run in parallel.
    """
    sizes = sizes or [os.path.getsize(p) for p in paths]
    local = threading.local()

    def read_range(i, off, length):
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = bytearray(chunk)
        view = memoryview(buf)
        fd = os.open(paths[i], os.O_RDONLY)
        try:
            done = 0
            while done < length:
                n = os.preadv(fd, [view[done:length]], off + done)
                if n == 0:
                    raise IOError(f"{paths[i]}: short read at {off + done}")
                done += n
        finally:
            os.close(fd)
        return done

    return _run_parallel(read_range, sizes, chunk, in_flight, min_seconds)


def ceiling_http(urls, sizes, chunk=CHUNK, in_flight=IN_FLIGHT, min_seconds=0.0):
    """Parallel HTTP range GETs of every URL, `in_flight` keep-alive connections."""
    local = threading.local()
    parsed = [urllib.parse.urlsplit(u) for u in urls]

    def connection(netloc, fresh=False):
        conns = getattr(local, "conns", None)
        if conns is None:
            conns = local.conns = {}
        if fresh or netloc not in conns:
            if netloc in conns:
                conns[netloc].close()
            conns[netloc] = http.client.HTTPConnection(netloc, timeout=60)
        return conns[netloc]

    def read_range(i, off, length):
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = bytearray(chunk)
        view = memoryview(buf)
        u = parsed[i]
        for attempt in range(2):
            conn = connection(u.netloc, fresh=attempt > 0)
            try:
                conn.request("GET", u.path,
                             headers={"Range": f"bytes={off}-{off + length - 1}"})
                resp = conn.getresponse()
                if resp.status != 206:
                    raise IOError(f"{urls[i]}: HTTP {resp.status} for a range GET")
                done = 0
                while done < length:
                    n = resp.readinto(view[done:length])
                    if not n:
                        break
                    done += n
                resp.read()  # drain so the connection can be reused
                if done != length:
                    raise IOError(f"{urls[i]}: {done} of {length} bytes at {off}")
                return done
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError):
                if attempt:
                    raise
        raise AssertionError("unreachable")

    return _run_parallel(read_range, sizes, chunk, in_flight, min_seconds)


def ceiling(target, min_seconds=0.0, warm=True):
    """The raw ceiling for a target: HTTP when it has URLs, else pread."""
    if warm and target.source_paths:
        warm_page_cache(target.source_paths)
    if target.urls:
        return ceiling_http(target.urls, target.sizes, min_seconds=min_seconds)
    return ceiling_posix(target.paths, target.sizes, min_seconds=min_seconds)


def warm_page_cache(paths, block=CHUNK):
    """Read every file once so a local profile measures reads from memory."""
    buf = bytearray(block)
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
