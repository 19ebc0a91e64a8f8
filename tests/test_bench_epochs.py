"""`tf-ffm bench --epoch2`: the epoch 1 / epoch 2 table of the local cache
(epochs.py) from recorded runs, the plan's two-epoch runs on the remote
profiles only, and a worker that reads exactly two epochs through a cache."""
import contextlib
import json
import tempfile

from tf_ffm.bench import datagen, epochs, main, output, profiles, runner


def _result(epoch_s, epoch_mb=100.0):
    return {"epoch_wall_s": list(epoch_s), "epoch_bytes": [epoch_mb * 1e6] * len(epoch_s)}


def _run(profile, cache, epoch_s, repeat=0, error=None):
    return {"profile": profile, "dataset": "large", "reader": "ffm_none", "cache": cache,
            "repeat": repeat, "result": None if error else _result(epoch_s), "error": error}


LOCAL_ROW = {"profile": "local", "dataset": "large", "reader": "ffm_none",
             "consumption": "batched", "mb_per_s": 500.0}


def test_summary_epoch_rates_and_ratios():
    runs = [_run("s3", False, [1.0, 1.0]), _run("s3", False, [1.0, 0.5], repeat=1),
            _run("s3", True, [1.25, 0.25]), _run("s3", True, [1.0, 0.2], repeat=1),
            _run("mount", True, [], error="boom")]
    rows = epochs.summarise(runs, [LOCAL_ROW])
    by = {(r["profile"], r["cache"]): r for r in rows}
    off, on = by[("s3", False)], by[("s3", True)]
    assert off["epoch1_mb_per_s"] == 100.0 and off["epoch2_mb_per_s"] == 150.0
    assert on["epoch1_mb_per_s"] == 90.0 and on["epoch2_mb_per_s"] == 450.0
    assert on["epoch2_vs_local"] == 0.9 and on["epoch1_on_vs_off"] == 0.9
    assert off["epoch1_on_vs_off"] is None and on["runs"] == 2
    assert by[("mount", True)]["errors"] == ["boom"]
    text = epochs.format_table(rows)
    lines = text.splitlines()
    assert lines[0].startswith("epoch 1 / epoch 2 of one run")
    assert lines[1].split() == ["profile", "dataset", "reader", "cache", "epoch", "1",
                                "epoch", "2", "e2", "vs", "local", "e1", "on/off", "runs"]
    assert lines[3].split() == ["mount", "large", "ffm_none", "on", "ERR", "-", "-", "-", "0"]
    assert lines[5].split() == ["s3", "large", "ffm_none", "on", "90.0", "450.0", "0.90x",
                                "0.90x", "2"]
    assert epochs.format_table([]) == ""


def test_write_all_adds_the_table_and_json(tmp_path):
    paths = output.write_all(tmp_path, [], [], {"title": "t"}, chart=False,
                             epoch_runs=[_run("s3", True, [1.0, 0.5])])
    assert "epoch 1 / epoch 2 of one run" in paths["text"]
    with open(paths["json"]) as f:
        payload = json.load(f)
    assert payload["epoch_rows"][0]["epoch2_mb_per_s"] == 200.0
    assert len(payload["epoch_runs"]) == 1


def test_plan_adds_two_epoch_runs_to_remote_profiles_only(tmp_path):
    m = datagen.generate(tmp_path, "small", size_mb=0.1, shards=1)
    with contextlib.ExitStack() as stack:
        profs, _ = profiles.open_profiles(stack, ["local"], {"small": m})
    remote = profiles.Profile("s3", {"small": profs[0].cells["small"]}, {})
    plan = main._plan(profs + [remote], ["batched"], repeats=2, epoch2=True)
    extra = [(item[0], item[1].name, item[3].label, item[5]) for item in plan
             if item[0].startswith("epochs:")]
    assert extra == [("epochs:off", "s3", "ffm_none", 0), ("epochs:on", "s3", "ffm_none", 0),
                     ("epochs:on", "s3", "ffm_none", 1), ("epochs:off", "s3", "ffm_none", 1)]
    assert not any(i[0].startswith("epochs:")
                   for i in main._plan(profs + [remote], ["batched"], repeats=2))


def test_worker_reads_two_epochs_through_a_fresh_cache(tmp_path, monkeypatch):
    m = datagen.generate(tmp_path, "small", size_mb=0.3, shards=1)
    files = datagen.dataset_files(m)
    target = runner.Target(files, [f["size"] for f in m["files"]], source_paths=files)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    result = runner.run_worker("ffm", "none", target, "batched", min_epochs=2, cache=True,
                               timeout_s=300)
    assert list(temp.iterdir()) == []  # the run's cache directory is gone
    assert result["cache"] and result["epochs"] == 2
    assert result["epoch_bytes"] == [m["payload_bytes"]] * 2
    assert len(epochs.epoch_rates(result)) == 2
