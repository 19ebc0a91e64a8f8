"""Input sharding for tf.distribute.

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: tf_ffm.distribute.dataset_for_input_context(
            ctx, files, index=index).batch(ctx.get_per_replica_batch_size(256)))

With an index, each input pipeline reads a record-level shard (disjoint,
covering, sizes within one record); without one, whole files are dealt out
round-robin, as tf.data's AutoShardPolicy.FILE does.
"""
from tf_ffm.dataset import FFMRecordDataset


def dataset_for_input_context(input_context, files, *, index=None, **kwargs):
    """The FFMRecordDataset of this input pipeline's share of `files`."""
    n = input_context.num_input_pipelines
    k = input_context.input_pipeline_id
    if index is not None:
        return FFMRecordDataset(files, index=index, shard=(n, k), **kwargs)
    files = list(files)
    if len(files) < n:
        raise ValueError(
            f"{len(files)} files cannot be split across {n} input pipelines; "
            "build a tf_ffm.RecordIndex for record-level sharding")
    return FFMRecordDataset(files[k::n], **kwargs)
