"""Reading through a real FUSE mount (rclone over nginx), the stand-in for
SageMaker Fast File Mode: same records as the stock reader on the original
files, in every mode a user writes; the mount is read with parallel ranged
reads (FUSE is not a local disk), a checkpoint resumes through it.
"""
import os

import pytest
import tensorflow as tf

import tf_ffm
from conftest import (as_list, assert_same_records, read_until_error,
                      save_then_restore)
from tf_ffm.bench.servers import EmulatedS3, FuseMount, Unavailable

STRING = tf.TensorSpec([], tf.string)


@pytest.fixture(scope="module")
def mounted(tfrecords, tmp_path_factory):
    """(data, mounted paths of data.files) for the uncompressed DataSet."""
    data = tfrecords()
    for check in (EmulatedS3.check, FuseMount.check):
        try:
            check()
        except Unavailable as e:
            pytest.skip(e.reason)
    root = os.path.dirname(data.directory)
    with EmulatedS3(root, latency_s=0.002, rate=None) as s3:
        mnt = tmp_path_factory.mktemp("mnt")
        try:
            mount = FuseMount(s3.url, mnt)
            mount.__enter__()
        except Unavailable as e:
            pytest.skip(f"FUSE mounting not permitted: {e.reason}")
        try:
            sub = os.path.basename(data.directory)
            yield data, [os.path.join(mnt, sub, os.path.basename(f))
                         for f in data.files]
        finally:
            mount.__exit__(None, None, None)


@pytest.mark.parametrize("num_parallel_reads", [None, 3, tf.data.AUTOTUNE])
def test_mount_gives_stock_records(mounted, stock, num_parallel_reads):
    data, paths = mounted
    before = tf_ffm.stats()["read_requests"]
    got = as_list(tf_ffm.FFMRecordDataset(paths, num_parallel_reads=num_parallel_reads,
                                          chunk_size=64 << 10, first_chunk_size=16 << 10))
    if num_parallel_reads == tf.data.AUTOTUNE:
        assert_same_records(got, data.in_file_order())
    else:
        assert_same_records(got, stock(data, num_parallel_reads))
    # Ranged reads of at most 64 KiB: FUSE files take the parallel path
    # (a local disk would be read 256 KiB at a time).
    total = sum(os.path.getsize(f) for f in data.files)
    assert tf_ffm.stats()["read_requests"] - before >= total // (64 << 10)


def test_mount_generator_of_names(mounted, stock):
    data, paths = mounted
    names = tf.data.Dataset.from_generator(lambda: iter(paths), output_signature=STRING)
    got = as_list(tf_ffm.FFMRecordDataset(names, num_parallel_reads=2))
    assert_same_records(got, stock(data, 2))


def test_mount_checkpoint_resumes(mounted, stock, tmp_path):
    data, paths = mounted
    want = stock(data, 2)
    make = lambda: tf_ffm.FFMRecordDataset(paths, num_parallel_reads=2,  # noqa: E731
                                           chunk_size=4096, first_chunk_size=1024)
    k = len(want) // 2
    taken, rest, _ = save_then_restore(make, k, tmp_path)
    assert_same_records(taken, want[:k])
    assert_same_records(rest, want[k:])


def test_mount_missing_file_is_not_found(mounted):
    data, paths = mounted
    missing = os.path.join(os.path.dirname(paths[0]), "absent.tfrecord")
    got, err = read_until_error(tf_ffm.FFMRecordDataset([paths[0], missing]))
    assert_same_records(got, data.records[data.files[0]])
    assert isinstance(err, tf.errors.NotFoundError)
    assert missing in err.message


def test_mount_cached_only_when_asked(mounted, stock, tmp_path):
    data, paths = mounted
    want = stock(data, None)
    cache = str(tmp_path / "cache")
    before = tf_ffm.stats()
    assert_same_records(as_list(tf_ffm.FFMRecordDataset(paths, cache_dir=cache)), want)
    assert tf_ffm.stats()["cache_misses"] == before["cache_misses"]  # mounts: opt-in
    ds = tf_ffm.FFMRecordDataset(paths, cache_dir=cache, cache_mounts=True)
    assert_same_records(as_list(ds), want)
    first = tf_ffm.stats()
    assert first["cache_misses"] > before["cache_misses"]
    assert_same_records(as_list(ds), want)
    second = tf_ffm.stats()
    assert second["cache_misses"] == first["cache_misses"]
    assert second["cache_hit_bytes"] - first["cache_hit_bytes"] == \
        sum(os.path.getsize(f) for f in data.files)
