"""tf_ffm under tf.distribute.

- The supported way, distribute_datasets_from_function +
  tf_ffm.distribute.dataset_for_input_context, with MultiWorkerMirroredStrategy
  and two worker processes on loopback: each input pipeline reads its own
  shard (record-level with an index, whole files without), together every
  record exactly once, and the cluster reads the data once.
- What tf.data's auto-sharding does to an FFMRecordDataset (FILE fails,
  AUTO falls back to DATA: every worker reads every file), shown in one
  process with the rewrite the strategies apply and end to end with
  experimental_distribute_dataset in the cluster; and the AutoShardWarning
  that says so.
"""
import collections
import json
import os
import socket
import subprocess
import sys
import warnings

import pytest
import tensorflow as tf
from tensorflow.python.data.experimental.ops import distribute as tf_data_distribute

import tf_ffm
from tf_ffm.distribute import AutoShardWarning

HERE = os.path.dirname(os.path.abspath(__file__))
TWO_WORKERS = json.dumps({"cluster": {"worker": ["localhost:1", "localhost:2"]},
                          "task": {"type": "worker", "index": 0}})


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("distribute")
    files = []
    for f in range(4):
        path = str(root / f"part-{f}.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for r in range(30 + 3 * f):
                w.write(f"f{f}r{r}".encode() * (1 + r % 5))
        files.append(path)
    index_path = str(root / "train.idx")
    tf_ffm.RecordIndex.build(files, progress=False).save(index_path)
    expected = [x.numpy().hex() for x in tf.data.TFRecordDataset(files)]
    return root, files, index_path, expected


def _run_cluster(root, files, index_path, mode, tag):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs, outs = [], []
    for i in range(2):
        out = str(root / f"{tag}-worker{i}.json")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": i}}))
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "distribute_worker.py"), out,
             index_path, json.dumps(files), mode],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        outs.append(out)
    for p in procs:
        try:
            _, err = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, err.decode()[-3000:]
    return [json.load(open(out)) for out in outs]


def _total_bytes(files):
    return sum(os.path.getsize(f) for f in files)


@pytest.mark.parametrize("use_index", [True, False], ids=["record-shards", "file-shards"])
def test_two_workers_read_disjoint_covering_shards(dataset, use_index):
    root, files, index_path, expected = dataset
    a, b = _run_cluster(root, files, index_path if use_index else "none", "function",
                        "idx" if use_index else "files")
    assert a["records"] and b["records"]
    assert collections.Counter(a["records"] + b["records"]) == collections.Counter(expected)
    assert a["total"] == b["total"] == len(expected)
    if use_index:
        assert abs(len(a["records"]) - len(b["records"])) <= 1
    else:  # whole files dealt round-robin
        assert a["bytes_read"] == os.path.getsize(files[0]) + os.path.getsize(files[2])
        assert b["bytes_read"] == os.path.getsize(files[1]) + os.path.getsize(files[3])
    # The cluster reads the data once: each worker only its share.
    assert a["bytes_read"] + b["bytes_read"] <= _total_bytes(files)
    assert a["warnings"] == b["warnings"] == []


def test_experimental_distribute_dataset_makes_every_worker_read_everything(dataset):
    root, files, index_path, expected = dataset
    a, b = _run_cluster(root, files, "none", "auto", "auto")
    # AUTO fell back to DATA sharding: every record once over the cluster...
    assert collections.Counter(a["records"] + b["records"]) == collections.Counter(expected)
    assert a["total"] == b["total"] == len(expected)
    # ...but each worker read every file in full,
    assert a["bytes_read"] >= _total_bytes(files) and b["bytes_read"] >= _total_bytes(files)
    # and was told so.
    for worker in (a, b):
        assert len(worker["warnings"]) == 1
        assert "every worker reads every file" in worker["warnings"][0]


# -- the auto-shard rewrite in one process ---------------------------------------

def _auto_sharded(ds, policy, num_workers, index):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return tf_data_distribute._AutoShardDataset(ds.with_options(options), num_workers, index)


def _records(ds):
    return [r.numpy() for r in ds]


@pytest.mark.parametrize("make", [
    lambda files, idx: tf_ffm.FFMRecordDataset(files),
    lambda files, idx: tf_ffm.FFMRecordDataset(files, num_parallel_reads=2),
    lambda files, idx: tf_ffm.FFMRecordDataset(tf.data.Dataset.from_tensor_slices(files)),
    lambda files, idx: tf_ffm.FFMRecordDataset(files, index=idx),
], ids=["none", "n2", "dataset-of-names", "index"])
def test_auto_shard_file_policy_fails_and_auto_falls_back_to_data(dataset, make):
    root, files, index_path, expected = dataset
    index = tf_ffm.RecordIndex.load(index_path)
    with pytest.raises(tf.errors.NotFoundError, match="Did not find a shardable source"):
        _records(_auto_sharded(make(files, index), tf.data.experimental.AutoShardPolicy.FILE,
                               2, 0))
    everything = _records(make(files, index))
    for k in range(2):
        before = tf_ffm.stats()["bytes_read"]
        got = _records(_auto_sharded(make(files, index),
                                     tf.data.experimental.AutoShardPolicy.AUTO, 2, k))
        read = tf_ffm.stats()["bytes_read"] - before
        assert got == everything[k::2]  # DATA sharding: every 2nd record
        assert read >= _total_bytes(files)  # of all the data read


def test_stock_reader_is_file_sharded_for_comparison(dataset):
    root, files, index_path, expected = dataset
    got = _records(_auto_sharded(tf.data.TFRecordDataset(files),
                                 tf.data.experimental.AutoShardPolicy.FILE, 2, 1))
    assert got == _records(tf.data.TFRecordDataset(files[1::2]))


# -- AutoShardWarning ------------------------------------------------------------

def test_warning_in_a_multi_worker_process(dataset, monkeypatch):
    root, files, index_path, expected = dataset
    monkeypatch.setenv("TF_CONFIG", TWO_WORKERS)
    with pytest.warns(AutoShardWarning, match=r"2-worker cluster .* every worker reads "
                      r"every file and keeps 1/2 of the records") as caught:
        tf_ffm.FFMRecordDataset(files)
    assert caught[0].filename == __file__  # points at the caller's line
    assert "own seed" not in str(caught[0].message)
    with pytest.warns(AutoShardWarning, match="each worker also draws its own seed"):
        tf_ffm.FFMRecordDataset(files, index=index_path, shuffle="global")


def test_no_warning_where_sharding_is_taken_care_of(dataset, monkeypatch):
    root, files, index_path, expected = dataset
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoShardWarning)
        tf_ffm.FFMRecordDataset(files)  # no cluster
        monkeypatch.setenv("TF_CONFIG", TWO_WORKERS)
        tf_ffm.FFMRecordDataset(files, index=index_path, shard=(2, 0))
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1)
        tf_ffm.distribute.dataset_for_input_context(ctx, files)
        tf_ffm.distribute.dataset_for_input_context(ctx, files, index=index_path)
        # Made by a dataset function: the function shards.
        strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
        strategy.distribute_datasets_from_function(lambda ctx: tf_ffm.FFMRecordDataset(files))
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": {"worker": ["localhost:1", "localhost:2"], "ps": ["localhost:3"]},
             "task": {"type": "ps", "index": 0}}))
        tf_ffm.FFMRecordDataset(files)  # a parameter server reads no input
