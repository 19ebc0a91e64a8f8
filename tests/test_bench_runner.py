"""Benchmark runner: a worker subprocess and the raw ceilings count every byte."""
import os
import sys

import pytest

from tf_ffm.bench import datagen, runner
from tf_ffm.bench.servers import EmulatedS3, Unavailable


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return datagen.generate(tmp_path_factory.mktemp("bench-data"), "small",
                            size_mb=0.5, shards=2)


def _target(m):
    return runner.Target(datagen.dataset_files(m), [f["size"] for f in m["files"]])


@pytest.mark.parametrize("reader,mode", [("stock", "elementwise"), ("ffm", "batched")])
def test_worker_reads_every_record(dataset, reader, mode):
    result = runner.run_worker(reader, _target(dataset), mode, timeout_s=300)
    assert result["reader"] == reader and result["mode"] == mode
    assert result["records"] == dataset["records"]
    assert result["bytes"] == dataset["payload_bytes"] and result["bytes_exact"]
    assert result["wall_s"] > 0 and result["cpu_s"] >= 0 and result["peak_rss_mb"] > 0


def test_worker_failure_is_reported(monkeypatch):
    script = "import sys; print('some log'); sys.stderr.write('the reason'); sys.exit(3)"
    monkeypatch.setattr(runner, "worker_command",
                        lambda *a, **k: [sys.executable, "-c", script])
    with pytest.raises(runner.WorkerError, match="(?s)stock/batched exited with 3.*the reason"):
        runner.run_worker("stock", runner.Target(["x"], [0]), "batched")


def test_crash_after_the_result_is_kept_with_a_warning(monkeypatch):
    script = ("import sys; print('{\"records\": 1}'); sys.stdout.flush(); "
              "sys.stderr.write('abort at exit'); sys.exit(-6 & 0xff)")
    monkeypatch.setattr(runner, "worker_command",
                        lambda *a, **k: [sys.executable, "-c", script])
    result = runner.run_worker("ffm", runner.Target(["x"], [0]), "batched")
    assert result["records"] == 1 and "abort at exit" in result["exit_warning"]


def test_posix_ceiling_reads_everything(dataset):
    target = _target(dataset)
    result = runner.ceiling_posix(target.paths, target.sizes, chunk=100_000, in_flight=4)
    assert result["bytes"] == dataset["size"] and result["wall_s"] > 0


def test_http_ceiling_reads_everything(dataset):
    try:
        EmulatedS3.check()
    except Unavailable as e:
        pytest.skip(e.reason)
    root = os.path.dirname(dataset["dir"])
    with EmulatedS3(root, latency_s=0.001, rate=None) as s3:
        urls = [s3.key_url(f"small/{f['name']}") for f in dataset["files"]]
        target = runner.Target(["unused"] * len(urls), [f["size"] for f in dataset["files"]],
                               urls=urls)
        result = runner.ceiling(target)
        assert result["bytes"] == dataset["size"]
        result = runner.ceiling_http(urls, target.sizes, chunk=50_000, in_flight=3)
        assert result["bytes"] == dataset["size"]
