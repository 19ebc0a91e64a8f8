"""Benchmark report: statistics, ratios, flags, text, JSON and PNG from given runs.

The runs are made up with round numbers so every expected figure can be
worked out by hand: 1 GB read in `wall` seconds is 1000/wall MB/s.
"""
import json
import subprocess
import sys

import pytest

from tf_ffm.bench import output, report

GB = 1e9


def _run(profile, dataset, reader, wall, repeat=0, consumption="batched", bytes_=GB,
         cpu=1.0, helper=None, server=None, counters=None, load=0.1):
    result = {"reader": reader.split("_")[0], "read_mode": reader.split("_")[1],
              "consumption": consumption, "records": 10_000, "bytes": bytes_,
              "bytes_exact": True, "wall_s": wall, "first_record_s": 0.01,
              "cpu_s": cpu, "peak_rss_mb": 600.0 + repeat, "loadavg": [load, load, load],
              "counters": counters if counters is not None else {
                  "system_busy_s": cpu + (helper or 0) + (server or 0),
                  "system_steal_s": 0.0, "read_bytes": 0, "minflt": 1000}}
    if helper is not None:
        result["helper_cpu_s"] = helper
    if server is not None:
        result["server_cpu_s"] = server
        result["server_read_bytes"] = 0
    return {"profile": profile, "dataset": dataset, "reader": reader,
            "consumption": consumption, "repeat": repeat, "result": result, "error": None}


@pytest.fixture
def recorded():
    runs = []
    # Three repeats; walls chosen so medians, minima and maxima differ.
    for rep, jitter in enumerate((1.0, 1.25, 0.8)):
        runs += [
            _run("local", "small", "stock_none", 4.0 * jitter, rep),
            _run("local", "small", "stock_autotune", 2.0 * jitter, rep),
            _run("local", "small", "ffm_none", 1.0 * jitter, rep, cpu=0.5),
            _run("local", "small", "ffm_autotune", 2.5, rep),           # steady
            _run("mount", "small", "stock_none", 10.0 * jitter, rep, helper=2.0, server=1.0),
            _run("mount", "small", "ffm_none", 5.0, rep, helper=1.0, server=1.0),
            _run("s3", "small", "ffm_none", 2.5, rep, server=1.0),
            _run("s3", "small", "ffm_autotune", 2.0, rep, server=1.0),
        ]
    runs.append({"profile": "local", "dataset": "large", "reader": "ffm_none",
                 "consumption": "elementwise", "repeat": 0, "result": None,
                 "error": "ffm_none/elementwise exited with 1:\nboom"})
    ceilings = [{"profile": p, "dataset": "small", "repeat": 0, "bytes": 2 * GB,
                 "wall_s": w, "cpu_s": 0.2}
                for p, w in (("local", 1.0), ("mount", 4.0), ("s3", 2.0))]
    return runs, ceilings


def _row(rows, profile, reader, dataset="small", consumption="batched"):
    return next(r for r in rows
                if (r["profile"], r["reader"], r["dataset"], r["consumption"])
                == (profile, reader, dataset, consumption))


def test_s3_baseline_is_stock_reading_s3_when_measured(recorded):
    """With stock runs on s3:// (through tf_ffm's filesystem) beside stock on
    the mount, "vs stock" divides by the former, whatever the run order."""
    runs, ceilings = recorded
    for rep in range(3):
        runs.insert(0, _run("s3", "small", "stock_none@mount", 10.0, rep))
        runs.append(_run("s3", "small", "stock_none", 5.0, rep, server=1.0))
    rows = report.summarise(runs, ceilings)
    ffm = _row(rows, "s3", "ffm_none")                  # 400 MB/s
    assert ffm["stock_same_mode_mb_per_s"] == pytest.approx(200.0)
    assert ffm["ratio_vs_stock_same_mode"] == pytest.approx(2.0)
    assert ffm["ratio_vs_stock_best"] == pytest.approx(2.0)


def test_median_min_max_and_derived_metrics(recorded):
    rows = report.summarise(*recorded)
    ffm = _row(rows, "local", "ffm_none")     # walls 1.0, 1.25, 0.8 s for 1 GB
    assert ffm["runs"] == 3
    assert ffm["mb_per_s"] == pytest.approx(1000.0)
    assert ffm["mb_per_s_min"] == pytest.approx(800.0)
    assert ffm["mb_per_s_max"] == pytest.approx(1250.0)
    assert ffm["per_run_mb_per_s"] == pytest.approx([1000.0, 800.0, 1250.0])
    assert ffm["records_per_s"] == pytest.approx(10_000)
    assert (ffm["records_per_s_min"], ffm["records_per_s_max"]) == pytest.approx((8000, 12500))
    assert ffm["cpu_pct"] == pytest.approx(50.0)        # 0.5 s CPU over 1.0 s
    assert ffm["cpu_s_per_gb"] == pytest.approx(0.5)
    assert ffm["peak_rss_mb"] == pytest.approx(601.0)   # median of 600, 601, 602
    assert ffm["ceiling_mb_per_s"] == pytest.approx(2000.0)
    assert ffm["frac_of_ceiling"] == pytest.approx(0.5)
    mount = _row(rows, "mount", "stock_none")
    assert mount["helper_cpu_pct"] == pytest.approx(20.0)  # 2 s rclone over 10 s
    assert mount["server_cpu_pct"] == pytest.approx(10.0)


def test_ratios_same_mode_and_best(recorded):
    rows = report.summarise(*recorded)
    # Same read mode: ffm_none 1000 / stock_none 250; ffm_autotune 400 / stock 500.
    assert _row(rows, "local", "ffm_none")["ratio_vs_stock_same_mode"] == pytest.approx(4.0)
    assert _row(rows, "local", "ffm_autotune")["ratio_vs_stock_same_mode"] == pytest.approx(0.8)
    assert _row(rows, "local", "stock_none")["ratio_vs_stock_same_mode"] is None
    assert _row(rows, "local", "ffm_none")["ratio_vs_stock_best"] == pytest.approx(2.0)
    # s3 has no stock runs of its own: its baseline is the stock reader on the
    # mount (100 MB/s), and the mount has no stock_autotune to compare with.
    assert _row(rows, "s3", "ffm_none")["ratio_vs_stock_same_mode"] == pytest.approx(4.0)
    assert _row(rows, "s3", "ffm_autotune")["ratio_vs_stock_same_mode"] is None
    assert _row(rows, "s3", "ffm_autotune")["ratio_vs_stock_best"] == pytest.approx(5.0)

    best = {(b["profile"], b["consumption"]): b for b in report.best_lines(rows)}
    local = best[("local", "batched")]
    assert (local["ffm_best"], local["stock_best"]) == ("ffm_none", "stock_autotune")
    assert local["ratio"] == pytest.approx(2.0)
    assert local["ffm_slowest"] == "ffm_autotune"
    assert local["ffm_slowest_vs_best"] == pytest.approx(0.4)
    assert best[("s3", "batched")]["ratio"] == pytest.approx(5.0)
    text = report.format_best(report.best_lines(rows))
    assert ("local/small/batched: ffm best / stock best = ffm_none 1,000.0 MB/s / "
            "stock_autotune 500.0 MB/s = 2.00x; ffm slowest ffm_autotune 0.40x of best"
            in text.splitlines())


def test_unstable_and_machine_flags():
    runs = [_run("local", "large", "stock_none", w, i) for i, w in enumerate((1.0, 1.9, 1.0))]
    runs += [_run("local", "large", "ffm_none", w, i) for i, w in enumerate((1.0, 1.2, 1.1))]
    # Another process using 0.6 s of CPU in a 1 s run; the hypervisor stealing
    # 0.1 s; the reader fetching half its bytes from disk.
    runs += [_run("local", "large", "stock_gen", 1.0, 0, counters={
        "system_busy_s": 1.6, "system_steal_s": 0.1, "read_bytes": GB / 2})]
    rows = report.summarise(runs, [])
    stock = _row(rows, "local", "stock_none", "large")
    assert stock["spread"] == pytest.approx(1.9) and stock["unstable"]
    assert stock["flags"] == ["unstable(1.90x)"]
    ffm = _row(rows, "local", "ffm_none", "large")
    assert ffm["spread"] == pytest.approx(1.2) and not ffm["unstable"] and ffm["flags"] == []
    gen = _row(rows, "local", "stock_gen", "large")
    assert gen["spread"] is None and not gen["unstable"]   # one run: no spread
    assert gen["other_cpu_pct"] == pytest.approx(60.0)
    assert gen["flags"] == ["busy", "steal", "disk"]
    table = report.format_table(rows)
    assert "unstable(1.90x)" in table and "busy steal disk" in table


def test_epochs_of_two_speeds_are_flagged():
    # One process: three epochs of 1/3 GB, the middle one at half speed.
    run = _run("local", "large", "stock_autotune", 1.0, 0)
    run["result"]["epochs"], run["result"]["epoch_wall_s"] = 3, [0.25, 0.5, 0.25]
    steady = _run("local", "large", "ffm_autotune", 1.0, 0)
    steady["result"]["epochs"], steady["result"]["epoch_wall_s"] = 2, [0.5, 0.5]
    rows = report.summarise([run, steady], [])
    row = _row(rows, "local", "stock_autotune", "large")
    assert row["epoch_mb_per_s_min"] == pytest.approx(1000 / 3 / 0.5)
    assert row["epoch_mb_per_s_max"] == pytest.approx(1000 / 3 / 0.25)
    assert row["epoch_spread"] == pytest.approx(2.0)
    assert row["flags"] == ["epochs(2.00x)"]
    assert _row(rows, "local", "ffm_autotune", "large")["flags"] == []


def test_a_slow_iterator_teardown_is_flagged():
    # Epochs of 0.5 s, one of which spent 1.2 s destroying its iterator.
    slow = _run("mount", "small", "stock_n", 2.2, 0)
    slow["result"]["epoch_wall_s"], slow["result"]["teardown_s"] = [0.5, 1.7], [0.0, 1.2]
    quick = _run("mount", "small", "ffm_n", 1.0, 0)
    quick["result"]["epoch_wall_s"], quick["result"]["teardown_s"] = [0.5, 0.5], [0.0, 0.4]
    rows = report.summarise([slow, quick], [])
    assert "teardown(1.2s)" in _row(rows, "mount", "stock_n", "small")["flags"]
    assert not any(f.startswith("teardown")
                   for f in _row(rows, "mount", "ffm_n", "small")["flags"])


def test_discarded_runs_only_count_as_retried():
    busy = _run("local", "large", "ffm_none", 4.0, 0, counters={"system_busy_s": 3.0})
    busy["discarded"] = "other processes used 50 % of a core"
    runs = [busy, _run("local", "large", "ffm_none", 1.0, 0),
            _run("local", "large", "ffm_none", 1.1, 1)]
    (row,) = report.summarise(runs, [])
    assert row["runs"] == 2 and row["retried"] == 1
    assert row["mb_per_s_min"] == pytest.approx(1000 / 1.1)  # not the discarded 250
    assert row["flags"] == ["retried(1)"]


def test_ceiling_is_the_best_pass_median_over_repeats():
    ceilings = [{"profile": "mount", "dataset": "large", "repeat": r, "bytes": 3 * GB,
                 "wall_s": 30.0, "pass_bytes": GB, "pass_s": passes}
                for r, passes in enumerate(([20.0, 5.0, 5.0], [4.0, 8.0], [10.0, 2.0]))]
    assert report.ceiling_rates(ceilings) == {("mount", "large"): pytest.approx(250.0)}
    # Older records (no per-pass times): all bytes over all the time.
    assert report.ceiling_rates([{"profile": "s3", "dataset": "small", "bytes": GB,
                                  "wall_s": 2.0}]) == {("s3", "small"): 500.0}


def test_table_layout(recorded):
    rows = report.summarise(*recorded)
    lines = report.format_table(rows).splitlines()
    for header in ("profile", "dataset", "consumption", "reader", "records/s", "min–max",
                   "MB/s", "CPU %", "CPU-s/GB", "RSS MB", "of ceiling", "vs stock", "runs",
                   "flags"):
        assert header in lines[0]
    assert len(lines) == 2 + 9
    ffm = next(line for line in lines if line.startswith("local    small") and "ffm_none" in line)
    assert "1,000.0" in ffm and "800–1,250" in ffm and "8,000–12,500" in ffm and "4.00x" in ffm
    assert any("ERR" in line for line in lines)
    # Order: profile, dataset, consumption; within, read mode then stock before ffm.
    local = [r["reader"] for r in rows if (r["profile"], r["dataset"]) == ("local", "small")]
    assert local == ["stock_none", "ffm_none", "stock_autotune", "ffm_autotune"]
    assert len(report.format_table([]).splitlines()) == 2


def test_write_all_produces_text_json_png(recorded, tmp_path):
    runs, ceilings = recorded
    meta = {"title": "test bench", "skipped_profiles": {},
            "machine_before": {"cpus": 2, "thp_enabled": "madvise", "thp_defrag": "madvise",
                               "damon_pageout": ["paddr pageout age>=12"]}}
    paths = output.write_all(tmp_path / "out", runs, ceilings, meta)
    text = paths["text"]
    assert "ffm best / stock best" in text and "raw ceiling local/small: 2,000.0" in text
    assert "THP madvise" in text and "DAMON paddr pageout" in text
    assert "failed: local/ffm_none: ffm_none/elementwise exited with 1: ... boom" in text
    with open(paths["table"]) as f:
        assert f.read() == text + "\n"
    with open(paths["json"]) as f:
        payload = json.load(f)
    assert payload["meta"]["title"] == "test bench"
    assert len(payload["rows"]) == 9 and len(payload["runs"]) == len(runs)
    assert {b["profile"] for b in payload["best"]} == {"local", "mount", "s3"}
    assert payload["ceilings"] == ceilings
    with open(paths["chart"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_chart_and_report_import_in_either_order_without_a_cycle():
    import ast

    for order in (("chart", "report"), ("report", "chart"), ("output", "chart")):
        code = "; ".join(f"import tf_ffm.bench.{m}" for m in order) + "; print('ok')"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        assert out[-1] == "ok"
    # report.py (statistics, text) never imports the chart: no cycle can come back.
    tree = ast.parse(open(report.__file__).read())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names} | {n.module for n in ast.walk(tree)
                                     if isinstance(n, ast.ImportFrom) and n.module}
    assert not any("chart" in name for name in imported), imported
