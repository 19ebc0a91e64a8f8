"""Benchmark datasets: deterministic, stock-readable, equal shards, generated once."""
import filecmp
import json
import os

import pytest
import tensorflow as tf

from tf_ffm.bench import datagen

KiB = 1 << 10


def _lengths(paths):
    return [len(r) for r in tf.data.TFRecordDataset(paths).as_numpy_iterator()]


@pytest.mark.parametrize("name,size_mb,shards", [("small", 0.5, 3), ("large", 2, 2)])
def test_stock_reader_reads_every_record(tmp_path, name, size_mb, shards):
    m = datagen.generate(tmp_path, name, size_mb=size_mb, shards=shards, seed=7)
    paths = datagen.dataset_files(m)
    assert len(paths) == shards
    sizes = {os.path.getsize(p) for p in paths}
    assert sizes == {int(size_mb * datagen.MiB) // shards}, "shards differ in size"
    assert sum(f["size"] for f in m["files"]) == m["size"]

    lengths = _lengths(paths)
    assert len(lengths) == m["records"] == sum(f["records"] for f in m["files"])
    assert sum(lengths) == m["payload_bytes"]
    assert m["size"] == m["payload_bytes"] + datagen.FRAMING_BYTES * m["records"]
    mean, spread = datagen.KINDS[name]
    # Every record but each shard's last (it fills the shard) is in the range.
    ends = set()
    count = 0
    for f in m["files"]:
        count += f["records"]
        ends.add(count - 1)
    inner = [n for i, n in enumerate(lengths) if i not in ends]
    assert inner and all(mean - spread <= n <= mean + spread for n in inner)
    assert abs(sum(inner) / len(inner) - mean) < spread / 2


def test_same_parameters_same_bytes(tmp_path):
    a = datagen.generate(tmp_path / "a", "small", size_mb=0.25, shards=2, seed=3)
    b = datagen.generate(tmp_path / "b", "small", size_mb=0.25, shards=2, seed=3)
    for pa, pb in zip(datagen.dataset_files(a), datagen.dataset_files(b)):
        assert filecmp.cmp(pa, pb, shallow=False)
    c = datagen.generate(tmp_path / "c", "small", size_mb=0.25, shards=2, seed=4)
    assert not filecmp.cmp(datagen.dataset_files(a)[0], datagen.dataset_files(c)[0],
                           shallow=False)


def test_existing_dataset_is_not_regenerated(tmp_path):
    m = datagen.generate(tmp_path, "small", size_mb=0.25, shards=2)
    first = datagen.dataset_files(m)[0]
    os.utime(first, (1, 1))
    again = datagen.generate(tmp_path, "small", size_mb=0.25, shards=2)
    assert os.stat(first).st_mtime == 1, "regenerated although nothing changed"
    assert again["files"] == m["files"]

    # Other parameters: regenerated, and the old shards are gone.
    other = datagen.generate(tmp_path, "small", size_mb=0.25, shards=1)
    assert [f["name"] for f in other["files"]] == [datagen.shard_name(0, 1)]
    assert sorted(e for e in os.listdir(other["dir"]) if e.endswith(".tfrecord")) == \
        [datagen.shard_name(0, 1)]
    with open(os.path.join(other["dir"], datagen.MANIFEST)) as f:
        assert json.load(f)["params"]["shards"] == 1


def test_damaged_shard_is_regenerated(tmp_path):
    m = datagen.generate(tmp_path, "small", size_mb=0.25, shards=2)
    path = datagen.dataset_files(m)[1]
    with open(path, "r+b") as f:
        f.truncate(100)
    datagen.generate(tmp_path, "small", size_mb=0.25, shards=2)
    assert os.path.getsize(path) == m["files"][1]["size"]
    assert len(_lengths([path])) == m["files"][1]["records"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        datagen.generate(tmp_path, "medium")
    with pytest.raises(ValueError):
        datagen.generate(tmp_path, "small", size_mb=0)


def test_user_data_description(tmp_path):
    m = datagen.generate(tmp_path, "small", size_mb=0.25, shards=2)
    user = datagen.describe_user_data(m["dir"])
    assert [f["name"] for f in user["files"]] == [f["name"] for f in m["files"]]
    assert user["size"] == m["size"] and user["records"] is None
    by_glob = datagen.describe_user_data(os.path.join(m["dir"], "*.tfrecord"))
    assert by_glob["files"] == user["files"]
    with pytest.raises(FileNotFoundError):
        datagen.describe_user_data(tmp_path / "nothing-here")
