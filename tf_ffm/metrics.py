"""What the readers in this process have done so far."""
import ctypes
import os

from tf_ffm import _engine, _loader

FIELDS = ("bytes_read", "read_requests", "retries", "errors",
          "wait_seconds", "bytes_in_flight",
          "cache_hits", "cache_misses", "cache_hit_bytes", "cache_evictions",
          "cache_corrupt", "cache_errors")


def _op_library_counters():
    """The op library's counters (the datasets' reads), or None if no
    dataset has loaded it. The engine is linked into it and into
    tf_ffm._engine separately, and each keeps its own counters."""
    path = _loader.loaded_ops_path()
    if path is None:
        return None
    lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD)  # the library TF loaded
    values = (ctypes.c_int64 * len(FIELDS))()
    lib.tf_ffm_io_stats.restype = ctypes.c_int
    count = lib.tf_ffm_io_stats(values, len(FIELDS))
    if count != len(FIELDS):
        raise RuntimeError(f"the op library has {count} counters, expected {len(FIELDS)}")
    return list(values)


def stats():
    """A dict of process-wide counters: bytes and ranged reads issued,
    retries, failed reads, seconds consumers spent waiting for data, and the
    bytes currently held by readahead (all iterators, index builds and index
    reads); for the local cache (cache_dir=), blocks served from it and
    fetched into it, bytes served from it, blocks evicted, entries dropped
    by their checksum and entries that could not be written (disk full,
    read-only)."""
    values = list(_engine.stats())
    ops = _op_library_counters()
    if ops is not None:
        values = [a + b for a, b in zip(values, ops)]
    out = dict(zip(FIELDS, values))
    out["wait_seconds"] = out["wait_seconds"] / 1e9
    return out
