"""One worker of the tests' MultiWorkerMirroredStrategy cluster (TF_CONFIG
comes from the environment). argv: output path, index path or 'none', the
files (JSON), and how the input is distributed:
  function  strategy.distribute_datasets_from_function +
            tf_ffm.distribute.dataset_for_input_context (the supported way)
  auto      strategy.experimental_distribute_dataset of one FFMRecordDataset
            (tf.data auto-sharding, policy AUTO)
Writes JSON: the records it got (hex), the total over the cluster (a
collective: the cluster is really formed), the bytes its readers read and
the AutoShardWarnings raised."""
import json
import sys
import warnings

import tensorflow as tf

import tf_ffm
import tf_ffm.distribute

out_path, index_path, files, mode = (sys.argv[1], sys.argv[2], json.loads(sys.argv[3]),
                                     sys.argv[4])
strategy = tf.distribute.MultiWorkerMirroredStrategy()
index = None if index_path == "none" else tf_ffm.RecordIndex.load(index_path)
GLOBAL_BATCH = 4 * strategy.num_replicas_in_sync

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", tf_ffm.distribute.AutoShardWarning)
    if mode == "function":
        def dataset_fn(ctx):
            ds = tf_ffm.distribute.dataset_for_input_context(ctx, files, index=index)
            return ds.batch(ctx.get_per_replica_batch_size(GLOBAL_BATCH))

        dist = strategy.distribute_datasets_from_function(dataset_fn)
    else:
        dist = strategy.experimental_distribute_dataset(
            tf_ffm.FFMRecordDataset(files).batch(GLOBAL_BATCH))

before = tf_ffm.stats()["bytes_read"]
records = []
for batch in dist:
    for local in strategy.experimental_local_results(batch):
        records.extend(r.hex() for r in local.numpy())
bytes_read = tf_ffm.stats()["bytes_read"] - before
total = strategy.reduce(tf.distribute.ReduceOp.SUM,
                        strategy.run(lambda: tf.constant(len(records), tf.int64)),
                        axis=None)
with open(out_path, "w") as f:
    json.dump({"records": records, "total": int(total), "bytes_read": bytes_read,
               "warnings": [str(w.message) for w in caught
                            if issubclass(w.category, tf_ffm.distribute.AutoShardWarning)]},
              f)
