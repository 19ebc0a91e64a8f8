"""One worker of the tests' MultiWorkerMirroredStrategy cluster (TF_CONFIG
comes from the environment): reads its input through
distribute_datasets_from_function and writes the records it got, hex, one
per line, to argv[1]; argv[2] is an index path or 'none'."""
import json
import sys

import tensorflow as tf

import tf_ffm
import tf_ffm.distribute

out_path, index_path, files = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
strategy = tf.distribute.MultiWorkerMirroredStrategy()
index = None if index_path == "none" else index_path


def dataset_fn(ctx):
    ds = tf_ffm.distribute.dataset_for_input_context(ctx, files, index=index)
    return ds.batch(ctx.get_per_replica_batch_size(4))


dist = strategy.distribute_datasets_from_function(dataset_fn)
records = []
for batch in dist:
    for local in strategy.experimental_local_results(batch):
        records.extend(r.hex() for r in local.numpy())
# A collective across both workers: the cluster is really formed.
total = strategy.reduce(tf.distribute.ReduceOp.SUM,
                        strategy.run(lambda: tf.constant(len(records), tf.int64)),
                        axis=None)
with open(out_path, "w") as f:
    f.write("\n".join(records + [f"total={int(total)}"]))
