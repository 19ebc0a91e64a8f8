"""TF's own random-access protocol over an indexed FFMRecordDataset: TF's
global shuffle drives the source through the iterator context's index
mapper, so output k must be record index_mapper(k), checkpoints must restore
through restored_element_count, and a dataset that cannot be reordered must
refuse rather than return records in file order.

The reference for "which permutation" is the same pipeline over
tf.data.Dataset.range: in TF 2.21 the mapper is a function of the shuffle's
seeds and the input's cardinality only (index_shuffle in
global_shuffle_dataset_op.cc), so a source that honours it yields
stock[range_permutation[k]] at position k.
"""
import collections

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.data.experimental.ops import global_shuffle_op

import tf_ffm
from conftest import numpy, save_then_restore

global_shuffle = global_shuffle_op._global_shuffle  # pylint: disable=protected-access


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Files of distinct records (an empty one among them), the stock
    reader's records and their index."""
    root = tmp_path_factory.mktemp("global_shuffle")
    rng = np.random.default_rng(14)
    files = []
    for f, n in enumerate([30, 0, 41, 17, 9]):
        path = str(root / f"part-{f}.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for r in range(n):
                w.write(f"{f}:{r}:".encode() + rng.bytes(int(rng.integers(0, 2000))))
        files.append(path)
    stock = [x.numpy() for x in tf.data.TFRecordDataset(files)]
    assert len(set(stock)) == len(stock) == 97
    return files, stock, tf_ffm.RecordIndex.build(files, progress=False)


def _read(ds):
    return [x.numpy() for x in ds]


def _range_order(n, **kwargs):
    """The permutation TF's global shuffle gives range(n)."""
    return [int(i) for i in global_shuffle(tf.data.Dataset.range(n), **kwargs)]


def test_a_permutation_of_the_stock_records_not_in_file_order(data):
    files, stock, idx = data
    ds = tf_ffm.FFMRecordDataset(files, index=idx)
    shuffled = global_shuffle(ds, seed=3)
    assert int(shuffled.cardinality()) == int(ds.cardinality()) == len(stock)
    got = _read(shuffled)
    assert collections.Counter(got) == collections.Counter(stock)
    assert len(got) == len(set(got)) == len(stock)  # each exactly once
    assert got != stock


def test_output_k_is_the_record_the_index_mapper_names(data):
    files, stock, idx = data
    ds = tf_ffm.FFMRecordDataset(files, index=idx)
    for seed in (3, 2024):
        got = _read(global_shuffle(ds, seed=seed))
        assert got == [stock[i] for i in _range_order(len(stock), seed=seed)]


def test_deterministic_for_a_seed_and_reshuffled_each_epoch(data):
    files, stock, idx = data

    def make(seed, **kwargs):
        return global_shuffle(tf_ffm.FFMRecordDataset(files, index=idx), seed=seed,
                              **kwargs)

    ds = make(5)
    first, second = _read(ds), _read(ds)
    assert collections.Counter(second) == collections.Counter(stock)
    assert second != first
    assert _read(make(5)) == first  # a new pipeline, the same seed
    assert _read(make(6)) != first
    # Each epoch follows TF's own order for that epoch.
    reference = global_shuffle(tf.data.Dataset.range(len(stock)), seed=5)
    for epoch in (first, second):
        assert epoch == [stock[int(i)] for i in reference]
    fixed = make(5, reshuffle_each_iteration=False)
    assert _read(fixed) == _read(fixed)


def test_through_map_and_batch_as_over_range(data):
    """Datasets between the source and the shuffle pass the mapper on (batch
    composes its own): the same pipeline over range names the records."""
    files, stock, idx = data

    def pipeline(ds):
        return global_shuffle(ds.map(lambda x: x).batch(4, drop_remainder=True),
                              seed=8)

    got = [list(b) for b in numpy(list(pipeline(tf_ffm.FFMRecordDataset(files, index=idx))))]
    want = [[stock[i] for i in b] for b in numpy(list(pipeline(tf.data.Dataset.range(len(stock)))))]
    assert got == want and len(got) == len(stock) // 4


def test_a_record_level_shard_is_shuffled_within_itself(data):
    files, stock, idx = data
    n = len(stock)
    start, end = n * 1 // 3, n * 2 // 3
    ds = tf_ffm.FFMRecordDataset(files, index=idx, shard=(3, 1))
    assert int(ds.cardinality()) == end - start
    assert tf.data.experimental.at(ds, 0).numpy() == stock[start]
    got = _read(global_shuffle(ds, seed=9))
    assert got == [stock[start + i] for i in _range_order(end - start, seed=9)]
    assert sorted(got) == sorted(stock[start:end])


@pytest.mark.parametrize("k", [0, 1, 40, 96, 97])
def test_checkpoint_mid_epoch_restores_the_rest_exactly(data, tmp_path, k):
    files, stock, idx = data

    def make():  # reshuffled each epoch: the seeds come from the checkpoint
        return global_shuffle(tf_ffm.FFMRecordDataset(files, index=idx), seed=11)

    taken, restored, rest = save_then_restore(make, k, tmp_path, advance_fresh=5)
    assert len(taken) == k
    assert restored == rest
    assert taken + restored == _read(make())
    assert collections.Counter(taken + restored) == collections.Counter(stock)


def test_checkpoint_in_a_later_epoch_restores_that_epoch(data, tmp_path):
    files, stock, idx = data

    def make():
        return global_shuffle(tf_ffm.FFMRecordDataset(files, index=idx),
                              seed=12).repeat(2)

    taken, restored, rest = save_then_restore(make, len(stock) + 30, tmp_path)
    assert restored == rest and len(rest) == len(stock) - 30
    second_epoch = taken[len(stock):] + restored
    assert collections.Counter(second_epoch) == collections.Counter(stock)
    assert second_epoch != taken[:len(stock)]


def test_without_an_index_refuses_naming_the_fix(data):
    files, _, _ = data
    for ds in (tf_ffm.FFMRecordDataset(files),
               tf_ffm.FFMRecordDataset(files).map(lambda x: x)):
        with pytest.raises(tf.errors.FailedPreconditionError,
                           match=r"without an index has no random access.*index="):
            _read(global_shuffle(ds, seed=1))


@pytest.mark.parametrize("mode", ["global", "block"])
def test_a_shuffle_of_its_own_refuses_naming_the_fix(data, mode):
    files, _, idx = data
    ds = tf_ffm.FFMRecordDataset(files, index=idx, shuffle=mode, seed=1)
    with pytest.raises(tf.errors.FailedPreconditionError,
                       match=f"shuffle=\"{mode}\"\\) already shuffles.*use one of the two"):
        _read(global_shuffle(ds, seed=1))
