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
    files = datagen.dataset_files(m)
    return runner.Target(files, [f["size"] for f in m["files"]], source_paths=files)


@pytest.mark.parametrize("reader,read_mode,consumption", [
    ("stock", "none", "elementwise"), ("ffm", "none", "batched"),
    ("ffm", "gen", "batched"), ("stock", "gen", "elementwise"),
    ("ffm", "n", "elementwise"), ("ffm", "autotune", "batched")])
def test_worker_reads_every_record(dataset, reader, read_mode, consumption):
    result = runner.run_worker(reader, read_mode, _target(dataset), consumption, n=2,
                               timeout_s=300)
    assert (result["reader"], result["read_mode"], result["consumption"]) == (
        reader, read_mode, consumption)
    assert result["epochs"] == 1
    assert result["records"] == dataset["records"]
    assert result["bytes"] == dataset["payload_bytes"] and result["bytes_exact"]
    assert result["wall_s"] > 0 and result["cpu_s"] >= 0 and result["peak_rss_mb"] > 0
    # The iterator's destruction is timed inside its epoch.
    (teardown,), (epoch,) = result["teardown_s"], result["epoch_wall_s"]
    assert 0 <= teardown < epoch
    assert result["malloc"]  # what tf_ffm._allocator did in the worker
    # The machine's side of the window, and the load before the run.
    c = result["counters"]
    assert c["minflt"] >= 0 and c["system_busy_s"] >= 0 and c["read_bytes"] >= 0
    assert len(result["loadavg"]) == 3


def test_worker_repeats_epochs_until_min_seconds(dataset):
    result = runner.run_worker("ffm", "gen", _target(dataset), "batched", min_seconds=1.0,
                               timeout_s=300)
    assert result["epochs"] >= 2 and result["wall_s"] >= 1.0
    assert len(result["epoch_wall_s"]) == result["epochs"]
    assert sum(result["epoch_wall_s"]) <= result["wall_s"]
    assert result["records"] == result["epochs"] * dataset["records"]
    assert result["bytes"] == result["epochs"] * dataset["payload_bytes"]


def test_peak_rss_is_the_workers_own(dataset):
    # ru_maxrss survives exec: a worker started by a big parent would report
    # the parent's RSS. Make this process clearly bigger than a worker.
    ballast = bytearray(1500 << 20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    with open("/proc/self/status") as f:
        parent_mb = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")) / 1e3
    result = runner.run_worker("stock", "none", _target(dataset), "batched", timeout_s=300)
    del ballast
    assert 0 < result["peak_rss_mb"] < parent_mb - 500


def test_read_modes_build_what_users_write(dataset):
    import tensorflow as tf

    from tf_ffm.bench import worker

    files = datagen.dataset_files(dataset)
    expected = list(tf.data.TFRecordDataset(files).as_numpy_iterator())
    for reader in ("stock", "ffm"):
        for read_mode in ("none", "n", "autotune", "gen"):
            got = list(worker.make_dataset(reader, read_mode, files, n=2).as_numpy_iterator())
            if read_mode == "none":
                assert got == expected, reader
            else:  # interleaved: same records, maybe another order
                assert sorted(got) == sorted(expected), (reader, read_mode)
    with pytest.raises(ValueError, match="read mode"):
        worker.make_dataset("ffm", "sometimes", files)


def test_worker_failure_is_reported(monkeypatch):
    script = "import sys; print('some log'); sys.stderr.write('the reason'); sys.exit(3)"
    monkeypatch.setattr(runner, "worker_command",
                        lambda *a, **k: [sys.executable, "-c", script])
    with pytest.raises(runner.WorkerError,
                       match="(?s)stock_none/batched exited with 3.*the reason"):
        runner.run_worker("stock", "none", runner.Target(["x"], [0]), "batched")


def test_crash_after_the_result_is_kept_with_a_warning(monkeypatch):
    script = ("import sys; print('{\"records\": 1}'); sys.stdout.flush(); "
              "sys.stderr.write('abort at exit'); sys.exit(-6 & 0xff)")
    monkeypatch.setattr(runner, "worker_command",
                        lambda *a, **k: [sys.executable, "-c", script])
    result = runner.run_worker("ffm", "none", runner.Target(["x"], [0]), "batched")
    assert result["records"] == 1 and "abort at exit" in result["exit_warning"]


def test_posix_ceiling_reads_everything(dataset):
    target = _target(dataset)
    result = runner.ceiling_posix(target.paths, target.sizes, chunk=100_000, in_flight=4)
    # At least two passes: the first also pays for cold caches and connections.
    assert result["passes"] == len(result["pass_s"]) >= 2
    assert result["bytes"] == result["passes"] * dataset["size"] == \
        result["passes"] * result["pass_bytes"]
    assert 0 < sum(result["pass_s"]) <= result["wall_s"]


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
        assert result["pass_bytes"] == dataset["size"]
        assert result["bytes"] == result["passes"] * dataset["size"]
        result = runner.ceiling_http(urls, target.sizes, chunk=50_000, in_flight=3)
        assert result["pass_bytes"] == dataset["size"] and result["passes"] >= 2
