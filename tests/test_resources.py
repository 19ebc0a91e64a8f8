"""Resources stay bounded: file descriptors, threads and memory come back
after iterators go, and long reads stay within the byte budget."""
import gc
import os
import resource

import tensorflow as tf

import tf_ffm


def _count(path):
    return len(os.listdir(path))


def _threads():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def _write(path, records, size):
    with tf.io.TFRecordWriter(str(path)) as w:
        for i in range(records):
            w.write(bytes([i % 256]) * size)
    return str(path)


def test_thousand_iterators_leak_no_descriptors_or_threads(tmp_path):
    files = [_write(tmp_path / f"f{i}.tfrecord", 50, 2000) for i in range(3)]
    ds = tf_ffm.FFMRecordDataset(files, num_parallel_reads=2,
                                 chunk_size=8 << 10, first_chunk_size=4 << 10)
    list(ds.take(1))  # warm up TensorFlow's own pools before the baseline
    gc.collect()
    fds, threads = _count("/proc/self/fd"), _threads()
    for i in range(1000):
        it = iter(ds)
        for _ in range(i % 4):  # some never read, some mid-file
            next(it)
        del it
    gc.collect()
    assert _count("/proc/self/fd") <= fds + 2
    assert _threads() <= threads + 4


def test_ten_epochs_stay_within_the_budget(tmp_path):
    files = [_write(tmp_path / f"big{i}.tfrecord", 400, 50_000) for i in range(2)]
    budget = 16 << 20
    ds = tf_ffm.FFMRecordDataset(files, memory_budget=budget,
                                 chunk_size=2 << 20).batch(32)
    for _ in ds:  # one epoch first: TensorFlow's and the allocator's pools
        pass
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak_in_flight = 0
    for _ in range(10):
        for _ in ds:
            peak_in_flight = max(peak_in_flight, tf_ffm.stats()["bytes_in_flight"])
    # The budget, plus the chunk being consumed (rounded to its buffer) and
    # the next file's first chunk, which is always read.
    assert 0 < peak_in_flight <= budget + 2 * (2 << 20)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    # 40 MB of data read ten times: the peak may grow by the budget plus one
    # chunk per open file and a batch, not by what was read.
    assert grown < budget + 3 * (2 << 20) + 32 * 50_000 + (16 << 20)
