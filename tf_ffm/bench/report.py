"""Benchmark report: per-cell statistics from the recorded runs, as text.

Inputs are the raw records main.py collects:
    runs      {"profile", "dataset", "reader" (a label, see labels.py),
               "consumption", "repeat", "result": worker JSON or None,
               "error": str or None, "discarded": reason (optional; such a
               run was disturbed and measured again, it only counts as
               "retried")}
    ceilings  {"profile", "dataset", "repeat", "bytes", "wall_s", "cpu_s"}

Units: MB = 1e6 bytes, GB = 1e9 bytes. Rates are medians over a cell's runs,
with their min–max. CPU % is process CPU time over wall time (100 % = one
core busy); CPU-s/GB the process's user+sys seconds per GB of record payload.
"of ceiling" is MB/s over the raw parallel ranged-read rate of the same
storage (for every row of the s3 profile, that of direct range GETs). "vs
stock" divides an ffm cell by the stock reader in the same read mode and
consumption in the same profile (for s3: stock reading s3:// through
tf_ffm's filesystem, or its runs on the mount when there are none); `format_best` compares each side's best mode.

A cell is flagged (column "flags") when its numbers are not to be trusted as
they stand:
    unstable   max/min of its runs' MB/s above labels.UNSTABLE_SPREAD
    epochs     max/min of its single epochs' MB/s above that: the reader itself
               runs at different speeds from one iterator to the next (seen:
               tf.data's AUTOTUNE interleave at ~850 or ~1,700 MB/s on a quiet
               machine, even pinned to one CPU), so a run's rate depends on
               which speeds its epochs drew
    busy       in some run, other processes used > BUSY_OTHER_PCT % of a core
               (system CPU minus the reader, its mount and the server)
    steal      in some run, the hypervisor took > STEAL_PCT % of a core
    disk       in some run, the reader or its server read more than
               DISK_FRACTION of the bytes from block devices, not page cache
    retried    runs disturbed by other processes were measured again (the
               disturbed ones are in the JSON, marked "discarded")
    teardown   in some run, destroying an epoch's iterator (end of `for x in
               ds`, counted in the epoch) took > TEARDOWN_S: tf.data's
               autotuning thread holds it ~1 s now and then, for either
               reader (gone with options.autotune.enabled=False)
"""
import statistics
from typing import Dict, List

from tf_ffm.bench.labels import (UNSTABLE_SPREAD, fmt, fmt_range, fmt_ratio, label_key,
                                 parse_label)

MB = 1e6
GB = 1e9
BASELINE_FALLBACK = {"s3": "mount"}  # profile -> where its stock baseline runs
BUSY_OTHER_PCT = 25.0
STEAL_PCT = 5.0
DISK_FRACTION = 0.05
TEARDOWN_S = 0.5  # seconds to destroy one epoch's iterator
KEY_FIELDS = ("profile", "dataset", "consumption", "reader")

COLUMNS = [  # (header, render(row), left-aligned)
    ("profile", lambda r: r["profile"], True),
    ("dataset", lambda r: r["dataset"], True),
    ("consumption", lambda r: r["consumption"], True),
    ("reader", lambda r: r["reader"], True),
    ("records/s", lambda r: fmt(r["records_per_s"], "{:,.0f}"), False),
    ("min–max", lambda r: fmt_range(r["records_per_s_min"], r["records_per_s_max"],
                                    "{:,.0f}"), False),
    ("MB/s", lambda r: fmt(r["mb_per_s"], "{:,.1f}", "ERR" if r["errors"] else "-"), False),
    ("min–max ", lambda r: fmt_range(r["mb_per_s_min"], r["mb_per_s_max"], "{:,.0f}"),
     False),
    ("CPU %", lambda r: fmt(r["cpu_pct"], "{:.0f}"), False),
    ("CPU-s/GB", lambda r: fmt(r["cpu_s_per_gb"], "{:.2f}"), False),
    ("RSS MB", lambda r: fmt(r["peak_rss_mb"], "{:,.0f}"), False),
    ("of ceiling", lambda r: fmt(r["frac_of_ceiling"], "{:.0%}"), False),
    ("vs stock", lambda r: fmt_ratio(r["ratio_vs_stock_same_mode"]), False),
    ("runs", lambda r: str(r["runs"]), False),
    ("flags", lambda r: " ".join(r["flags"]), True),
]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _extreme(fn, values):
    values = [v for v in values if v is not None]
    return fn(values) if values else None


def ceiling_rates(ceilings) -> Dict[tuple, float]:
    """(profile, dataset) -> median over repeats of the best pass's raw MB/s
    (of all passes together for records without per-pass times)."""
    groups = {}
    for c in ceilings:
        if c.get("pass_s") and c.get("pass_bytes"):
            rate = c["pass_bytes"] / min(c["pass_s"]) / MB
        elif c.get("wall_s"):
            rate = c["bytes"] / c["wall_s"] / MB
        else:
            continue
        groups.setdefault((c["profile"], c["dataset"]), []).append(rate)
    return {k: statistics.median(v) for k, v in groups.items()}


def derive(res) -> dict:
    """Rates and the machine's side of one worker result."""
    wall = res["wall_s"] or float("nan")
    c = res.get("counters") or {}
    out = {"records_per_s": res["records"] / wall, "mb_per_s": res["bytes"] / wall / MB,
           "cpu_pct": 100 * res["cpu_s"] / wall,
           "cpu_s_per_gb": res["cpu_s"] / (res["bytes"] / GB) if res["bytes"] else None,
           "peak_rss_mb": res["peak_rss_mb"], "first_record_s": res.get("first_record_s"),
           "records": res["records"], "bytes": res["bytes"],
           "helper_cpu_pct": (100 * res["helper_cpu_s"] / wall
                              if "helper_cpu_s" in res else None),
           "server_cpu_pct": (100 * res["server_cpu_s"] / wall
                              if "server_cpu_s" in res else None),
           "loadavg_1m": (res.get("loadavg") or [None])[0]}
    if c.get("system_busy_s") is not None:
        # Everything the machine did in the window that is not this
        # measurement's own processes: other jobs, kernel threads.
        own = res["cpu_s"] + res.get("helper_cpu_s", 0) + res.get("server_cpu_s", 0)
        out["other_cpu_pct"] = max(0.0, 100 * (c["system_busy_s"] - own) / wall)
    if c.get("system_steal_s") is not None:
        out["steal_pct"] = 100 * c["system_steal_s"] / wall
    if c.get("read_bytes") is not None and res["bytes"]:
        # Block-device reads by the reader and by the server feeding it: what
        # should have come from the page cache and did not.
        disk = c["read_bytes"] + res.get("server_read_bytes", 0)
        out["disk_fraction"] = disk / res["bytes"]
    walls = res.get("epoch_wall_s") or []
    if len(walls) > 1 and res.get("bytes_exact", True):
        # Every epoch reads the same bytes; the first includes iterator start-up
        # like every other, so all count.
        per_epoch = res["bytes"] / len(walls)
        out["epoch_mb_per_s"] = [per_epoch / w / MB for w in walls if w > 0]
    if res.get("teardown_s"):
        out["max_teardown_s"] = max(res["teardown_s"])
    for k in ("minflt", "nivcsw", "nvcsw", "migrations"):
        if c.get(k) is not None and res["bytes"]:
            out[f"{k}_per_gb"] = c[k] / (res["bytes"] / GB)
    return out


def _flags(row, per_run) -> List[str]:
    flags = []
    if row["spread"] is not None and row["spread"] > UNSTABLE_SPREAD:
        flags.append(f"unstable({row['spread']:.2f}x)")
    if row["epoch_spread"] is not None and row["epoch_spread"] > UNSTABLE_SPREAD:
        flags.append(f"epochs({row['epoch_spread']:.2f}x)")
    if any((m.get("other_cpu_pct") or 0) > BUSY_OTHER_PCT for m in per_run):
        flags.append("busy")
    if any((m.get("steal_pct") or 0) > STEAL_PCT for m in per_run):
        flags.append("steal")
    if any((m.get("disk_fraction") or 0) > DISK_FRACTION for m in per_run):
        flags.append("disk")
    if row["retried"]:
        flags.append(f"retried({row['retried']})")
    slowest = max((m.get("max_teardown_s") or 0 for m in per_run), default=0)
    if slowest > TEARDOWN_S:
        flags.append(f"teardown({slowest:.1f}s)")
    return flags


def _row(key, group, ceiling) -> dict:
    retried = sum(1 for r in group if r.get("discarded"))
    group = [r for r in group if not r.get("discarded")]
    ok = [r["result"] for r in group if r.get("result")]
    row = dict(zip(KEY_FIELDS, key), runs=len(ok), retried=retried,
               errors=[r["error"] for r in group if r.get("error")],
               warnings=sorted({res["exit_warning"] for res in ok
                                if res.get("exit_warning")}))
    per_run = [derive(res) for res in ok]
    for k in ("records_per_s", "mb_per_s", "cpu_pct", "cpu_s_per_gb", "peak_rss_mb",
              "helper_cpu_pct", "server_cpu_pct", "first_record_s", "records", "bytes",
              "other_cpu_pct", "steal_pct", "disk_fraction", "minflt_per_gb",
              "nivcsw_per_gb", "migrations_per_gb"):
        row[k] = _median([m.get(k) for m in per_run])
    for k in ("records_per_s", "mb_per_s"):
        row[f"{k}_min"] = _extreme(min, [m[k] for m in per_run])
        row[f"{k}_max"] = _extreme(max, [m[k] for m in per_run])
    row["per_run_mb_per_s"] = [m["mb_per_s"] for m in per_run]
    epochs = [x for m in per_run for x in m.get("epoch_mb_per_s", [])]
    row["epoch_mb_per_s_min"] = min(epochs) if epochs else None
    row["epoch_mb_per_s_max"] = max(epochs) if epochs else None
    row["epoch_spread"] = (max(epochs) / min(epochs)
                           if len(epochs) >= 2 and min(epochs) > 0 else None)
    lo, hi = row["mb_per_s_min"], row["mb_per_s_max"]
    row["spread"] = hi / lo if len(per_run) >= 2 and lo else None
    row["unstable"] = row["spread"] is not None and row["spread"] > UNSTABLE_SPREAD
    row["max_loadavg_1m"] = _extreme(max, [m["loadavg_1m"] for m in per_run])
    row["flags"] = _flags(row, per_run)
    rate = ceiling.get((row["profile"], row["dataset"]))
    row["ceiling_mb_per_s"] = rate
    row["frac_of_ceiling"] = (row["mb_per_s"] / rate
                              if rate and row["mb_per_s"] is not None else None)
    return row


def summarise(runs, ceilings) -> List[dict]:
    """One row per (profile, dataset, consumption, reader label), in table order."""
    groups = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in KEY_FIELDS), []).append(run)
    ceiling = ceiling_rates(ceilings)
    rows = [_row(key, group, ceiling) for key, group in groups.items()]
    for row in rows:
        reader, read_mode, _ = parse_label(row["reader"])
        same = _stock_rows(rows, row, read_mode) if reader == "ffm" else []
        base = same[0]["mb_per_s"] if same else None
        row["stock_same_mode_mb_per_s"] = base
        row["ratio_vs_stock_same_mode"] = (row["mb_per_s"] / base
                                           if base and row["mb_per_s"] is not None else None)
        best = max((r["mb_per_s"] for r in _stock_rows(rows, row)), default=None)
        row["stock_best_mb_per_s"] = best
        row["ratio_vs_stock_best"] = (row["mb_per_s"] / best
                                      if best and row["mb_per_s"] is not None else None)
    rows.sort(key=lambda r: (r["profile"], r["dataset"], r["consumption"],
                             label_key(r["reader"])))
    return rows


def _stock_rows(rows, row, read_mode=None):
    """The stock reader's measured rows comparable with `row` (same dataset and
    consumption; the same read mode if given): from its own profile, those
    reading the profile's own storage first (s3: stock through tf_ffm's
    s3:// filesystem before stock on the mount), or from the profile
    BASELINE_FALLBACK names when it has none."""
    for profile in (row["profile"], BASELINE_FALLBACK.get(row["profile"])):
        found = [r for r in rows
                 if r["profile"] == profile and r["dataset"] == row["dataset"]
                 and r["consumption"] == row["consumption"]
                 and parse_label(r["reader"])[0] == "stock"
                 and (read_mode is None or parse_label(r["reader"])[1] == read_mode)
                 and r["mb_per_s"] is not None]
        if found:
            own = [r for r in found if parse_label(r["reader"])[2] is None]
            return own or found
    return []


def best_lines(rows) -> List[dict]:
    """Per (profile, dataset, consumption): each reader's best cell, and ffm's
    slowest mode relative to its best (a "slow mode" is a trap for users)."""
    out = []
    for key in sorted({(r["profile"], r["dataset"], r["consumption"]) for r in rows}):
        group = [r for r in rows if (r["profile"], r["dataset"], r["consumption"]) == key
                 and r["mb_per_s"] is not None]
        ffm = [r for r in group if parse_label(r["reader"])[0] == "ffm"]
        if not ffm:
            continue
        stock = _stock_rows(rows, ffm[0])
        best_f = max(ffm, key=lambda r: r["mb_per_s"])
        worst_f = min(ffm, key=lambda r: r["mb_per_s"])
        best_s = max(stock, key=lambda r: r["mb_per_s"]) if stock else None
        out.append({
            "profile": key[0], "dataset": key[1], "consumption": key[2],
            "ffm_best": best_f["reader"], "ffm_best_mb_per_s": best_f["mb_per_s"],
            "stock_best": best_s["reader"] if best_s else None,
            "stock_best_mb_per_s": best_s["mb_per_s"] if best_s else None,
            "ratio": best_f["mb_per_s"] / best_s["mb_per_s"] if best_s else None,
            "ffm_slowest": worst_f["reader"],
            "ffm_slowest_vs_best": worst_f["mb_per_s"] / best_f["mb_per_s"]})
    return out


def format_best(lines) -> str:
    out = []
    for b in lines:
        text = (f"{b['profile']}/{b['dataset']}/{b['consumption']}: ffm best / stock best = "
                f"{b['ffm_best']} {b['ffm_best_mb_per_s']:,.1f} MB/s / ")
        text += (f"{b['stock_best']} {b['stock_best_mb_per_s']:,.1f} MB/s = "
                 f"{b['ratio']:.2f}x" if b["stock_best"] else "no stock run")
        text += f"; ffm slowest {b['ffm_slowest']} {b['ffm_slowest_vs_best']:.2f}x of best"
        out.append(text)
    return "\n".join(out)


def format_table(rows) -> str:
    """A plain-text table; "-" where a value is unknown, ERR where every run failed."""
    body = [[render(r) for _, render, _ in COLUMNS] for r in rows]
    header = [h.strip() for h, _, _ in COLUMNS]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]

    def line(cells):
        return "  ".join(c.ljust(w) if COLUMNS[i][2] else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths)]
                     + [line(c) for c in body])


def format_notes(rows) -> str:
    """One line per reader and problem: runs that failed or crashed after measuring."""
    seen, out = set(), []
    for row in rows:
        for kind, texts in (("failed", row.get("errors")), ("warning", row.get("warnings"))):
            for text in texts or ():
                lines = text.strip().splitlines() or [""]
                summary = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
                key = (row["profile"], row["reader"], kind, summary)
                if key not in seen:
                    seen.add(key)
                    out.append(f"{kind}: {row['profile']}/{row['reader']}: {summary}")
    return "\n".join(out)


def format_ceilings(ceilings) -> str:
    rates = ceiling_rates(ceilings)
    return "\n".join(f"raw ceiling {p}/{d}: {mbps:,.1f} MB/s "
                     "(best pass; 8 MiB ranges, 16 in flight, no parsing)"
                     for (p, d), mbps in sorted(rates.items()))


def format_machine(meta, rows) -> str:
    """What the machine was set to and how loaded it was, in one or two lines."""
    m = meta.get("machine_before") or {}
    if not m:
        return ""
    parts = [f"{m.get('cpus')} CPUs", f"THP {m.get('thp_enabled')}"
             f" (defrag {m.get('thp_defrag')})"]
    if m.get("damon_pageout"):
        parts.append("DAMON " + ", ".join(m["damon_pageout"]))
    if m.get("balloon_free_page_reporting"):
        parts.append("balloon free page reporting")
    if m.get("malloc_top_pad"):
        parts.append(f"glibc malloc top pad: {m['malloc_top_pad']} (tf_ffm/_allocator.py)")
    if m.get("malloc_env"):
        parts.append(" ".join(f"{k}={v}" for k, v in sorted(m["malloc_env"].items())))
    loads = [r["max_loadavg_1m"] for r in rows if r.get("max_loadavg_1m") is not None]
    text = "machine: " + "; ".join(parts)
    if loads:
        text += f"; 1-min load before runs up to {max(loads):.2f}"
    flagged = sum(1 for r in rows if r["flags"])
    if flagged:
        text += (f"\n{flagged} of {len(rows)} cells flagged (unstable: runs' max/min > "
                 f"{UNSTABLE_SPREAD}; busy: other processes > {BUSY_OTHER_PCT:.0f} % of a "
                 "core in a run; epochs: single epochs differ; steal: the hypervisor "
                 "took > "
                 f"{STEAL_PCT:.0f} %; disk: page cache missed; retried: disturbed runs "
                 f"measured again; teardown: an epoch's iterator took > {TEARDOWN_S} s to "
                 "destroy)")
    return text


def format_all(rows, ceilings, meta) -> str:
    """The whole text report: table, best lines, ceilings, machine, notes."""
    parts = (format_table(rows), format_best(best_lines(rows)), format_ceilings(ceilings),
             format_machine(meta, rows), format_notes(rows))
    return "\n\n".join(p for p in parts if p)
