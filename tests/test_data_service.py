"""FFMRecordDataset under tf.data service, with a dispatcher and two workers
running as separate processes on loopback."""
import collections
import socket
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import tf_ffm


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listening on port {port}")


@pytest.fixture(scope="module")
def service():
    dispatcher_port = _free_port()
    procs = []

    def start(*args):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tf_ffm.service", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        return proc

    try:
        _wait_for_port(dispatcher_port,
                       start("dispatcher", "--port", str(dispatcher_port)))
        for _ in range(2):
            port = _free_port()
            _wait_for_port(port, start(
                "worker", "--dispatcher", f"localhost:{dispatcher_port}",
                "--port", str(port), "--address", f"localhost:{port}"))
        yield f"grpc://localhost:{dispatcher_port}"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    files = []
    for f in range(6):
        path = str(root / f"part-{f}.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for r in range(40 + f):
                w.write(f"file{f}-record{r}-".encode() * (r % 7 + 1))
        files.append(path)
    expected = [x.numpy() for x in tf.data.TFRecordDataset(files)]
    return files, expected


def _distributed(files, service, mode, job_name):
    ds = tf_ffm.FFMRecordDataset(files, num_parallel_reads=2)
    ds = ds.apply(tf.data.experimental.service.distribute(
        processing_mode=mode, service=service, job_name=job_name))
    return [x.numpy() for x in ds]


def test_distributed_epoch_yields_each_record_once(service, shards):
    files, expected = shards
    got = _distributed(files, service, "distributed_epoch", "ffm-dist")
    assert collections.Counter(got) == collections.Counter(expected)


def test_parallel_epochs_each_worker_reads_everything(service, shards):
    files, expected = shards
    got = _distributed(files, service, "parallel_epochs", "ffm-parallel")
    doubled = collections.Counter(expected)
    for k in doubled:
        doubled[k] *= 2
    assert collections.Counter(got) == doubled


def test_indexed_dataset_under_parallel_epochs(service, shards):
    files, expected = shards
    index = tf_ffm.RecordIndex.build(files, progress=False)
    ds = tf_ffm.FFMRecordDataset(files, index=index, shuffle="global", seed=7)
    ds = ds.apply(tf.data.experimental.service.distribute(
        processing_mode="parallel_epochs", service=service, job_name="ffm-idx"))
    got = [x.numpy() for x in ds]
    doubled = collections.Counter(expected)
    for k in doubled:
        doubled[k] *= 2
    assert collections.Counter(got) == doubled


@pytest.mark.parametrize("shuffle", [None, "global", "block"])
def test_indexed_dataset_under_distributed_epoch_yields_each_record_once(
        service, shards, tmp_path, shuffle):
    # The dispatcher hands out record ranges of the index (its split
    # provider); the workers read them. Two epochs (repeat inside the job):
    # each record exactly once per epoch.
    files, expected = shards
    index = tf_ffm.RecordIndex.build(files, progress=False)
    index.save(str(tmp_path / "shards.idx"))  # the workers open it by path
    ds = tf_ffm.FFMRecordDataset(files, index=index, shuffle=shuffle, seed=11,
                                 chunk_size=4096).repeat(2)
    ds = ds.apply(tf.data.experimental.service.distribute(
        processing_mode="distributed_epoch", service=service,
        job_name=f"ffm-idx-dist-{shuffle}"))
    got = [x.numpy() for x in ds]
    twice = collections.Counter(expected)
    for k in twice:
        twice[k] *= 2
    assert collections.Counter(got) == twice
