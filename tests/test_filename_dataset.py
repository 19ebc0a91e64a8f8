"""`filenames` given as a tf.data.Dataset, as the seed article writes it: a
generator of file names (which may change the mix between epochs) passed
straight to the reader. One FFMRecordDataset op pulls the names as reading
needs them; records, order, checkpoints and errors are those of a list.
"""
import os

import pytest
import tensorflow as tf

import tf_ffm
from conftest import (SMALL_READS, as_list, assert_same_records,
                      read_until_error, record_offsets, save_then_restore)

STRING = tf.TensorSpec([], tf.string)


def generated(names):
    """A dataset of file names from a Python generator (new one per epoch)."""
    return tf.data.Dataset.from_generator(lambda: iter(list(names)),
                                          output_signature=STRING)


@pytest.mark.parametrize("reads", [{}, SMALL_READS], ids=["auto", "parallel"])
@pytest.mark.parametrize("num_parallel_reads", [None, 1, 3])
@pytest.mark.parametrize("compression", ["", "GZIP"])
def test_generator_gives_stock_records_in_stock_order(tfrecords, compression,
                                                      num_parallel_reads, reads):
    data = tfrecords(compression)
    want = as_list(tf.data.TFRecordDataset(
        generated(data.files), data.compression_type,
        num_parallel_reads=num_parallel_reads))
    got = as_list(tf_ffm.FFMRecordDataset(
        generated(data.files), data.compression_type,
        num_parallel_reads=num_parallel_reads, **reads))
    assert_same_records(got, want)


def test_generator_with_autotune_reads_files_in_order(tfrecords, stock):
    data = tfrecords()
    got = as_list(tf_ffm.FFMRecordDataset(generated(data.files),
                                          num_parallel_reads=tf.data.AUTOTUNE))
    # AUTOTUNE reads file after file (documented); the multiset is stock's.
    assert_same_records(got, data.in_file_order())
    assert sorted(got) == sorted(stock(data, tf.data.AUTOTUNE))


def test_list_changed_between_epochs_is_followed(tfrecords):
    # The seed's pattern: a generator that decides each epoch's files.
    data = tfrecords()
    plans = [data.files[:2], data.files[4:], data.files[3:4]]
    epoch = [0]

    def names():
        files = plans[epoch[0]]
        epoch[0] += 1
        yield from files

    ds = tf_ffm.FFMRecordDataset(
        tf.data.Dataset.from_generator(names, output_signature=STRING),
        num_parallel_reads=2)
    for files in plans:
        want = as_list(tf.data.TFRecordDataset(files, num_parallel_reads=2))
        assert_same_records(as_list(ds), want)


def test_names_are_pulled_as_needed_not_all_at_start(tfrecords):
    # 7 names, 1 file read at a time, open-ahead capped at 2 files: after the
    # first record only the files in reach have been asked for.
    data = tfrecords()
    pulled = []

    def names():
        for f in data.files:
            pulled.append(f)
            yield f

    ds = tf_ffm.FFMRecordDataset(
        tf.data.Dataset.from_generator(names, output_signature=STRING),
        io_threads=2)
    it = iter(ds)
    next(it)
    assert 1 <= len(pulled) <= 4, pulled
    rest = [r.numpy() for r in it]
    assert len(rest) + 1 == len(data.in_file_order())
    assert pulled == data.files


@pytest.mark.parametrize("reads", [{}, SMALL_READS], ids=["auto", "parallel"])
@pytest.mark.parametrize("num_parallel_reads", [None, 2])
@pytest.mark.parametrize("k", [1, 30, 60])
def test_checkpoint_mid_file_resumes_exactly(tfrecords, tmp_path, reads,
                                             num_parallel_reads, k):
    data = tfrecords()

    def make():
        names = tf.data.Dataset.from_tensor_slices(data.files).map(lambda f: f)
        return tf_ffm.FFMRecordDataset(names, num_parallel_reads=num_parallel_reads,
                                       **reads)

    want = as_list(tf.data.TFRecordDataset(data.files,
                                           num_parallel_reads=num_parallel_reads))
    taken, rest, _ = save_then_restore(make, k, tmp_path)
    assert_same_records(taken, want[:k])
    assert_same_records(rest, want[k:])


def test_missing_file_from_generator_is_not_found_naming_it(tfrecords, tmp_path):
    data = tfrecords()
    missing = str(tmp_path / "no-such.tfrecord")
    got, err = read_until_error(tf_ffm.FFMRecordDataset(
        generated([data.files[0], missing, data.files[4]])))
    assert_same_records(got, data.records[data.files[0]])
    assert isinstance(err, tf.errors.NotFoundError)
    assert missing in err.message


def test_corrupt_file_from_generator_is_data_loss_naming_file_and_offset(
        record_file):
    good = [b"a" * 10, b"b" * 20, b"c" * 30]
    path = record_file(good)
    with open(path, "r+b") as f:  # flip a data byte of the third record
        f.seek(record_offsets(good)[2] + 12)
        f.write(b"X")
    got, err = read_until_error(tf_ffm.FFMRecordDataset(generated([path])))
    assert_same_records(got, good[:2])
    assert isinstance(err, tf.errors.DataLossError)
    assert path in err.message
    assert f"offset {record_offsets(good)[2]}" in err.message


def test_non_string_elements_are_rejected():
    with pytest.raises(TypeError, match="tf.string"):
        tf_ffm.FFMRecordDataset(tf.data.Dataset.range(3))


def test_a_directory_name_is_invalid_argument(tmp_path):
    got, err = read_until_error(tf_ffm.FFMRecordDataset(generated([str(tmp_path)])))
    assert got == []
    assert isinstance(err, tf.errors.InvalidArgumentError)
    assert os.fspath(tmp_path) in err.message
