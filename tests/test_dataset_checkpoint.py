"""Iterator save/restore: after a restore the remaining elements are exactly
the stock reader's remaining elements.

The break points are named and resolved against the element order, so each
one means the same thing for every cycle length: before the first element,
after one, half-way, right after a file ends, before the last element, and
after the end of the data.
"""
import pytest
import tensorflow as tf

import tf_ffm
from conftest import (SMALL_READS, as_list, assert_same_records, ffm,
                      interleave_labels, numpy, save_then_restore, take)

BREAKS = ["start", "one", "mid", "file-end", "last", "after-end"]


def _labels(data, num_parallel_reads):
    counts = [len(data.records[f]) for f in data.files]
    return interleave_labels(counts, num_parallel_reads)


def _break_point(name, labels):
    n = len(labels)
    if name == "file-end":
        # Right after the last record of the first file, records remain.
        last_of_first = max(k for k, (f, _) in enumerate(labels) if f == 0)
        assert last_of_first + 1 < n
        return last_of_first + 1
    return {"start": 0, "one": 1, "mid": n // 2, "last": n - 1,
            "after-end": n + 1}[name]


def test_labels_match_stock_order(tfrecords, stock):
    # Guards the break-point arithmetic: the simulated order is the stock one.
    data = tfrecords()
    for n in [None, 1, 3]:
        want = [data.records[data.files[f]][i] for f, i in _labels(data, n)]
        assert_same_records(stock(data, n), want)


@pytest.mark.parametrize("compression", ["", "GZIP"])
@pytest.mark.parametrize("num_parallel_reads", [None, 1, 3])
@pytest.mark.parametrize("break_at", BREAKS)
def test_restore_gives_remaining_records(tfrecords, stock, tmp_path,
                                         compression, num_parallel_reads,
                                         break_at):
    data = tfrecords(compression)
    want = stock(data, num_parallel_reads)
    k = _break_point(break_at, _labels(data, num_parallel_reads))

    taken, rest, original_rest = save_then_restore(
        lambda: ffm(data, num_parallel_reads, **SMALL_READS), k, tmp_path)
    assert_same_records(taken, want[:k])
    assert_same_records(rest, want[k:])
    # Saving did not disturb the iterator that was saved.
    assert_same_records(original_rest, want[k:])


@pytest.mark.parametrize("break_at", ["one", "mid", "file-end"])
def test_restore_zlib_default_chunks(tfrecords, stock, tmp_path, break_at):
    data = tfrecords("ZLIB")
    want = stock(data, 2)
    k = _break_point(break_at, _labels(data, 2))
    _, rest, _ = save_then_restore(lambda: ffm(data, 2), k, tmp_path)
    assert_same_records(rest, want[k:])


@pytest.mark.parametrize("compression", ["", "GZIP"])
def test_restore_overrides_progress_of_new_iterator(tfrecords, stock, tmp_path,
                                                    compression):
    data = tfrecords(compression)
    want = stock(data, 3)
    k = len(want) // 3
    _, rest, _ = save_then_restore(
        lambda: ffm(data, 3, **SMALL_READS), k, tmp_path, advance_fresh=k + 5)
    assert_same_records(rest, want[k:])


def test_restore_twice_from_one_checkpoint(tfrecords, stock, tmp_path):
    data = tfrecords()
    want = stock(data, 3)
    it = iter(ffm(data, 3, **SMALL_READS))
    take(it, 17)
    path = tf.train.Checkpoint(iterator=it).save(str(tmp_path / "ckpt"))
    for _ in range(2):
        fresh = iter(ffm(data, 3, **SMALL_READS))
        tf.train.Checkpoint(iterator=fresh).restore(path)
        assert_same_records(numpy(take(fresh, 9)), want[17:26])


def test_repeated_save_while_reading(tfrecords, stock, tmp_path):
    # Save every few elements; each checkpoint resumes where it was taken.
    data = tfrecords("GZIP")
    want = stock(data, 2)
    it = iter(ffm(data, 2, **SMALL_READS))
    ckpt = tf.train.Checkpoint(iterator=it)
    paths = []
    for k in range(0, len(want), 13):
        paths.append((k, ckpt.save(str(tmp_path / "ckpt"))))
        take(it, 13)
    for k, path in paths[::2]:
        fresh = iter(ffm(data, 2, **SMALL_READS))
        tf.train.Checkpoint(iterator=fresh).restore(path)
        assert_same_records(numpy(list(fresh)), want[k:])


def test_autotune_restore(tfrecords, tmp_path):
    data = tfrecords()
    want = as_list(ffm(data, tf.data.AUTOTUNE))
    for k in [1, len(want) // 2]:
        _, rest, _ = save_then_restore(
            lambda: ffm(data, tf.data.AUTOTUNE, **SMALL_READS), k, tmp_path)
        assert_same_records(rest, want[k:])


@pytest.mark.parametrize("num_parallel_reads", [None, 2])
@pytest.mark.parametrize("break_at", ["one", "mid", "file-end", "after-end"])
def test_restore_with_dataset_of_filenames(tfrecords, tmp_path,
                                           num_parallel_reads, break_at):
    data = tfrecords("GZIP")

    def files():
        return tf.data.Dataset.from_tensor_slices(data.files)

    want = as_list(tf.data.TFRecordDataset(
        files(), "GZIP", num_parallel_reads=num_parallel_reads))
    k = _break_point(break_at, _labels(data, num_parallel_reads))
    taken, rest, _ = save_then_restore(
        lambda: tf_ffm.FFMRecordDataset(
            files(), "GZIP", num_parallel_reads=num_parallel_reads,
            **SMALL_READS),
        k, tmp_path)
    assert_same_records(taken, want[:k])
    assert_same_records(rest, want[k:])


@pytest.mark.parametrize("break_at", [0, 1, 5, 11, 100])
def test_restore_under_map_and_batch(tfrecords, tmp_path, break_at):
    data = tfrecords()

    def pipeline(ds):
        return ds.map(lambda r: (r, tf.strings.length(r))).batch(3)

    want = as_list(pipeline(tf.data.TFRecordDataset(data.files,
                                                    num_parallel_reads=3)))
    taken, rest, _ = save_then_restore(
        lambda: pipeline(ffm(data, 3, **SMALL_READS)), break_at, tmp_path)

    def flat(batches):
        return [(r.tolist(), n.tolist()) for r, n in batches]

    assert flat(taken) == flat(want[:break_at])
    assert flat(rest) == flat(want[break_at:])


def test_restore_into_other_cycle_length_is_rejected(tfrecords, tmp_path):
    data = tfrecords()
    it = iter(ffm(data, 3))
    take(it, 4)
    path = tf.train.Checkpoint(iterator=it).save(str(tmp_path / "ckpt"))
    other = iter(ffm(data, 1))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="checkpoint does not match this dataset"):
        tf.train.Checkpoint(iterator=other).restore(path)
        next(other)
