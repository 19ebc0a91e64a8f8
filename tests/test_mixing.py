"""WeightedMix: weights that change during iteration, seeded draws."""
import logging
import time

import numpy as np
import pytest
import tensorflow as tf

import tf_ffm


def _write(path, records):
    with tf.io.TFRecordWriter(str(path)) as w:
        for r in records:
            w.write(r)
    return str(path)


@pytest.fixture
def files_ab(tmp_path):
    a = _write(tmp_path / "a.tfrecord", [b"a%d" % i for i in range(50)])
    b = _write(tmp_path / "b.tfrecord", [b"b%d" % i for i in range(50)])
    return a, b


def _constant(tag):
    return tf.data.Dataset.from_tensors(tag).repeat()


def _sources(mix, n):
    """The first letter (source) of the next n elements, as one string."""
    return "".join(x[:1].decode() for x in mix.take(n).as_numpy_iterator())


def _without_final_prefetch(ds):
    # tf.data injects a prefetch at the end of an autotuned pipeline; it would
    # hold elements drawn before set_weights (documented in tf_ffm.mixing).
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False
    return ds.with_options(options)


def test_weight_one_zero_reads_only_the_first(files_ab):
    a, b = files_ab
    mix = tf_ffm.WeightedMix([tf_ffm.FFMRecordDataset(a).repeat(),
                              tf_ffm.FFMRecordDataset(b).repeat()], (1, 0), seed=1)
    records = list(mix.take(300).as_numpy_iterator())
    assert {r[:1] for r in records} == {b"a"}
    assert records[:50] == [b"a%d" % i for i in range(50)]  # A's own order kept


def test_set_weights_mid_iteration_applies_to_next_records(files_ab):
    a, b = files_ab
    mix = tf_ffm.WeightedMix([tf_ffm.FFMRecordDataset(a).repeat(),
                              tf_ffm.FFMRecordDataset(b).repeat()], (1, 0), seed=1)
    it = iter(_without_final_prefetch(mix))
    before = [next(it).numpy() for _ in range(100)]
    time.sleep(0.2)  # a mix that drew ahead in the background would show it now
    mix.set_weights((0, 1))
    after = [next(it).numpy() for _ in range(100)]
    mix.set_weights((1, 0))
    back = [next(it).numpy() for _ in range(20)]
    assert {r[:1] for r in before} == {b"a"}
    assert {r[:1] for r in after} == {b"b"}
    assert after[:50] == [b"b%d" % i for i in range(50)]
    assert {r[:1] for r in back} == {b"a"}
    assert mix.weights == (1.0, 0.0)


def test_empirical_proportions_follow_weights():
    n = 2000
    mix = tf_ffm.WeightedMix([_constant("a"), _constant("b")], (0.3, 0.7), seed=11)
    share_a = _sources(mix, n).count("a") / n
    # Binomial sd is about 0.0102: 0.05 is ~5 sd; uniform (0.5) or swapped
    # (0.7) weights are far outside.
    assert abs(share_a - 0.3) < 0.05, share_a

    mix.set_weights((3, 1))  # normalised to (0.75, 0.25)
    assert mix.weights == pytest.approx((0.75, 0.25))
    share_a = _sources(mix, n).count("a") / n
    assert abs(share_a - 0.75) < 0.05, share_a


def test_same_seed_same_sequence_different_seed_different():
    def run(seed):
        mix = tf_ffm.WeightedMix([_constant("a"), _constant("b"), _constant("c")],
                                 (0.2, 0.3, 0.5), seed=seed)
        it = iter(_without_final_prefetch(mix))
        first = "".join(next(it).numpy().decode() for _ in range(100))
        mix.set_weights((0.6, 0.2, 0.2))
        return first + "".join(next(it).numpy().decode() for _ in range(100))

    assert run(5) == run(5)
    assert run(5) != run(6)
    assert set(run(5)) == {"a", "b", "c"}


@pytest.mark.parametrize("rerandomize", [False, True])
def test_rerandomize_each_iteration(rerandomize):
    mix = tf_ffm.WeightedMix([_constant("a"), _constant("b")], (0.5, 0.5), seed=2,
                             rerandomize_each_iteration=rerandomize)
    epoch = mix.take(64)  # iterated twice: two iterators of one dataset

    def sources():
        return "".join(x.decode() for x in epoch.as_numpy_iterator())

    first, second = sources(), sources()
    assert (first != second) == rerandomize


def test_stops_when_a_chosen_dataset_is_exhausted():
    mix = tf_ffm.WeightedMix([tf.data.Dataset.from_tensor_slices(["a"] * 5),
                              _constant("b")], (1, 0), seed=1)
    assert _sources(mix, 100) == "aaaaa"


def test_logs_seed_and_weights(caplog):
    caplog.set_level(logging.INFO, logger="tf_ffm.mixing")
    mix = tf_ffm.WeightedMix([_constant("a"), _constant("b")], (1, 1))
    assert isinstance(mix.seed, int)
    assert f"seed={mix.seed}" in caplog.text and "[0.5, 0.5]" in caplog.text
    mix.set_weights((0.25, 0.75))
    assert "[0.5, 0.5] -> [0.25, 0.75]" in caplog.text.splitlines()[-1]


@pytest.mark.parametrize("weights", [(1,), (1, 2, 3), (-1, 2), (0, 0), (np.nan, 1)])
def test_rejects_bad_weights(weights):
    with pytest.raises(ValueError, match="weights"):
        tf_ffm.WeightedMix([_constant("a"), _constant("b")], weights, seed=1)
    mix = tf_ffm.WeightedMix([_constant("a"), _constant("b")], (1, 1), seed=1)
    with pytest.raises(ValueError, match="weights"):
        mix.set_weights(weights)
    assert mix.weights == (0.5, 0.5)


def test_checkpoint_resumes_draws_and_weights(tmp_path):
    mix = tf_ffm.WeightedMix([tf.data.Dataset.range(0, 1000),
                              tf.data.Dataset.range(1000, 2000)], (0.5, 0.5), seed=4)
    options = tf.data.Options()
    options.experimental_external_state_policy = (
        tf.data.experimental.ExternalStatePolicy.IGNORE)
    it = iter(mix.with_options(options))
    [next(it) for _ in range(20)]
    mix.set_weights((0.2, 0.8))
    ckpt = tf.train.Checkpoint(iterator=it, mix_weights=mix.variable)
    path = ckpt.save(str(tmp_path / "ckpt"))
    want = [int(next(it)) for _ in range(50)]
    mix.set_weights((1, 0))
    [next(it) for _ in range(10)]
    ckpt.restore(path)
    assert mix.weights == pytest.approx((0.2, 0.8))
    assert [int(next(it)) for _ in range(50)] == want
