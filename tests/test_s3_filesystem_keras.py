"""Training that writes to s3:// through tf_ffm's filesystem (moto): Keras
ModelCheckpoint (whole models and weights) and TensorBoard summaries.

TensorFlow's event writer checks after every flush that its file exists and
starts a new file if not, so a flushed event file must be visible at once:
one file per run, holding every step, is what this checks.
"""
import numpy as np
import pytest
import tensorflow as tf

import tf_ffm  # noqa: F401  (registers s3://)

pytest_plugins = ["s3_server"]

BUCKET = "ffm-fs-keras"


@pytest.fixture(scope="module")
def s3(moto_s3):
    client = moto_s3.client()
    client.create_bucket(Bucket=BUCKET)
    return client


def _model():
    import keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile("adam", "mse")
    return model


def _data():
    x = np.random.RandomState(0).rand(128, 4).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def _keys(s3, prefix):
    got = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in got.get("Contents", []))


def _event_steps(files, tag):
    from tensorflow.core.util import event_pb2
    steps = []
    for raw in tf.data.TFRecordDataset(files):
        event = event_pb2.Event.FromString(raw.numpy())
        steps += [event.step for v in event.summary.value if v.tag == tag]
    return sorted(steps)


def test_model_checkpoint_to_s3(s3):
    import keras
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(f"s3://{BUCKET}/ckpt/model-{{epoch}}.keras"),
        keras.callbacks.ModelCheckpoint(
            f"s3://{BUCKET}/ckpt/w-{{epoch}}.weights.h5", save_weights_only=True),
    ])
    assert [k for k in _keys(s3, "ckpt/") if not k.endswith("/")] == [
        "ckpt/model-1.keras", "ckpt/model-2.keras",
        "ckpt/w-1.weights.h5", "ckpt/w-2.weights.h5"]
    want = model.predict(x, verbose=0)
    loaded = keras.models.load_model(f"s3://{BUCKET}/ckpt/model-2.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-6)
    fresh = _model()
    fresh.load_weights(f"s3://{BUCKET}/ckpt/w-2.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), want, rtol=1e-6)


def test_summary_writer_flushes_one_visible_file(s3):
    logdir = f"s3://{BUCKET}/summaries/train"
    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
        for step in range(5):
            tf.summary.write("loss", tf.constant(float(step)), step=step)
    writer.flush()
    files = tf.io.gfile.glob(f"{logdir}/events.out.tfevents.*")
    assert len(files) == 1
    assert _event_steps(files, "loss") == [0, 1, 2, 3, 4]
    with writer.as_default():
        for step in range(5, 8):
            tf.summary.write("loss", tf.constant(float(step)), step=step)
    writer.close()
    assert tf.io.gfile.glob(f"{logdir}/events.out.tfevents.*") == files
    assert _event_steps(files, "loss") == list(range(8))


def test_tensorboard_callback_to_s3(s3):
    pytest.importorskip(
        "tensorboard", reason="the Keras TensorBoard callback needs the "
        "tensorboard package (tf.summary.scalar), not installed here")
    import keras
    x, y = _data()
    _model().fit(x, y, epochs=3, batch_size=32, verbose=0,
                 callbacks=[keras.callbacks.TensorBoard(f"s3://{BUCKET}/tb")])
    files = tf.io.gfile.glob(f"s3://{BUCKET}/tb/train/events.out.tfevents.*")
    assert len(files) == 1
    assert _event_steps(files, "epoch_loss") == [0, 1, 2]
