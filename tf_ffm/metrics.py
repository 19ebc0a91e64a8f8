"""What the readers in this process have done so far."""
from tf_ffm import _loader

FIELDS = ("bytes_read", "read_requests", "retries", "errors",
          "wait_seconds", "bytes_in_flight")


def stats():
    """A dict of process-wide counters: bytes and ranged reads issued,
    retries, failed reads, seconds consumers spent waiting for data, and the
    bytes currently held by readahead (all iterators)."""
    values = [int(v) for v in _loader.ops().ffm_stats().numpy()]
    out = dict(zip(FIELDS, values))
    out["wait_seconds"] = out["wait_seconds"] / 1e9
    return out
