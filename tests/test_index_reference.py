"""Indexes by reference: a dataset given an index file refers to its path
(the graph stays the same size whatever the record count), each process maps
the file (s3:// ones fetched once into the index cache), blocks of offsets
are checked when used, and IndexWriter streams indexes of any size."""
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

import tf_ffm
from conftest import write_records
from s3_server import upload_files

pytest_plugins = ["s3_server"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("indexref")
    rng = np.random.default_rng(9)
    files = []
    for f, n in enumerate([30, 0, 55]):
        path = str(root / f"part-{f}.tfrecord")
        write_records(path, [f"{f}:{r}:".encode() + rng.bytes(int(rng.integers(0, 900)))
                             for r in range(n)])
        files.append(path)
    stock = [x.numpy() for x in tf.data.TFRecordDataset(files)]
    index_path = str(root / "data.idx")
    tf_ffm.RecordIndex.build(files, progress=False).save(index_path)
    return root, files, stock, index_path


def _read(ds):
    return [x.numpy() for x in ds]


def _graph_bytes(ds):
    return len(ds._as_serialized_graph().numpy())


def test_a_path_is_read_in_place_and_gives_the_stock_records(data):
    _, files, stock, index_path = data
    idx = tf_ffm.RecordIndex.open(index_path)
    assert idx.path == index_path and len(idx) == len(stock)
    assert _read(tf_ffm.FFMRecordDataset(files, index=index_path)) == stock
    assert _read(tf_ffm.FFMRecordDataset(files, index=idx)) == stock
    shuffled = _read(tf_ffm.FFMRecordDataset(files, index=index_path,
                                             shuffle="global", seed=3))
    assert shuffled != stock and sorted(shuffled) == sorted(stock)
    ds = tf_ffm.FFMRecordDataset(files, index=index_path)
    assert tf.data.experimental.at(ds, 60).numpy() == stock[60]


def test_graph_size_does_not_grow_with_records_when_referenced(data, tmp_path):
    _, files, _, _ = data
    sizes = {}
    for n in (10, 20_000):
        path = str(tmp_path / f"f{n}.tfrecord")
        write_records(path, [b"x"] * n)
        built = tf_ffm.RecordIndex.build([path], progress=False)
        embedded = _graph_bytes(tf_ffm.FFMRecordDataset([path], index=built))
        built.save(str(tmp_path / f"f{n}.idx"))  # now referred to by its path
        referenced = _graph_bytes(tf_ffm.FFMRecordDataset([path], index=built))
        sizes[n] = (embedded, referenced)
    # Embedded, the graph carries 8 bytes per record; referenced, only the
    # path (whose length differs by three characters).
    assert sizes[20_000][0] - sizes[10][0] >= 8 * (20_000 - 10)
    assert abs(sizes[20_000][1] - sizes[10][1]) <= 8
    assert sizes[20_000][1] < 2_000


def test_checkpoint_and_pickle_keep_the_reference(data, tmp_path):
    _, files, stock, index_path = data
    idx = tf_ffm.RecordIndex.open(index_path)
    again = pickle.loads(pickle.dumps(idx))
    assert again.path == index_path and again.serialized == idx.serialized

    def make():
        return tf_ffm.FFMRecordDataset(files, index=idx, shuffle="block", seed=1,
                                       chunk_size=4096)
    it = iter(make())
    first = [next(it).numpy() for _ in range(20)]
    ckpt = tf.train.Checkpoint(it=it)
    saved = ckpt.save(str(tmp_path / "ckpt"))
    rest = [x.numpy() for x in it]
    fresh = iter(make())
    tf.train.Checkpoint(it=fresh).restore(saved)
    assert [x.numpy() for x in fresh] == rest
    assert sorted(first + rest) == sorted(stock)


def test_a_corrupt_block_fails_the_reads_naming_the_index(data, tmp_path):
    _, files, _, index_path = data
    corrupt = tmp_path / "corrupt.idx"
    raw = bytearray(open(index_path, "rb").read())
    raw[64 + 8 * 3] ^= 0x40  # record 3's offset
    corrupt.write_bytes(bytes(raw))
    idx = tf_ffm.RecordIndex.open(corrupt)  # header and file table are fine
    with pytest.raises(tf.errors.DataLossError, match="corrupt.idx.*checksum"):
        idx[3]
    with pytest.raises(tf.errors.DataLossError, match="corrupt.idx"):
        _read(tf_ffm.FFMRecordDataset(files, index=str(corrupt)))
    raw = bytearray(open(index_path, "rb").read())
    raw[-3] ^= 1  # the file table
    corrupt.write_bytes(bytes(raw))
    with pytest.raises(tf.errors.DataLossError, match="corrupt.idx.*file table"):
        tf_ffm.RecordIndex.open(corrupt)


def test_index_writer_streams_an_index_equal_to_build(data, tmp_path):
    _, files, stock, index_path = data
    built = tf_ffm.RecordIndex.open(index_path)
    out = tmp_path / "written.idx"
    start = 0
    with tf_ffm.IndexWriter(out) as w:
        for uri, size, mtime, count in zip(built.files, built.sizes,
                                           built.mtimes_ns, built.counts):
            w.add_file(uri, size, mtime, built.lengths[start:start + count])
            start += count
    assert out.read_bytes() == open(index_path, "rb").read()
    assert _read(tf_ffm.FFMRecordDataset(files, index=str(out))) == stock
    with pytest.raises(ValueError):
        with tf_ffm.IndexWriter(tmp_path / "never.idx") as w:
            raise ValueError("stop")
    assert not any(p.name.startswith("never.idx") for p in tmp_path.iterdir())
    with pytest.raises(tf.errors.InvalidArgumentError, match="run past"):
        with tf_ffm.IndexWriter(tmp_path / "bad.idx") as w:
            w.add_file(files[0], 10, 0, [100])


def test_s3_index_is_fetched_once_into_the_cache(data, moto_s3, index_cache):
    _, files, stock, index_path = data
    client = moto_s3.client()
    uris = upload_files(client, "idxref", files)
    tf_ffm.RecordIndex.build(uris, progress=False).save("s3://idxref/data.idx")
    before = set(os.listdir(index_cache))
    ds = tf_ffm.FFMRecordDataset(uris, index="s3://idxref/data.idx")
    assert _read(ds) == stock
    fetched = set(os.listdir(index_cache)) - before
    assert len(fetched) == 1 and not any(n.endswith(".tmp") for n in fetched)
    # Opened again: served from the cache, the same file.
    assert _read(tf_ffm.FFMRecordDataset(uris, index="s3://idxref/data.idx",
                                         shuffle="global")) != stock
    assert set(os.listdir(index_cache)) - before == fetched
    # A replaced object is fetched again, never served stale: of another
    # size, and of the same size (told apart by its ETag; S3 has no mtime).
    tf_ffm.RecordIndex.build(uris[:1], progress=False).save("s3://idxref/data.idx")
    small = tf_ffm.RecordIndex.open("s3://idxref/data.idx")
    assert small.files == uris[:1] and len(small) == 30
    assert len(set(os.listdir(index_cache)) - before) == 2
    renamed = [u.replace("/0.", "/9.") for u in uris[:1]]  # same length
    client.copy_object(Bucket="idxref", Key="9.tfrecord",
                       CopySource={"Bucket": "idxref", "Key": "0.tfrecord"})
    tf_ffm.RecordIndex.build(renamed, progress=False).save("s3://idxref/data.idx")
    same_size = tf_ffm.RecordIndex.open("s3://idxref/data.idx")
    assert same_size.serialized_size == small.serialized_size
    assert same_size.files == renamed
    assert len(set(os.listdir(index_cache)) - before) == 3
