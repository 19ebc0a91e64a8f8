"""RecordIndex and indexed reading: random access, global and block shuffle,
record-level shards and exact resume, all checked against the stock reader."""
import collections
import struct
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tf_ffm
from s3_server import upload_files

pytest_plugins = ["s3_server"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("index")
    rng = np.random.default_rng(5)
    files = []
    for f, n in enumerate([40, 0, 75, 23]):  # an empty file in the middle
        path = str(root / f"part-{f}.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for r in range(n):
                w.write(f"{f}:{r}:".encode() + rng.bytes(int(rng.integers(0, 3000))))
        files.append(path)
    stock = [x.numpy() for x in tf.data.TFRecordDataset(files)]
    return root, files, stock, tf_ffm.RecordIndex.build(files, progress=False)


def _read(ds):
    return [x.numpy() for x in ds]


def test_index_locates_every_record_on_disk(data):
    _, files, stock, idx = data
    assert len(idx) == len(stock) == 138
    for i in [0, 1, 39, 40, 114, 137, -1]:
        path, offset, length = idx[i]
        with open(path, "rb") as f:
            f.seek(offset)
            assert struct.unpack("<Q", f.read(8))[0] == length
            f.seek(offset + 12)
            assert f.read(length) == stock[i]
    with pytest.raises(IndexError):
        idx[len(idx)]


def test_build_draws_progress_only_when_asked_or_on_a_terminal(data, capsys):
    _, files, _, idx = data
    built = tf_ffm.RecordIndex.build(files)  # stderr is captured: not a tty
    assert "indexing" not in capsys.readouterr().err
    assert np.array_equal(built.lengths, idx.lengths)
    tf_ffm.RecordIndex.build(files, progress=True)
    assert "indexing" in capsys.readouterr().err


def test_save_load_round_trip_and_cli(data, tmp_path):
    root, files, _, idx = data
    idx.save(tmp_path / "a.idx")
    loaded = tf_ffm.RecordIndex.load(tmp_path / "a.idx")
    assert loaded.serialized == idx.serialized and loaded.files == files
    out = tmp_path / "cli.idx"
    subprocess.run([sys.executable, "-m", "tf_ffm.cli", "index", str(root / "*.tfrecord"),
                    "--out", str(out), "--quiet"], check=True, capture_output=True)
    assert tf_ffm.RecordIndex.load(out).serialized == idx.serialized


def test_save_and_load_on_s3_then_read_s3_files(data, moto_s3):
    _, files, stock, _ = data
    uris = upload_files(moto_s3.client(), "indexed", files, prefix="d/")
    tf_ffm.RecordIndex.build(uris, progress=False).save("s3://indexed/d.idx")
    idx = tf_ffm.RecordIndex.load("s3://indexed/d.idx")
    assert idx.files == uris
    ds = tf_ffm.FFMRecordDataset(uris, index=idx)
    assert _read(ds) == stock
    assert tf.data.experimental.at(ds, 77).numpy() == stock[77]


def test_text_index_import_equals_scan(data, tmp_path):
    _, files, _, idx = data
    idx_files = []
    for path in files:
        lines, offset = [], 0
        with open(path, "rb") as f:
            while header := f.read(12):
                length = struct.unpack("<Q", header[:8])[0]
                f.seek(length + 4, 1)
                lines.append(f"{offset} {16 + length}\n")
                offset += 16 + length
        text = tmp_path / (path.rsplit("/", 1)[1] + ".idx")
        text.write_text("".join(lines))
        idx_files.append(str(text))
    imported = tf_ffm.RecordIndex.from_text_index(files, idx_files)
    assert imported.serialized == idx.serialized
    bad = tmp_path / "bad.idx"
    bad.write_text("0 100\n50 100\n")  # not contiguous
    with pytest.raises(tf.errors.DataLossError, match="bad.idx"):
        tf_ffm.RecordIndex.from_text_index(files[:1], [str(bad)])


def test_file_order_cardinality_and_random_access(data):
    _, files, stock, idx = data
    ds = tf_ffm.FFMRecordDataset(files, index=idx)
    assert _read(ds) == stock
    assert int(ds.cardinality()) == len(stock)
    for i in [0, 39, 40, 100, len(stock) - 1]:
        assert tf.data.experimental.at(ds, i).numpy() == stock[i]
    with pytest.raises(tf.errors.OutOfRangeError):
        tf.data.experimental.at(ds, len(stock)).numpy()


@pytest.mark.parametrize("mode", ["global", "block"])
def test_shuffle_is_a_seeded_permutation_per_epoch(data, mode):
    _, files, stock, idx = data
    kw = dict(index=idx, shuffle=mode, chunk_size=4096)  # ~1-2 records per block
    ds = tf_ffm.FFMRecordDataset(files, seed=11, **kw)
    first, second = _read(ds), _read(ds)
    assert collections.Counter(first) == collections.Counter(stock)
    assert first != stock and second != first  # reshuffled each epoch
    assert _read(tf_ffm.FFMRecordDataset(files, seed=11, **kw)) == first
    assert _read(tf_ffm.FFMRecordDataset(files, seed=12, **kw)) != first
    fixed = tf_ffm.FFMRecordDataset(files, seed=11, reshuffle_each_iteration=False, **kw)
    assert _read(fixed) == _read(fixed)


def test_block_shuffle_mixes_only_within_windows(data):
    _, files, stock, idx = data
    ds = tf_ffm.FFMRecordDataset(files, index=idx, shuffle="block", seed=3,
                                 chunk_size=16 << 10)
    position = {r: i for i, r in enumerate(stock)}
    out = [position[r] for r in _read(ds)]
    # Windows of 8 blocks: consecutive outputs come from the same window,
    # so a run of 8 blocks' worth of records spans few distinct blocks.
    assert sorted(out) == list(range(len(stock))) and out != sorted(out)


@pytest.mark.parametrize("shuffle", [None, "global"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shards_are_disjoint_covering_and_balanced(data, shuffle, n):
    _, files, stock, idx = data
    shards = []
    for k in range(n):
        ds = tf_ffm.FFMRecordDataset(files, index=idx, shuffle=shuffle, seed=4, shard=(n, k))
        shards.append(_read(ds))
        assert int(ds.cardinality()) == len(shards[-1])
    assert collections.Counter(sum(shards, [])) == collections.Counter(stock)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.parametrize("kw", [dict(shuffle="global"), dict(shuffle="block", chunk_size=8192),
                                dict(shuffle="global", shard=(3, 1))],
                         ids=["global", "block", "global-shard"])
@pytest.mark.parametrize("k", [0, 1, 20, 45, 200])
def test_checkpoint_resumes_the_exact_shuffled_sequence(data, tmp_path, kw, k):
    _, files, _, idx = data
    make = lambda: tf_ffm.FFMRecordDataset(files, index=idx, seed=9, **kw)  # noqa: E731
    it = iter(make())
    for _ in range(k):
        if next(it, None) is None:
            break
    path = tf.train.Checkpoint(iterator=it).save(str(tmp_path / "ckpt"))
    rest = [x.numpy() for x in it]
    restored = iter(make())
    tf.train.Checkpoint(iterator=restored).restore(path)
    assert [x.numpy() for x in restored] == rest


def test_stale_index_names_the_changed_file(data, tmp_path):
    _, files, _, _ = data
    copy = [str(tmp_path / f"{i}.tfrecord") for i in range(2)]
    for src, dst in zip(files[:1] * 2, copy):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())
    idx = tf_ffm.RecordIndex.build(copy, progress=False)
    with tf.io.TFRecordWriter(copy[1]) as w:
        w.write(b"different")
    with pytest.raises(tf.errors.FailedPreconditionError, match=copy[1]):
        _read(tf_ffm.FFMRecordDataset(copy, index=idx))
    with pytest.raises(tf.errors.InvalidArgumentError, match="differ"):
        tf_ffm.FFMRecordDataset(copy[:1], index=idx)


def test_corrupt_or_truncated_index_is_data_loss_naming_it(data, tmp_path):
    _, _, _, idx = data
    raw = idx.serialized
    for name, body in [("flipped.idx", raw[:20] + bytes([raw[20] ^ 1]) + raw[21:]),
                       ("short.idx", raw[:-9])]:
        path = tmp_path / name
        path.write_bytes(body)
        with pytest.raises(tf.errors.DataLossError, match=name):
            tf_ffm.RecordIndex.load(path)


def test_argument_errors(data):
    _, files, _, idx = data
    for kw, err in [(dict(index=idx, shuffle="bogus"), ValueError),
                    (dict(shuffle="global"), ValueError),
                    (dict(shard=(2, 0)), ValueError),
                    (dict(index=idx, shard=(2, 2)), ValueError),
                    (dict(index=idx, compression_type="GZIP"), ValueError)]:
        with pytest.raises(err):
            tf_ffm.FFMRecordDataset(files, **kw)
