"""The Python surface of the drop-in, and iterator lifetimes: destroying an
iterator mid-read is prompt, and iterators leave no native threads behind.
"""
import gc
import inspect
import os
import time

import pytest
import tensorflow as tf

import tf_ffm
from conftest import (SMALL_READS, as_list, assert_same_records, ffm,
                      thread_count, write_records)

KiB = 1 << 10


def test_positional_parameters_are_the_stock_ones():
    ours = inspect.signature(tf_ffm.FFMRecordDataset.__init__).parameters
    theirs = inspect.signature(tf.data.TFRecordDataset.__init__).parameters
    positional = [p for p in ours.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    stock_positional = [p for p in theirs.values()
                        if p.kind in (p.POSITIONAL_ONLY,
                                      p.POSITIONAL_OR_KEYWORD)]
    assert [(p.name, p.kind, p.default) for p in positional] == \
        [(p.name, p.kind, p.default) for p in stock_positional]
    assert [p.name for p in positional] == [
        "self", "filenames", "compression_type", "buffer_size",
        "num_parallel_reads", "name"]
    extras = [p for p in ours.values() if p not in positional]
    assert extras, "expected keyword-only extras"
    for p in extras:
        assert p.kind == p.KEYWORD_ONLY, p
    assert {"chunk_size", "first_chunk_size", "memory_budget", "io_threads",
            "deterministic", "verify_crc"} <= {p.name for p in extras}


def test_extras_are_not_positional(tfrecords):
    data = tfrecords()
    with pytest.raises(TypeError):
        tf_ffm.FFMRecordDataset(data.files, None, None, None, None, 1000)


def test_all_positional_arguments_like_stock(tfrecords, stock):
    data = tfrecords("GZIP")
    got = as_list(tf_ffm.FFMRecordDataset(data.files, "GZIP", 1024, 3,
                                          "my_reader"))
    want = as_list(tf.data.TFRecordDataset(data.files, "GZIP", 1024, 3,
                                           "my_reader"))
    assert_same_records(got, want)
    assert_same_records(got, stock(data, 3))


@pytest.mark.parametrize("make_filenames", [
    pytest.param(lambda files: files, id="list"),
    pytest.param(lambda files: tf.data.Dataset.from_tensor_slices(files),
                 id="dataset"),
])
@pytest.mark.parametrize("num_parallel_reads", [None, 2, tf.data.AUTOTUNE])
def test_element_spec_and_type(tfrecords, make_filenames, num_parallel_reads):
    data = tfrecords()
    ds = tf_ffm.FFMRecordDataset(make_filenames(data.files),
                                 num_parallel_reads=num_parallel_reads)
    assert isinstance(ds, tf.data.Dataset)
    assert ds.element_spec == tf.TensorSpec([], tf.string)
    assert ds.element_spec == tf.data.TFRecordDataset(
        make_filenames(data.files),
        num_parallel_reads=num_parallel_reads).element_spec
    first = next(iter(ds))
    assert first.dtype == tf.string and first.shape == []


def test_keyword_extras_accepted(tfrecords, stock):
    data = tfrecords()
    ds = ffm(data, 2, chunk_size=4096, first_chunk_size=512,
             memory_budget=1 << 20, io_threads=3, deterministic=True,
             verify_crc=True)
    assert_same_records(as_list(ds), stock(data, 2))


def test_dataset_methods_compose_like_stock(tfrecords):
    data = tfrecords()

    def transforms(ds):
        return {
            "shard": ds.shard(3, 1),
            "skip-take": ds.skip(5).take(20),
            "filter": ds.filter(lambda r: tf.strings.length(r) > 100),
            "enumerate": ds.enumerate(start=10).map(lambda i, r: i),
            "zip": tf.data.Dataset.zip((ds, ds.skip(1))).map(
                lambda a, b: a + b),
            "unbatch": ds.batch(4).unbatch(),
        }

    ours = transforms(ffm(data, 3, **SMALL_READS))
    theirs = transforms(tf.data.TFRecordDataset(data.files,
                                                num_parallel_reads=3))
    for name in ours:
        got, want = as_list(ours[name]), as_list(theirs[name])
        assert len(got) == len(want), name
        assert got == want, name


# --- iterator lifetimes -------------------------------------------------------

@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """~6 MiB in 64 KiB records: with tiny chunks, reading it all is slow."""
    path = str(tmp_path_factory.mktemp("big") / "big.tfrecord")
    write_records(path, [os.urandom(64 * KiB) for _ in range(96)])
    return path


SLOW_READS = dict(chunk_size=64, first_chunk_size=16, io_threads=16)


def _destroy_seconds(holder):
    """Seconds to drop the only reference to the iterator in `holder`."""
    start = time.monotonic()
    holder.clear()
    gc.collect()
    return time.monotonic() - start


def test_destroy_iterator_mid_read_is_prompt(big_file):
    want = as_list(tf.data.TFRecordDataset(big_file).take(3))
    ds = tf_ffm.FFMRecordDataset(big_file, **SLOW_READS)
    for _ in range(3):
        holder = [iter(ds)]
        assert next(holder[0]).numpy() == want[0]
        # Generous: only a hang or draining the whole file would exceed it.
        assert _destroy_seconds(holder) < 5.0
    it = iter(ds)
    assert_same_records([next(it).numpy() for _ in range(3)], want)


def test_destroy_iterator_while_prefetch_thread_reads(big_file):
    # A background tf.data thread is inside GetNext when the iterator dies.
    want = as_list(tf.data.TFRecordDataset(big_file).take(2))
    ds = tf_ffm.FFMRecordDataset(big_file, **SLOW_READS).prefetch(8)
    for _ in range(3):
        holder = [iter(ds)]
        assert next(holder[0]).numpy() == want[0]
        time.sleep(0.05)
        assert _destroy_seconds(holder) < 5.0
    it = iter(ds)
    assert_same_records([next(it).numpy() for _ in range(2)], want)


def test_destroy_interleaved_iterator_mid_read(big_file, tfrecords, stock):
    ds = tf_ffm.FFMRecordDataset([big_file] * 3, num_parallel_reads=3,
                                 **SLOW_READS)
    holder = [iter(ds)]
    for _ in range(4):
        next(holder[0])
    assert _destroy_seconds(holder) < 5.0
    data = tfrecords("GZIP")
    got = as_list(tf_ffm.FFMRecordDataset(data.files, "GZIP",
                                          num_parallel_reads=3))
    assert_same_records(got, stock(data, 3))


def _settled_thread_count(limit, timeout=10.0):
    """Thread count once it drops to `limit` (or after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        count = thread_count()
        if count <= limit or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def test_many_iterators_do_not_leak_threads(tfrecords, big_file, tmp_path):
    data = tfrecords()
    missing = str(tmp_path / "missing.tfrecord")
    datasets = {
        "one-file": tf_ffm.FFMRecordDataset(big_file, **SLOW_READS),
        "interleave": ffm(data, 3, io_threads=16, **SMALL_READS),
        "error": tf_ffm.FFMRecordDataset([data.files[0], missing],
                                         io_threads=8),
    }

    def churn(rounds):
        for i in range(rounds):
            for name, ds in datasets.items():
                it = iter(ds)
                if name == "error":
                    with pytest.raises(tf.errors.NotFoundError):
                        for _ in it:
                            pass
                elif i % 4:  # some iterators are never read from
                    next(it)
                del it

    churn(2)  # TF's own pools start lazily: warm them up first
    baseline = _settled_thread_count(0, timeout=0.5)
    churn(67)  # ~200 iterators, each with its own I/O threads
    after = _settled_thread_count(baseline + 4)
    # Leaking even one iterator's pool would add 8 or 16 threads.
    assert after <= baseline + 4, (baseline, after)


def test_abandoned_iterators_while_reading_do_not_leak(big_file):
    ds = tf_ffm.FFMRecordDataset(big_file, chunk_size=4 * KiB,
                                 first_chunk_size=1 * KiB, io_threads=16)
    for _ in range(3):
        next(iter(ds))
    baseline = _settled_thread_count(0, timeout=0.5)
    live = [iter(ds) for _ in range(10)]
    for it in live:
        next(it)
    during = thread_count()
    assert during >= baseline  # the readers run on native threads
    del live, it
    after = _settled_thread_count(baseline + 4)
    assert after <= baseline + 4, (baseline, during, after)


def test_import_after_tensorflow_registers_the_ops(tmp_path):
    # A fresh process that only imports tf_ffm (after TensorFlow) can run a
    # serialised FFMRecordDataset graph: the op is registered at import.
    import subprocess
    import sys

    path = str(tmp_path / "r.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for i in range(5):
            w.write(b"rec%d" % i)
    graph = tf_ffm.FFMRecordDataset([path])._as_serialized_graph()
    graph_file = tmp_path / "graph.pb"
    graph_file.write_bytes(graph.numpy())
    code = (
        "import sys, tensorflow as tf\n"
        "import tf_ffm\n"
        "from tensorflow.python.data.ops import dataset_ops\n"
        "g = open(sys.argv[1], 'rb').read()\n"
        "ds = dataset_ops.from_variant(\n"
        "    tf.raw_ops.DatasetFromGraph(graph_def=g), tf.TensorSpec([], tf.string))\n"
        "print([r.decode() for r in ds.as_numpy_iterator()])\n")
    out = subprocess.run([sys.executable, "-c", code, str(graph_file)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == str([f"rec{i}" for i in range(5)])
