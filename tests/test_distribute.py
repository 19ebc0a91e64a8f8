"""tf.distribute.MultiWorkerMirroredStrategy with two worker processes on
loopback: each input pipeline reads its own shard; together they read every
record exactly once."""
import collections
import json
import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

import tf_ffm

HERE = os.path.dirname(os.path.abspath(__file__))


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


def _run_cluster(root, files, index_path, tag):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs, outs = [], []
    for i in range(2):
        out = str(root / f"{tag}-worker{i}.txt")
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": i}}))
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "distribute_worker.py"), out,
             index_path, json.dumps(files)],
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
    results = []
    for out in outs:
        lines = open(out).read().split("\n")
        results.append((lines[:-1], lines[-1]))
    return results


@pytest.mark.parametrize("use_index", [True, False], ids=["record-shards", "file-shards"])
def test_two_workers_read_disjoint_covering_shards(dataset, use_index):
    root, files, index_path, expected = dataset
    results = _run_cluster(root, files, index_path if use_index else "none",
                           "idx" if use_index else "files")
    (a, total_a), (b, total_b) = results
    assert a and b
    assert collections.Counter(a + b) == collections.Counter(expected)
    assert total_a == total_b == f"total={len(expected)}"
    if use_index:
        assert abs(len(a) - len(b)) <= 1
