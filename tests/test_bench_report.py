"""Benchmark report: medians, ratios, table, JSON and PNG from recorded runs."""
import json

import pytest

from tf_ffm.bench import report

GB = 1e9


def _run(profile, dataset, reader, mode, wall, repeat=0, bytes_=GB, cpu=1.0,
         helper=None):
    result = {"reader": reader, "mode": mode, "records": 10_000, "bytes": bytes_,
              "bytes_exact": True, "wall_s": wall, "first_record_s": 0.01,
              "cpu_s": cpu, "peak_rss_mb": 600.0}
    if helper is not None:
        result["helper_cpu_s"] = helper
    return {"profile": profile, "dataset": dataset, "reader": reader, "mode": mode,
            "repeat": repeat, "result": result, "error": None}


@pytest.fixture
def recorded():
    runs = []
    for rep, jitter in enumerate((1.0, 1.1, 0.9)):
        runs += [
            _run("local", "small", "stock", "batched", 4.0 * jitter, rep),
            _run("local", "small", "stock_autotune", "batched", 2.0 * jitter, rep),
            _run("local", "small", "ffm", "batched", 1.0 * jitter, rep, cpu=0.5),
            _run("mount", "small", "stock", "batched", 10.0 * jitter, rep, helper=2.0),
            _run("mount", "small", "ffm", "batched", 5.0 * jitter, rep, helper=1.0),
            _run("s3", "small", "ffm", "batched", 2.5 * jitter, rep),
        ]
    runs.append({"profile": "local", "dataset": "large", "reader": "ffm",
                 "mode": "elementwise", "repeat": 0, "result": None,
                 "error": "ffm/elementwise exited with 1:\nboom"})
    ceilings = [{"profile": p, "dataset": "small", "repeat": 0, "bytes": 2 * GB,
                 "wall_s": w, "cpu_s": 0.2}
                for p, w in (("local", 1.0), ("mount", 4.0), ("s3", 2.0))]
    return runs, ceilings


def _row(rows, profile, reader, dataset="small", mode="batched"):
    return next(r for r in rows if (r["profile"], r["reader"], r["dataset"], r["mode"])
                == (profile, reader, dataset, mode))


def test_summary_medians_and_ratios(recorded):
    rows = report.summarise(*recorded)
    ffm = _row(rows, "local", "ffm")
    assert ffm["runs"] == 3
    assert ffm["mb_per_s"] == pytest.approx(1000.0)        # median wall 1.0 s
    assert ffm["records_per_s"] == pytest.approx(10_000)
    assert ffm["cpu_pct"] == pytest.approx(50.0)
    assert ffm["cpu_s_per_gb"] == pytest.approx(0.5)
    assert ffm["ceiling_mb_per_s"] == pytest.approx(2000.0)
    assert ffm["frac_of_ceiling"] == pytest.approx(0.5)
    assert ffm["ratio_vs_stock"] == pytest.approx(2.0)     # best stock: autotune
    assert _row(rows, "local", "stock")["ratio_vs_stock"] == pytest.approx(0.5)
    assert _row(rows, "mount", "ffm")["helper_cpu_pct"] == pytest.approx(20.0)
    # s3 has no stock runs of its own: its baseline is the stock reader on the mount.
    assert _row(rows, "s3", "ffm")["ratio_vs_stock"] == pytest.approx(4.0)
    failed = _row(rows, "local", "ffm", "large", "elementwise")
    assert failed["runs"] == 0 and failed["mb_per_s"] is None and failed["errors"]
    # Table order: profile, dataset, mode, then stock before ffm.
    local = [r["reader"] for r in rows if r["profile"] == "local" and r["dataset"] == "small"]
    assert local == ["stock", "stock_autotune", "ffm"]


def test_write_all_produces_table_json_png(recorded, tmp_path):
    runs, ceilings = recorded
    meta = {"title": "test bench", "skipped_profiles": {"s3": "no reason"}}
    paths = report.write_all(tmp_path / "out", runs, ceilings, meta)

    table = paths["table_text"]
    lines = table.splitlines()
    for header in ("profile", "dataset", "reader", "mode", "records/s", "MB/s", "CPU %",
                   "CPU-s/GB", "RSS MB", "of ceiling", "vs stock"):
        assert header in lines[0]
    assert len(lines) == 2 + 7
    assert any("ERR" in line for line in lines)
    with open(paths["table"]) as f:
        assert f.read().startswith(table)

    with open(paths["json"]) as f:
        payload = json.load(f)
    assert payload["meta"]["title"] == "test bench"
    assert len(payload["rows"]) == 7 and len(payload["runs"]) == len(runs)
    assert payload["ceilings"] == ceilings

    with open(paths["chart"], "rb") as f:
        head = f.read(8)
    assert head == b"\x89PNG\r\n\x1a\n"


def test_table_of_nothing_measured_is_just_headers():
    assert len(report.format_table([]).splitlines()) == 2
