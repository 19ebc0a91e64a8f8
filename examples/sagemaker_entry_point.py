"""SageMaker training entry point reading its channels with tf_ffm.

Run by a SageMaker TensorFlow estimator (see sagemaker_launch.py) with
input_mode="FastFile": the "train" channel is then a FUSE mount of the S3
prefix at $SM_CHANNEL_TRAIN, and FFMRecordDataset's parallel chunked reads
keep it busy. Hyperparameters arrive as command-line flags
(--epochs 2 --batch-size 256 ...); the model goes to $SM_MODEL_DIR.

Records are tf.train.Example with a float vector "x" (--features long) and
an int64 "label" in [0, --classes). Runs locally too:

    SM_CHANNEL_TRAIN=/data/train SM_MODEL_DIR=/tmp/model \
        python sagemaker_entry_point.py --epochs 1

For several instances, build the dataset per worker with
tf_ffm.distribute.dataset_for_input_context under a
MultiWorkerMirroredStrategy.
"""
import argparse
import logging
import os
import sys

import tensorflow as tf

import tf_ffm

log = logging.getLogger("entry_point")


def parse_args(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--shuffle-buffer", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None,
                        help="shuffle seed (drawn and logged if not given)")
    # The TensorFlow estimator adds --model_dir (an S3 URI for checkpoints);
    # the model to keep is written to $SM_MODEL_DIR.
    parser.add_argument("--model_dir", default=None)
    parser.add_argument("--sm-model-dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        log.warning("ignoring hyperparameters %s", unknown)
    return args


def make_dataset(files, args, shuffle=True):
    spec = {"x": tf.io.FixedLenFeature([args.features], tf.float32),
            "label": tf.io.FixedLenFeature([], tf.int64)}

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        return example["x"], example["label"]

    ds = tf_ffm.FFMRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(args.shuffle_buffer, seed=args.seed)
    return ds.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    log.info("hyperparameters %s", vars(args))  # the seed included, to repeat a run

    files = tf_ffm.channel_files("train", "*.tfrecord")
    if not files:
        raise SystemExit(f"no *.tfrecord files in channel 'train' ({tf_ffm.channel('train')})")
    log.info("train: %d files in %s", len(files), tf_ffm.channel("train"))
    try:
        eval_files = tf_ffm.channel_files("eval", "*.tfrecord")
    except KeyError:
        eval_files = []  # the eval channel is optional

    tf.keras.utils.set_random_seed(args.seed)
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(args.features,)),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(args.classes),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(args.learning_rate),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(make_dataset(files, args), epochs=args.epochs, verbose=2, shuffle=False,
              validation_data=make_dataset(eval_files, args, shuffle=False) if eval_files else None)

    os.makedirs(args.sm_model_dir, exist_ok=True)
    path = os.path.join(args.sm_model_dir, "model.keras")
    model.save(path)
    log.info("saved %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
