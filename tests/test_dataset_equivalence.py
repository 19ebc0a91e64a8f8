"""FFMRecordDataset yields the stock tf.data.TFRecordDataset's records.

Byte for byte and in the same order for num_parallel_reads None and any
integer N, for every compression, reader tuning and way of giving filenames;
and it composes with the rest of tf.data like the stock dataset does.
"""
import pathlib

import pytest
import tensorflow as tf

import tf_ffm
from conftest import SMALL_READS, as_list, assert_same_records, ffm

COMPRESSIONS = ["", "GZIP", "ZLIB"]
PARALLEL = [None, 1, 2, 3, 7]  # 7 is more than the number of files


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("num_parallel_reads", PARALLEL)
def test_same_records_same_order(tfrecords, stock, compression,
                                 num_parallel_reads):
    data = tfrecords(compression)
    want = stock(data, num_parallel_reads)
    assert_same_records(as_list(ffm(data, num_parallel_reads)), want)


def test_stock_order_is_file_order(tfrecords, stock):
    # Guards the fixture: the data must be rich enough to tell orders apart.
    data = tfrecords()
    assert_same_records(stock(data), data.in_file_order())
    assert stock(data, 3) != stock(data)
    assert sorted(stock(data, 3)) == sorted(stock(data))


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("num_parallel_reads", [None, 3])
@pytest.mark.parametrize("io_threads", [1, 16])
def test_small_chunks(tfrecords, stock, compression, num_parallel_reads,
                      io_threads):
    data = tfrecords(compression)
    ds = ffm(data, num_parallel_reads, io_threads=io_threads, **SMALL_READS)
    assert_same_records(as_list(ds), stock(data, num_parallel_reads))


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("num_parallel_reads", [None, 2, 7])
def test_tiny_memory_budget_still_reads(tfrecords, stock, compression,
                                        num_parallel_reads):
    # One byte of budget: no readahead, only the chunk being consumed.
    data = tfrecords(compression)
    ds = ffm(data, num_parallel_reads, memory_budget=1, **SMALL_READS)
    assert_same_records(as_list(ds), stock(data, num_parallel_reads))


def test_zero_memory_budget_still_reads(tfrecords, stock):
    data = tfrecords()
    ds = ffm(data, 2, memory_budget=0, io_threads=1, **SMALL_READS)
    assert_same_records(as_list(ds), stock(data, 2))


@pytest.mark.parametrize("compression", ["", "GZIP"])
def test_verify_crc_off_gives_same_records(tfrecords, stock, compression):
    data = tfrecords(compression)
    ds = ffm(data, 3, verify_crc=False, **SMALL_READS)
    assert_same_records(as_list(ds), stock(data, 3))


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_autotune_same_multiset(tfrecords, stock, compression):
    data = tfrecords(compression)
    got = as_list(ffm(data, tf.data.AUTOTUNE))
    assert sorted(got) == sorted(stock(data))
    # Deterministic, even if not the stock order.
    assert as_list(ffm(data, tf.data.AUTOTUNE)) == got


def test_chunk_size_does_not_change_anything(tfrecords, stock):
    data = tfrecords()
    for chunk, first in [(61, 13), (4096, 16384), (1 << 20, 1 << 20)]:
        ds = ffm(data, 2, chunk_size=chunk, first_chunk_size=first)
        assert_same_records(as_list(ds), stock(data, 2))


# --- ways of giving filenames ------------------------------------------------

def _filename_forms(files):
    return {
        "list": list(files),
        "tuple": tuple(files),
        "pathlib": [pathlib.Path(f) for f in files],
        "bytes": [f.encode() for f in files],
        "tf.constant": tf.constant(files),
        "2-D tensor": tf.reshape(tf.constant(files[:6]), [2, 3]),
        "scalar tensor": tf.constant(files[0]),
    }


@pytest.mark.parametrize("form", ["list", "tuple", "pathlib", "bytes",
                                  "tf.constant", "2-D tensor",
                                  "scalar tensor"])
@pytest.mark.parametrize("num_parallel_reads", [None, 3])
def test_filename_forms(tfrecords, form, num_parallel_reads):
    data = tfrecords()
    filenames = _filename_forms(data.files)[form]
    want = as_list(tf.data.TFRecordDataset(
        filenames, num_parallel_reads=num_parallel_reads))
    assert want  # the form selects records at all
    got = as_list(tf_ffm.FFMRecordDataset(
        filenames, num_parallel_reads=num_parallel_reads))
    assert_same_records(got, want)


def test_single_str_and_path(tfrecords):
    data = tfrecords()
    path = data.files[0]
    want = data.records[path]
    assert_same_records(as_list(tf.data.TFRecordDataset(path)), want)
    assert_same_records(as_list(tf_ffm.FFMRecordDataset(path)), want)
    assert_same_records(
        as_list(tf_ffm.FFMRecordDataset(pathlib.Path(path))), want)


@pytest.mark.parametrize("compression", ["", "GZIP"])
@pytest.mark.parametrize("num_parallel_reads", [None, 1, 3, 7])
def test_dataset_of_filenames(tfrecords, compression, num_parallel_reads):
    data = tfrecords(compression)

    def files():
        return tf.data.Dataset.from_tensor_slices(data.files)

    want = as_list(tf.data.TFRecordDataset(
        files(), data.compression_type, num_parallel_reads=num_parallel_reads))
    got = as_list(tf_ffm.FFMRecordDataset(
        files(), data.compression_type, num_parallel_reads=num_parallel_reads,
        **SMALL_READS))
    assert_same_records(got, want)


def test_dataset_of_filenames_after_shuffle_keeps_its_order(tfrecords):
    # The file order is whatever the filenames dataset yields.
    data = tfrecords()
    files = tf.data.Dataset.from_tensor_slices(data.files).shuffle(
        len(data.files), seed=7, reshuffle_each_iteration=False)
    want = as_list(tf.data.TFRecordDataset(files, num_parallel_reads=2))
    got = as_list(tf_ffm.FFMRecordDataset(files, num_parallel_reads=2))
    assert_same_records(got, want)


@pytest.mark.parametrize("filenames", [
    pytest.param(lambda: [1, 2], id="int-list"),
    pytest.param(lambda: tf.constant([1.5]), id="float-tensor"),
    pytest.param(lambda: tf.data.Dataset.from_tensor_slices(
        tf.constant([1, 2], tf.int64)), id="int64-dataset"),
    pytest.param(lambda: tf.data.Dataset.from_tensor_slices(
        tf.constant([["a"]])), id="vector-dataset"),
])
def test_non_string_filenames_type_error(filenames):
    with pytest.raises(TypeError, match="tf.string"):
        tf.data.TFRecordDataset(filenames())
    with pytest.raises(TypeError, match="`filenames` argument must contain "
                                        "`tf.string` elements"):
        tf_ffm.FFMRecordDataset(filenames())


# --- composition with tf.data and tf.function --------------------------------

def test_iterate_in_tf_function(tfrecords, stock):
    data = tfrecords("GZIP")
    want = sum(len(r) for r in stock(data, 3))

    @tf.function
    def total_length(ds):
        total = tf.constant(0, tf.int64)
        for r in ds:
            total += tf.cast(tf.strings.length(r), tf.int64)
        return total

    assert int(total_length(ffm(data, 3, **SMALL_READS))) == want


def test_built_and_iterated_in_tf_function(tfrecords, stock):
    data = tfrecords()
    want = stock(data, 2)

    @tf.function
    def lengths_and_count(files):
        ds = tf_ffm.FFMRecordDataset(files, num_parallel_reads=2,
                                     **SMALL_READS)
        return ds.reduce(
            (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
            lambda acc, r: (acc[0] + tf.cast(tf.strings.length(r), tf.int64),
                            acc[1] + 1))

    total, count = lengths_and_count(tf.constant(data.files))
    assert int(count) == len(want)
    assert int(total) == sum(len(r) for r in want)


def test_while_loop_over_iterator(tfrecords, stock):
    data = tfrecords()
    want = stock(data)
    ds = ffm(data, **SMALL_READS)

    @tf.function
    def first_n_lengths(n):
        it = iter(ds)
        out = tf.TensorArray(tf.int32, size=n)
        i = tf.constant(0)
        while i < n:
            out = out.write(i, tf.strings.length(next(it)))
            i += 1
        return out.stack()

    got = first_n_lengths(tf.constant(10)).numpy().tolist()
    assert got == [len(r) for r in want[:10]]


def test_map_batch_prefetch_repeat(tfrecords, stock):
    data = tfrecords("ZLIB")

    def pipeline(ds):
        return (ds.map(lambda r: (r, tf.strings.length(r)),
                       num_parallel_calls=2)
                .batch(4).prefetch(2).repeat(2))

    want = as_list(pipeline(tf.data.TFRecordDataset(
        data.files, "ZLIB", num_parallel_reads=3)))
    got = as_list(pipeline(ffm(data, 3, **SMALL_READS)))
    assert len(got) == len(want)
    for (g_rec, g_len), (w_rec, w_len) in zip(got, want):
        assert g_rec.tolist() == w_rec.tolist()
        assert g_len.tolist() == w_len.tolist()


def test_save_and_load_round_trip(tfrecords, stock, tmp_path):
    data = tfrecords("GZIP")
    path = str(tmp_path / "saved")
    ffm(data, 3, **SMALL_READS).save(
        path, shard_func=lambda _: tf.constant(0, tf.int64))
    loaded = tf.data.Dataset.load(path)
    assert loaded.element_spec == tf.TensorSpec([], tf.string)
    assert_same_records(as_list(loaded), stock(data, 3))


def test_snapshot(tfrecords, stock, tmp_path):
    data = tfrecords()
    want = stock(data, 2)
    # compression=None: the stock snapshot's default (snappy) fails on
    # records over 256 KiB whatever the source dataset.
    ds = ffm(data, 2, **SMALL_READS).snapshot(str(tmp_path / "snap"),
                                              compression=None)
    assert_same_records(as_list(ds), want)  # writes the snapshot
    assert sorted(as_list(ds)) == sorted(want)  # reads it back
    assert list((tmp_path / "snap").iterdir())


def test_serialised_graph_keeps_attrs(tfrecords):
    data = tfrecords("ZLIB")
    ds = ffm(data, 3, chunk_size=1234, first_chunk_size=56, memory_budget=789,
             io_threads=5, verify_crc=False)
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(ds._as_serialized_graph().numpy())
    nodes = [n for n in graph.node if n.op == "FFMRecordDataset"]
    assert len(nodes) == 1
    attrs = nodes[0].attr
    assert attrs["cycle_length"].i == 3
    assert attrs["chunk_size"].i == 1234
    assert attrs["first_chunk_size"].i == 56
    assert attrs["memory_budget"].i == 789
    assert attrs["io_threads"].i == 5
    assert attrs["verify_crc"].b is False
    strings = [tf.io.parse_tensor(n.attr["value"].tensor.SerializeToString(),
                                  tf.string).numpy()
               for n in graph.node if n.op == "Const"
               and n.attr["value"].tensor.dtype == tf.string.as_datatype_enum]
    vectors = [s.tolist() for s in strings if not isinstance(s, bytes)]
    assert [f.encode() for f in data.files] in vectors
    assert b"ZLIB" in [s for s in strings if isinstance(s, bytes)]


def test_graph_rewrite_round_trip(tfrecords, stock):
    # Static optimisations rebuild the dataset from its serialised graph.
    data = tfrecords("GZIP")
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = True
    options.experimental_optimization.map_and_batch_fusion = True
    options.experimental_optimization.noop_elimination = True
    ds = ffm(data, 2, **SMALL_READS).map(lambda r: r).batch(5) \
        .with_options(options)
    want = as_list(tf.data.TFRecordDataset(
        data.files, "GZIP", num_parallel_reads=2).batch(5))
    got = as_list(ds)
    assert [b.tolist() for b in got] == [b.tolist() for b in want]


def test_options_and_cardinality_like_stock(tfrecords):
    data = tfrecords()
    for n in [None, 3, tf.data.AUTOTUNE]:
        ours = ffm(data, n)
        theirs = tf.data.TFRecordDataset(data.files, num_parallel_reads=n)
        assert int(ours.cardinality()) == tf.data.UNKNOWN_CARDINALITY
        assert int(ours.cardinality()) == int(theirs.cardinality())
        assert isinstance(ours.options(), tf.data.Options)
    assert ffm(data).options() == tf.data.TFRecordDataset(data.files).options()
    files = tf.data.Dataset.from_tensor_slices(data.files)
    assert int(tf_ffm.FFMRecordDataset(files).cardinality()) == \
        tf.data.UNKNOWN_CARDINALITY
