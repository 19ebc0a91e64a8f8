"""`tf-ffm bench` plumbing that needs no measurement: options, plan, profiles."""
import argparse
import contextlib

import pytest

from tf_ffm.bench import datagen, main, profiles


def _parse(*argv):
    return main._resolve(main.add_arguments(argparse.ArgumentParser()).parse_args(argv))


def test_defaults_and_quick():
    full = _parse()
    assert full.profiles == ["local", "mount", "s3"]
    assert full.datasets == ["small", "large"]
    assert (full.size_mb, full.repeats) == (512, 3)
    assert full.modes == ["batched", "elementwise"]
    quick = _parse("--quick")
    assert (quick.size_mb, quick.repeats, quick.modes) == (64, 1, ["batched"])
    mixed = _parse("--quick", "--modes", "elementwise", "--size-mb", "8", "--profiles", "s3")
    assert (mixed.size_mb, mixed.modes, mixed.profiles) == (8, ["elementwise"], ["s3"])
    with pytest.raises(SystemExit):
        _parse("--profiles", "local,nfs")


def test_plan_alternates_readers(tmp_path):
    m = datagen.generate(tmp_path, "small", size_mb=0.1, shards=1)
    with contextlib.ExitStack() as stack:
        profs, skipped = profiles.open_profiles(stack, ["local"], {"small": m})
    assert [p.name for p in profs] == ["local"] and not skipped
    plan = main._plan(profs, ["batched", "elementwise"], repeats=3)
    assert len(plan) == 3 * (1 + 2 * 3)
    firsts = [item[3].reader for item in plan if item[0] == "run" and item[4] == "batched"][::3]
    assert firsts == ["stock", "stock_autotune", "ffm"], "reader order not rotated"
    cell = profs[0].cells["small"][0]
    assert cell.target.paths == datagen.dataset_files(m)


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


def test_s3_profile_reads_s3_uris_and_stock_reads_the_mount(tmp_path):
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
        assert sorted(cells) == ["ffm", "stock@mount", "stock_autotune@mount"]
        ffm = cells["ffm"].target
        assert ffm.paths == [f"s3://bench/small/{f['name']}" for f in m["files"]]
        endpoint = ffm.env["AWS_ENDPOINT_URL"]
        assert endpoint.startswith("http://127.0.0.1:")
        assert ffm.urls == [f"{endpoint}/bench/small/{f['name']}" for f in m["files"]]
        mounted = cells["stock@mount"].target.paths
        with open(mounted[0], "rb") as f, open(datagen.dataset_files(m)[0], "rb") as g:
            assert f.read() == g.read()
    with open("/proc/self/mounts") as f:
        assert mounted[0].rsplit("/small/", 1)[0] not in f.read()
