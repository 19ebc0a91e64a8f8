"""WeightedMix: sample from several datasets with weights you can change.

Fast File Mode leaves shuffling, sharding and the data mix to the training
script, so the mix can change while training runs, e.g. re-weighting classes
between epochs:

    mix = tf_ffm.WeightedMix([cats, dogs], (0.5, 0.5), seed=42)
    ds = mix.map(parse).batch(256).prefetch(tf.data.AUTOTUNE)

    class Reweight(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            mix.set_weights((0.5, 0.5) if epoch < 2 else (0.2, 0.8))

    model.fit(ds, epochs=5, callbacks=[Reweight()])

Why not `tf.data.Dataset.sample_from_datasets(datasets, weights=variable)`:
in TF 2.21 it does not accept a `tf.Variable`, and a tensor of weights is
read once, when the dataset is built. Its `weights=` dataset form reads per
element, but the `.map` that would read the variable may be turned into a
parallel map by tf.data's static optimisations, which then draws weights
several elements ahead. Here each draw reads the variable inside a `scan`
(never parallelised) feeding `choose_from_datasets` directly, so the mix
itself holds no element drawn with old weights.

What it does not control: anything buffered after it. A `prefetch`, a
`shuffle` buffer, a batch being filled, and the prefetch tf.data injects at
the end of an autotuned pipeline (`tf.data.Options().experimental_optimization
.inject_prefetch`) still hold elements drawn before `set_weights`. Between
epochs that is at most one buffer's worth, and none when each epoch starts a
new iterator (Keras does for a finite dataset).

Checkpointing an iterator (exact resume): the draws' position is part of
the iterator state, the weights are not. tf.data refuses to save a pipeline
that reads a variable unless told to ignore that external state, so save the
weights beside it:

    options = tf.data.Options()
    options.experimental_external_state_policy = (
        tf.data.experimental.ExternalStatePolicy.IGNORE)
    it = iter(mix.with_options(options))
    ckpt = tf.train.Checkpoint(iterator=it, mix_weights=mix.variable)

The variable lives in this process: the mix works with tf.data in the
trainer, not through the tf.data service.
"""
import logging
import os

import numpy as np
import tensorflow as tf
from tensorflow.python.data.ops import dataset_ops

log = logging.getLogger(__name__)


def _check_weights(weights, count):
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (count,):
        raise ValueError(f"need {count} weights, one per dataset, got {weights!r}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {weights!r}")
    return w / w.sum()


class WeightedMix(dataset_ops.DatasetV2):
    """Elements of `datasets`, each drawn from dataset i with probability w[i].

    Args:
      datasets: datasets with compatible element structure (repeat them for
        an endless mix).
      initial_weights: one non-negative weight per dataset (normalised).
      seed: the draws are a function of the seed and the sequence of weights,
        as in `tf.data.Dataset.sample_from_datasets`; None draws one (see
        `.seed`), which is logged so a run can be repeated.
      stop_on_empty_dataset: end when a chosen dataset is exhausted (default,
        as `choose_from_datasets`); with False, exhausted datasets are skipped
        - beware a weight > 0 only on exhausted datasets: the mix then spins.
      rerandomize_each_iteration: new draws for each new iterator of this
        dataset object (model.fit makes one per epoch), still a function of
        the seed.

    `set_weights(w)` applies to every draw made after it returns.
    """

    def __init__(self, datasets, initial_weights, seed=None, *,
                 stop_on_empty_dataset=True, rerandomize_each_iteration=False,
                 name=None):
        datasets = list(datasets)
        if not datasets:
            raise ValueError("WeightedMix needs at least one dataset")
        weights = _check_weights(initial_weights, len(datasets))
        if seed is None:
            seed = int.from_bytes(os.urandom(7), "little")
        self.seed = int(seed)
        # On the CPU: tf.data functions run there and read it at each draw.
        with tf.device("/CPU:0"):
            self._weights = tf.Variable(weights, dtype=tf.float32, trainable=False,
                                        name="mix_weights")
        log.info("WeightedMix(%s): seed=%d weights=%s", name or "", self.seed,
                 np.round(weights, 6).tolist())
        self._name = name

        def draw(state, key):
            logits = tf.math.log(self._weights.read_value())[tf.newaxis]  # log 0 = -inf: never
            index = tf.random.stateless_categorical(logits, 1, seed=key)[0, 0]
            return state, index

        keys = tf.data.Dataset.random(
            seed=self.seed, rerandomize_each_iteration=rerandomize_each_iteration).batch(2)
        choices = keys.scan(tf.constant(0, tf.int64), draw)
        self._impl = tf.data.Dataset.choose_from_datasets(
            datasets, choices, stop_on_empty_dataset=stop_on_empty_dataset)
        super().__init__(self._impl._variant_tensor)

    @property
    def weights(self):
        """The current (normalised) weights, as a tuple of floats."""
        return tuple(float(x) for x in self._weights.numpy())

    @property
    def variable(self):
        """The tf.Variable the draws read: checkpoint it with the iterator."""
        return self._weights

    def set_weights(self, weights):
        """Use `weights` for every draw from now on (normalised, logged)."""
        new = _check_weights(weights, self._weights.shape[0])
        old = self.weights
        self._weights.assign(new.astype(np.float32))
        log.info("WeightedMix(%s): seed=%d weights %s -> %s", self._name or "",
                 self.seed, np.round(old, 6).tolist(), np.round(new, 6).tolist())

    def _inputs(self):
        return [self._impl]

    @property
    def element_spec(self):
        return self._impl.element_spec
