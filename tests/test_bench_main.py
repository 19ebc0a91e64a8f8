"""`tf-ffm bench` plumbing that needs no measurement: options, plan, profiles."""
import argparse
import os
import contextlib

import pytest

from tf_ffm.bench import datagen, main, profiles


def _parse(*argv):
    return main._resolve(main.add_arguments(argparse.ArgumentParser()).parse_args(argv))


def test_defaults_and_quick():
    full = _parse()
    assert full.profiles == ["local", "mount", "s3"]
    assert full.datasets == ["small", "large"]
    assert (full.size_mb, full.shards, full.repeats) == (512, 4, 3)
    assert full.consumption == ["batched", "elementwise"]
    assert full.readers == ["stock", "ffm"]
    assert full.read_modes == ["none", "n", "autotune", "gen"]
    assert full.elementwise_read_modes == ["none", "gen"]
    quick = _parse("--quick")
    assert (quick.size_mb, quick.repeats, quick.consumption) == (64, 1, ["batched"])
    assert (full.quiet_wait, quick.quiet_wait) == (main.QUIET_WAIT_S, 0)
    assert quick.readers == ["stock", "ffm"]
    assert {"none", "autotune"} <= set(quick.read_modes)
    mixed = _parse("--quick", "--modes", "elementwise", "--size-mb", "8", "--profiles", "s3",
                   "--readers", "ffm", "--read-modes", "gen,n", "--parallel-reads", "2")
    assert (mixed.size_mb, mixed.consumption, mixed.profiles) == (8, ["elementwise"], ["s3"])
    assert (mixed.readers, mixed.read_modes, mixed.parallel_reads) == (
        ["ffm"], ["gen", "n"], 2)
    for bad in (("--profiles", "local,nfs"), ("--read-modes", "sometimes"),
                ("--readers", "dali"), ("--parallel-reads", "0")):
        with pytest.raises(SystemExit):
            _parse(*bad)


def test_help_says_what_full_and_quick_do(capsys):
    with pytest.raises(SystemExit):
        main.main(["--help"])
    text = capsys.readouterr().out
    assert "tf-ffm bench --quick" in text and "~23-25 min" in text
    assert "--read-modes" in text and "--readers" in text


def test_plan_rotates_cells_and_limits_elementwise(tmp_path):
    m = datagen.generate(tmp_path, "small", size_mb=0.1, shards=1)
    with contextlib.ExitStack() as stack:
        profs, skipped = profiles.open_profiles(stack, ["local"], {"small": m})
    assert [p.name for p in profs] == ["local"] and not skipped
    labels = [c.label for c in profs[0].cells["small"]]
    # Both readers in every read mode, the two of one mode next to each other.
    assert labels == ["stock_none", "ffm_none", "stock_n", "ffm_n", "stock_autotune",
                      "ffm_autotune", "stock_gen", "ffm_gen"]
    plan = main._plan(profs, ["batched", "elementwise"], repeats=3,
                      elementwise_read_modes=["none", "gen"])
    assert len(plan) == 3 * (1 + 8 + 4)
    runs = [item for item in plan if item[0] == "run"]
    firsts = [item[3].label for item in runs if item[4] == "batched"][::8]
    assert firsts == ["stock_none", "ffm_none", "stock_n"], "cell order not rotated"
    assert {item[3].read_mode for item in runs if item[4] == "elementwise"} == {"none", "gen"}
    cell = profs[0].cells["small"][0]
    assert cell.target.paths == datagen.dataset_files(m)
    # Every run re-reads the files behind it first (see runner.warm_page_cache).
    assert cell.target.source_paths == datagen.dataset_files(m)


def test_profiles_take_a_subset_of_readers_and_modes(tmp_path):
    m = datagen.generate(tmp_path, "small", size_mb=0.1, shards=1)
    with contextlib.ExitStack() as stack:
        profs, _ = profiles.open_profiles(stack, ["local"], {"small": m},
                                          readers=["ffm"], read_modes=["gen", "none"])
    assert [(c.reader, c.read_mode, c.label) for c in profs[0].cells["small"]] == [
        ("ffm", "gen", "ffm_gen"), ("ffm", "none", "ffm_none")]


def test_s3_profile_skipped_without_s3_support(tmp_path, monkeypatch):
    import tf_ffm

    monkeypatch.setattr(tf_ffm, "s3_supported", lambda: False)
    m = datagen.generate(tmp_path, "small", size_mb=0.1, shards=1)
    with contextlib.ExitStack() as stack:
        profs, skipped = profiles.open_profiles(stack, ["s3"], {"small": m})
    assert profs == []
    assert skipped == {"s3": "tf_ffm built without S3 support"}


def test_s3_environment_is_dummy_and_local():
    env = profiles.s3_env("http://127.0.0.1:1234")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1234"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"


def test_s3_profile_reads_s3_uris_with_both_readers_and_stock_the_mount(tmp_path):
    from tf_ffm.bench.servers import EmulatedS3, FuseMount, Unavailable

    try:
        EmulatedS3.check()
        FuseMount.check()
    except Unavailable as e:
        pytest.skip(e.reason)
    if profiles.s3_problem():
        pytest.skip(profiles.s3_problem())
    m = datagen.generate(tmp_path / "data", "small", size_mb=0.1, shards=2)
    with contextlib.ExitStack() as stack:
        profs, skipped = profiles.open_profiles(stack, ["s3"], {"small": m},
                                                log_dir=str(tmp_path / "logs"))
        if "s3" in skipped:
            pytest.skip(skipped["s3"])
        (s3,) = profs
        cells = {c.label: c for c in s3.cells["small"]}
        assert list(cells) == [label for m in ("none", "n", "autotune", "gen")
                               for label in (f"stock_{m}@mount", f"stock_{m}", f"ffm_{m}")]
        ffm = cells["ffm_none"].target
        assert cells["stock_none"].target == ffm  # stock through s3:// too
        assert ffm.paths == [f"s3://bench/small/{f['name']}" for f in m["files"]]
        endpoint = ffm.env["AWS_ENDPOINT_URL"]
        assert endpoint.startswith("http://127.0.0.1:")
        assert ffm.urls == [f"{endpoint}/bench/small/{f['name']}" for f in m["files"]]
        # nginx and rclone are measured as part of the set-up, not as "other".
        assert ffm.server_pgids and cells["stock_none@mount"].target.helper_pgid
        mounted = cells["stock_none@mount"].target.paths
        with open(mounted[0], "rb") as f, open(datagen.dataset_files(m)[0], "rb") as g:
            assert f.read() == g.read()
    with open("/proc/self/mounts") as f:
        assert mounted[0].rsplit("/small/", 1)[0] not in f.read()


def test_a_disturbed_run_is_measured_again(tmp_path, monkeypatch):
    from tf_ffm.bench import runner

    m = datagen.generate(tmp_path, "small", size_mb=0.1, shards=1)
    with contextlib.ExitStack() as stack:
        profs, _ = profiles.open_profiles(stack, ["local"], {"small": m})
    cell = profs[0].cells["small"][0]
    # The first run shares the machine with 0.8 s of other CPU in 1 s; the
    # second has it to itself.
    results = [{"wall_s": 1.0, "cpu_s": 1.0, "bytes": 1, "records": 1, "peak_rss_mb": 1,
                "counters": {"system_busy_s": busy}} for busy in (1.8, 1.05)]
    calls = []
    monkeypatch.setattr(runner, "run_worker",
                        lambda *a, **k: calls.append(k) or results[len(calls) - 1])
    opts = _parse("--quiet-wait", "5")
    budget = {"s": 100.0}
    result, error, discarded = main._measure(cell, "batched", opts, budget)
    assert error is None and result is results[1]
    assert [d["result"] for d in discarded] == [results[0]]
    assert "80 % of a core" in discarded[0]["discarded"]
    assert calls[0]["quiet_wait_s"] == 5
    # --quiet-wait 0: one run, kept whatever the machine did.
    calls.clear()
    result, _, discarded = main._measure(cell, "batched", _parse("--quiet-wait", "0"),
                                         {"s": 100.0})
    assert result is results[0] and not discarded
    # With the budget for waits and re-runs spent, the disturbed run is kept.
    calls.clear()
    result, _, discarded = main._measure(cell, "batched", opts, {"s": 0.0})
    assert result is results[0] and not discarded and calls[0]["quiet_wait_s"] == 0


def test_each_size_keeps_its_own_data(tmp_path):
    logs = []
    small = main._prepare_datasets(_parse("--work-dir", str(tmp_path), "--size-mb", "0.1",
                                          "--shards", "1", "--datasets", "small"), logs.append)
    other = main._prepare_datasets(_parse("--work-dir", str(tmp_path), "--size-mb", "0.2",
                                          "--shards", "2", "--datasets", "small"), logs.append)
    assert small["small"]["dir"] != other["small"]["dir"]
    # Generating the second did not remove the first (it is still complete).
    again = main._prepare_datasets(_parse("--work-dir", str(tmp_path), "--size-mb", "0.1",
                                          "--shards", "1", "--datasets", "small"), logs.append)
    assert again["small"]["files"] == small["small"]["files"]
    assert all(os.path.exists(p) for p in datagen.dataset_files(small["small"]))
