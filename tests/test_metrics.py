"""tf_ffm.stats(): process-wide reader counters."""
import gc
import os

import tensorflow as tf

import tf_ffm


def _write(path, n, size):
    with tf.io.TFRecordWriter(str(path)) as w:
        for i in range(n):
            w.write(bytes([i % 251]) * size)
    return str(path)


def test_counters_follow_reads(tmp_path):
    path = _write(tmp_path / "a.tfrecord", 200, 5000)
    before = tf_ffm.stats()
    ds = tf_ffm.FFMRecordDataset([path], chunk_size=64 << 10, first_chunk_size=16 << 10,
                                 parallel_reads=True)
    assert sum(1 for _ in ds) == 200
    after = tf_ffm.stats()
    assert after["bytes_read"] - before["bytes_read"] == os.path.getsize(path)
    # 16 KiB, 32 KiB, then 64 KiB ranges over ~1 MB: more than a dozen reads.
    assert after["read_requests"] - before["read_requests"] >= 12
    assert after["errors"] == before["errors"]
    assert set(after) == {"bytes_read", "read_requests", "retries", "errors",
                          "wait_seconds", "bytes_in_flight",
                          "cache_hits", "cache_misses", "cache_hit_bytes",
                          "cache_evictions", "cache_corrupt", "cache_errors"}


def test_bytes_in_flight_return_to_zero_after_iterators_go(tmp_path):
    path = _write(tmp_path / "b.tfrecord", 400, 20000)
    gc.collect()  # iterators other tests left for the collector
    baseline = tf_ffm.stats()["bytes_in_flight"]
    it = iter(tf_ffm.FFMRecordDataset([path], chunk_size=256 << 10))
    next(it)
    assert tf_ffm.stats()["bytes_in_flight"] > baseline
    del it
    gc.collect()
    assert tf_ffm.stats()["bytes_in_flight"] == baseline


def test_failed_reads_are_counted(tmp_path):
    path = _write(tmp_path / "c.tfrecord", 10, 100)
    before = tf_ffm.stats()["errors"]
    # A directory opens but cannot be read: the open itself fails first.
    try:
        list(tf_ffm.FFMRecordDataset([str(tmp_path)]))
    except tf.errors.InvalidArgumentError:
        pass
    assert tf_ffm.stats()["errors"] == before  # an open error is not a read error
    assert sum(1 for _ in tf_ffm.FFMRecordDataset([path])) == 10
