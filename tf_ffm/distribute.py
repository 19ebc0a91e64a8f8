"""Input sharding for tf.distribute.

The supported way: each input pipeline builds its own share.

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: tf_ffm.distribute.dataset_for_input_context(
            ctx, files, index=index).batch(ctx.get_per_replica_batch_size(256)))

With an index, each input pipeline reads a record-level shard (disjoint,
covering, sizes within one record); without one, whole files are dealt out
round-robin, as tf.data's AutoShardPolicy.FILE does.

What tf.data's auto-sharding does with an FFMRecordDataset handed to
`strategy.experimental_distribute_dataset` (or to Keras `model.fit` under a
multi-worker strategy): its FILE policy looks for one of TensorFlow's own
reader ops (TFRecordDataset, ...) to shard by file and does not know this
one, so
- AutoShardPolicy.FILE fails: "Did not find a shardable source";
- AutoShardPolicy.AUTO (the default) falls back to DATA: every worker reads
  every file in full and keeps every n-th record. Each record is still seen
  once, but the cluster reads the data n times over; and with
  shuffle="global"/"block" and no seed=, each worker draws its own seed, so
  the workers' n-th records overlap and miss records.
An FFMRecordDataset made in a multi-worker process (TF_CONFIG with more than
one worker) outside a dataset function, without shard=, warns with
AutoShardWarning. Silence it where DATA sharding is what you want:
`warnings.simplefilter("ignore", tf_ffm.distribute.AutoShardWarning)`.
"""
import contextlib
import json
import os
import sys
import threading
import warnings


class AutoShardWarning(UserWarning):
    """tf.data auto-sharding would make every worker read every file."""


_local = threading.local()


@contextlib.contextmanager
def _sharded_by_caller():
    """Datasets made in the block are this input pipeline's share."""
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth


def dataset_for_input_context(input_context, files, *, index=None, **kwargs):
    """The FFMRecordDataset of this input pipeline's share of `files`."""
    from tf_ffm.dataset import FFMRecordDataset

    n = input_context.num_input_pipelines
    k = input_context.input_pipeline_id
    with _sharded_by_caller():
        if index is not None:
            return FFMRecordDataset(files, index=index, shard=(n, k), **kwargs)
        files = list(files)
        if len(files) < n:
            raise ValueError(
                f"{len(files)} files cannot be split across {n} input pipelines; "
                "build a tf_ffm.RecordIndex for record-level sharding")
        return FFMRecordDataset(files[k::n], **kwargs)


def _cluster_workers():
    """(workers that run input pipelines, this task's type) from TF_CONFIG,
    or (0, None) when there is no cluster."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        return 0, None
    cluster = config.get("cluster") or {}
    workers = sum(len(cluster.get(kind) or ()) for kind in ("chief", "worker"))
    return workers, (config.get("task") or {}).get("type")


def _inside_tf_distribute(frame):
    """Whether a tf.distribute function is on the stack: the dataset is being
    made by a dataset function (distribute_datasets_from_function,
    create_per_worker_dataset), whose sharding is the function's own."""
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("tensorflow.python.distribute"):
            return True
        frame = frame.f_back
    return False


def warn_if_auto_sharded(*, shard=None, shuffle=None, seed_given=True):
    """Called by FFMRecordDataset: warns (AutoShardWarning) when this process
    is one of several workers and the dataset, made outside a dataset
    function and without shard=, would be split by tf.data's auto-sharding
    (see the module docstring)."""
    if shard is not None or getattr(_local, "depth", 0):
        return
    workers, task = _cluster_workers()
    if workers <= 1 or task in ("ps", "evaluator"):
        return
    if _inside_tf_distribute(sys._getframe(1)):
        return
    message = (
        f"FFMRecordDataset made in a {workers}-worker cluster (TF_CONFIG) outside a "
        "dataset function: if it goes to strategy.experimental_distribute_dataset or "
        "Keras model.fit, tf.data's auto-sharding cannot split it by file "
        "(AutoShardPolicy.FILE fails with 'Did not find a shardable source'; AUTO falls "
        f"back to DATA: every worker reads every file and keeps 1/{workers} of the "
        "records).")
    if shuffle is not None and not seed_given:
        message += (" With shuffle= and no seed=, each worker also draws its own seed, "
                    "so DATA sharding repeats some records and drops others.")
    message += (" Read one share per worker instead: strategy.distribute_datasets_from_"
                "function(lambda ctx: tf_ffm.distribute.dataset_for_input_context(ctx, "
                "files, index=...)), or pass shard=(num_workers, worker_index) with an "
                "index.")
    warnings.warn(message, AutoShardWarning, stacklevel=3)
