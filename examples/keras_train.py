"""Trains a small Keras model on TFRecords read with tf_ffm.FFMRecordDataset.

Writes a few TFRecord files of tf.train.Example (a float vector "x" and an
int "label" that depends on it) to a temporary directory, then reads them
the way a training job would:

    python examples/keras_train.py [--epochs 2] [--data-dir DIR]

The only change from a stock tf.data pipeline is the reader class.
"""
import argparse
import math
import sys
import tempfile

import numpy as np
import tensorflow as tf

import tf_ffm

FEATURES = 16
CLASSES = 3
FEATURE_SPEC = {
    "x": tf.io.FixedLenFeature([FEATURES], tf.float32),
    "label": tf.io.FixedLenFeature([], tf.int64),
}


def write_dataset(directory, files=4, records_per_file=512, seed=0):
    """Writes `files` TFRecord files of tf.train.Example; returns their paths."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLASSES, FEATURES)) * 0.5
    paths = []
    for i in range(files):
        path = f"{directory}/part-{i:05d}.tfrecord"
        with tf.io.TFRecordWriter(path) as writer:
            for _ in range(records_per_file):
                label = int(rng.integers(CLASSES))
                x = centres[label] + rng.normal(size=FEATURES)
                example = tf.train.Example(features=tf.train.Features(feature={
                    "x": tf.train.Feature(float_list=tf.train.FloatList(value=x)),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                }))
                writer.write(example.SerializeToString())
        paths.append(path)
    return paths


def parse(record):
    example = tf.io.parse_single_example(record, FEATURE_SPEC)
    return example["x"], example["label"]


def make_dataset(files, batch_size):
    ds = tf_ffm.FFMRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.shuffle(1024, seed=0).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def make_model():
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(FEATURES,)),
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(CLASSES),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data-dir", help="write the data here (default: a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        files = write_dataset(args.data_dir or tmp)
        history = make_model().fit(make_dataset(files, args.batch_size),
                                   epochs=args.epochs, verbose=2,
                                   shuffle=False)  # the dataset shuffles
    loss = history.history["loss"][-1]
    print(f"final loss: {loss:.4f}")
    return 0 if math.isfinite(loss) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
