"""Errors: the right tf.errors type, a message naming the file and the byte
offset, and every good record before the damage delivered first.

Where the stock reader has an answer (zero-byte files, the records before a
truncation or a corrupt record) the expectation is the stock reader's.
"""
import os
import re

import pytest
import tensorflow as tf

import tf_ffm
from conftest import (SMALL_READS, assert_same_records, read_until_error,
                      record_offsets)

KiB = 1 << 10
RECORDS = [b"first", os.urandom(3 * KiB), b"", os.urandom(40 * KiB),
           b"middle", os.urandom(7 * KiB), os.urandom(20 * KiB), b"last"]
OFFSETS = record_offsets(RECORDS)
READS = [pytest.param({}, id="default-reads"),
         pytest.param(SMALL_READS, id="small-reads")]


def _damaged(record_file, mutate):
    path = record_file(RECORDS)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data = mutate(data)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _offset_in(message):
    found = re.search(r"byte offset (\d+)", message)
    assert found, f"no byte offset in {message!r}"
    return int(found.group(1))


def test_missing_file(tmp_path):
    path = str(tmp_path / "no-such-file.tfrecord")
    with pytest.raises(tf.errors.NotFoundError) as stock_error:
        list(tf.data.TFRecordDataset(path))
    got, error = read_until_error(tf_ffm.FFMRecordDataset(path))
    assert got == []
    assert isinstance(error, tf.errors.NotFoundError), error
    assert type(error) is type(stock_error.value)
    assert path in error.message


def test_missing_file_after_good_ones(record_file, tmp_path):
    good = record_file(RECORDS)
    missing = str(tmp_path / "gone.tfrecord")
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset([good, missing], **SMALL_READS))
    assert_same_records(got, RECORDS)
    assert isinstance(error, tf.errors.NotFoundError)
    assert missing in error.message


def test_directory(tmp_path):
    got, error = read_until_error(tf_ffm.FFMRecordDataset(str(tmp_path)))
    assert got == []
    assert isinstance(error, tf.errors.InvalidArgumentError), error
    assert str(tmp_path) in error.message
    assert "directory" in error.message


@pytest.mark.parametrize("reads", READS)
@pytest.mark.parametrize("cut_record", [1, 3, 7])
@pytest.mark.parametrize("cut_into", ["data", "footer"])
def test_truncated_file(record_file, reads, cut_record, cut_into):
    start = OFFSETS[cut_record]
    cut = {"data": start + 12 + len(RECORDS[cut_record]) // 2,
           "footer": start + 12 + len(RECORDS[cut_record]) + 2}[cut_into]
    path = _damaged(record_file, lambda d: d[:cut])

    want, stock_error = read_until_error(tf.data.TFRecordDataset(path))
    assert isinstance(stock_error, tf.errors.DataLossError)
    got, error = read_until_error(tf_ffm.FFMRecordDataset(path, **reads))
    assert_same_records(got, RECORDS[:cut_record])
    assert_same_records(got, want)
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    assert "truncated" in error.message
    assert _offset_in(error.message) == start


@pytest.mark.parametrize("reads", READS)
@pytest.mark.parametrize("header_bytes", [1, 8, 11])
def test_truncated_inside_header(record_file, reads, header_bytes):
    # Deliberately stricter than stock: TF 2.x ends the file silently when
    # fewer than 12 header bytes remain (its ReadNBytes reports OutOfRange);
    # tf_ffm reports the truncation, after the same records.
    cut_record = 4
    start = OFFSETS[cut_record]
    path = _damaged(record_file, lambda d: d[:start + header_bytes])
    want, stock_error = read_until_error(tf.data.TFRecordDataset(path))
    assert stock_error is None
    got, error = read_until_error(tf_ffm.FFMRecordDataset(path, **reads))
    assert_same_records(got, want)
    assert_same_records(got, RECORDS[:cut_record])
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    assert f"truncated header ({header_bytes} of 12 bytes)" in error.message
    assert _offset_in(error.message) == start


@pytest.mark.parametrize("compression", ["GZIP", "ZLIB"])
def test_truncated_compressed_file(record_file, compression):
    path = record_file(RECORDS, compression)
    size = os.path.getsize(path)
    with open(path, "rb+") as f:
        f.truncate(size * 2 // 3)
    want, stock_error = read_until_error(
        tf.data.TFRecordDataset(path, compression))
    assert isinstance(stock_error, tf.errors.DataLossError)
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset(path, compression, **SMALL_READS))
    assert_same_records(got, want)
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    assert "truncated" in error.message


@pytest.mark.parametrize("reads", READS)
@pytest.mark.parametrize("bad_record", [0, 3, 6])
def test_flipped_payload_byte(record_file, reads, bad_record):
    position = OFFSETS[bad_record] + 12 + len(RECORDS[bad_record]) // 2

    def flip(d):
        d[position] ^= 0x40
        return d

    path = _damaged(record_file, flip)
    want, stock_error = read_until_error(tf.data.TFRecordDataset(path))
    assert isinstance(stock_error, tf.errors.DataLossError)
    got, error = read_until_error(tf_ffm.FFMRecordDataset(path, **reads))
    assert_same_records(got, want)
    assert_same_records(got, RECORDS[:bad_record])
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    assert "CRC" in error.message
    assert _offset_in(error.message) == OFFSETS[bad_record]


def test_flipped_payload_byte_without_crc_check(record_file):
    bad = 3
    position = OFFSETS[bad] + 12 + 100

    def flip(d):
        d[position] ^= 0x01
        return d

    path = _damaged(record_file, flip)
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset(path, verify_crc=False))
    assert error is None
    assert len(got) == len(RECORDS)
    assert got[bad] != RECORDS[bad]
    assert got[:bad] + got[bad + 1:] == RECORDS[:bad] + RECORDS[bad + 1:]


@pytest.mark.parametrize("bad_record", [0, 4])
@pytest.mark.parametrize("flip_bit", [0x01, 0x80])
def test_flipped_length_byte(record_file, bad_record, flip_bit):
    def flip(d):
        d[OFFSETS[bad_record] + 1] ^= flip_bit
        return d

    path = _damaged(record_file, flip)
    want, stock_error = read_until_error(tf.data.TFRecordDataset(path))
    assert isinstance(stock_error, tf.errors.DataLossError)
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset(path, **SMALL_READS))
    assert_same_records(got, want)
    assert_same_records(got, RECORDS[:bad_record])
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    assert "length CRC mismatch" in error.message
    assert _offset_in(error.message) == OFFSETS[bad_record]


def test_flipped_length_byte_without_crc_check(record_file):
    # The length then says more than the file holds: still DataLoss, not a
    # huge allocation.
    def flip(d):
        d[OFFSETS[2] + 6] ^= 0x10
        return d

    path = _damaged(record_file, flip)
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset(path, verify_crc=False))
    assert_same_records(got, RECORDS[:2])
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    assert _offset_in(error.message) == OFFSETS[2]


@pytest.mark.parametrize("compression", ["GZIP", "ZLIB"])
def test_compressed_file_read_as_uncompressed(record_file, compression):
    path = record_file(RECORDS, compression)
    got, error = read_until_error(tf_ffm.FFMRecordDataset(path))
    assert got == []
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    assert "compression_type" in error.message
    assert _offset_in(error.message) == 0


@pytest.mark.parametrize("compression", ["GZIP", "ZLIB"])
def test_uncompressed_file_read_as_compressed(record_file, compression):
    path = record_file(RECORDS)
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.TFRecordDataset(path, compression))
    got, error = read_until_error(tf_ffm.FFMRecordDataset(path, compression))
    assert got == []
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    assert "compression_type" in error.message


def test_gzip_read_as_zlib(record_file):
    path = record_file(RECORDS, "GZIP")
    got, error = read_until_error(tf_ffm.FFMRecordDataset(path, "ZLIB"))
    assert got == []
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message


def test_corrupt_compressed_stream(record_file):
    path = record_file(RECORDS, "GZIP")
    size = os.path.getsize(path)

    def corrupt(d):
        for i in range(size // 2, size // 2 + 64):
            d[i] ^= 0xFF
        return d

    with open(path, "rb") as f:
        data = corrupt(bytearray(f.read()))
    with open(path, "wb") as f:
        f.write(data)
    want, stock_error = read_until_error(tf.data.TFRecordDataset(path, "GZIP"))
    assert isinstance(stock_error, tf.errors.DataLossError)
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset(path, "GZIP", **SMALL_READS))
    assert isinstance(error, tf.errors.DataLossError), error
    assert path in error.message
    # Only good records, in order, before the error.
    assert_same_records(got, RECORDS[:len(got)])


@pytest.mark.parametrize("compression", ["LZ4", "gzip", "NONE", "SNAPPY"])
def test_unknown_compression_type(record_file, compression):
    path = record_file(RECORDS)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"compression_type must be .*got '{compression}'"):
        list(tf_ffm.FFMRecordDataset(path, compression))


@pytest.mark.parametrize("compression", [None, "", "GZIP", "ZLIB"])
def test_zero_byte_file_has_no_records(tmp_path, compression):
    path = str(tmp_path / "zero.tfrecord")
    open(path, "wb").close()
    assert list(tf.data.TFRecordDataset(path, compression)) == []
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset([path, path], compression))
    assert (got, error) == ([], None)


def test_no_files(tmp_path):
    assert list(tf.data.TFRecordDataset(tf.constant([], tf.string))) == []
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset(tf.constant([], tf.string),
                                num_parallel_reads=3))
    assert (got, error) == ([], None)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(io_threads=0), tf.errors.InvalidArgumentError,
     r"io_threads must be in \[1, 1024\], got 0"),
    (dict(io_threads=5000), tf.errors.InvalidArgumentError,
     r"io_threads must be in \[1, 1024\], got 5000"),
    (dict(chunk_size=0), tf.errors.InvalidArgumentError,
     "chunk_size must be positive, got 0"),
    (dict(chunk_size=-8), tf.errors.InvalidArgumentError,
     "chunk_size must be positive, got -8"),
    (dict(first_chunk_size=0), tf.errors.InvalidArgumentError,
     "first_chunk_size must be positive, got 0"),
    (dict(memory_budget=-1), tf.errors.InvalidArgumentError,
     "memory_budget must be >= 0, got -1"),
    (dict(num_parallel_reads=0), ValueError,
     "num_parallel_reads must be None, tf.data.AUTOTUNE or >= 1, got 0"),
    (dict(num_parallel_reads=-5), ValueError,
     "num_parallel_reads must be None, tf.data.AUTOTUNE or >= 1, got -5"),
    (dict(num_parallel_reads=5000), tf.errors.InvalidArgumentError,
     r"cycle_length must be in \[0, 4096\]"),
])
def test_bad_keyword_values_fail_at_construction(record_file, kwargs, error,
                                                 message):
    path = record_file(RECORDS)
    with pytest.raises(error, match=message):
        tf_ffm.FFMRecordDataset(path, **kwargs)


def test_bad_values_also_fail_with_dataset_of_filenames(record_file):
    files = tf.data.Dataset.from_tensor_slices([record_file(RECORDS)])
    with pytest.raises(ValueError, match="num_parallel_reads"):
        tf_ffm.FFMRecordDataset(files, num_parallel_reads=0)
    # Reader attrs are checked when the per-file op is built.
    with pytest.raises(tf.errors.InvalidArgumentError, match="chunk_size"):
        list(tf_ffm.FFMRecordDataset(files, chunk_size=0))


def test_error_in_second_of_interleaved_files(record_file):
    # With N files read at once, every record the stock reader delivers
    # before the error is delivered too, in the same order.
    good = record_file(RECORDS)
    bad = _damaged(record_file, lambda d: d[:OFFSETS[5] + 20])
    files = [good, bad, good]
    want, stock_error = read_until_error(
        tf.data.TFRecordDataset(files, num_parallel_reads=3))
    assert isinstance(stock_error, tf.errors.DataLossError)
    got, error = read_until_error(
        tf_ffm.FFMRecordDataset(files, num_parallel_reads=3, **SMALL_READS))
    assert_same_records(got, want)
    assert isinstance(error, tf.errors.DataLossError), error
    assert bad in error.message
    assert _offset_in(error.message) == OFFSETS[5]
