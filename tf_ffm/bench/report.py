"""Benchmark report: per-cell medians as a table, a JSON file and a PNG chart.

Inputs are the raw records main.py collects:
    runs      {"profile", "dataset", "reader", "mode", "repeat",
               "result": worker JSON or None, "error": str or None}
    ceilings  {"profile", "dataset", "repeat", "bytes", "wall_s", "cpu_s"}

Units: MB = 1e6 bytes, GB = 1e9 bytes. CPU % is process CPU time over wall
time (100 % = one core busy). "of ceiling" is MB/s over the raw parallel
ranged-read rate of the same storage (for every row of the s3 profile, that of
direct range GETs); "vs stock" is MB/s over the best of
the stock reader's configurations (num_parallel_reads None or AUTOTUNE) for
the same dataset and consumption mode in the same profile (for s3, where
the stock reader cannot go, its runs on the mount).
"""
import json
import os
import statistics
from typing import Dict, List

MB = 1e6
GB = 1e9
BASELINE_FALLBACK = {"s3": "mount"}  # profile -> where its stock baseline runs
READER_ORDER = ("stock", "stock_autotune", "stock@mount", "stock_autotune@mount",
                "best stock (mount)", "ffm")

COLUMNS = [  # (header, row key, format)
    ("profile", "profile", "{}"), ("dataset", "dataset", "{}"), ("reader", "reader", "{}"),
    ("mode", "mode", "{}"), ("records/s", "records_per_s", "{:,.0f}"),
    ("MB/s", "mb_per_s", "{:,.1f}"), ("CPU %", "cpu_pct", "{:.0f}"),
    ("CPU-s/GB", "cpu_s_per_gb", "{:.2f}"), ("RSS MB", "peak_rss_mb", "{:,.0f}"),
    ("of ceiling", "frac_of_ceiling", "{:.0%}"), ("vs stock", "ratio_vs_stock", "{:.2f}x"),
    ("runs", "runs", "{}"),
]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _reader_key(name):
    return (READER_ORDER.index(name) if name in READER_ORDER else len(READER_ORDER), name)


def ceiling_rates(ceilings) -> Dict[tuple, float]:
    """(profile, dataset) -> median raw MB/s."""
    groups = {}
    for c in ceilings:
        if c.get("wall_s"):
            groups.setdefault((c["profile"], c["dataset"]), []).append(
                c["bytes"] / c["wall_s"] / MB)
    return {k: statistics.median(v) for k, v in groups.items()}


def summarise(runs, ceilings) -> List[dict]:
    """One row per (profile, dataset, reader, mode) with median metrics."""
    groups = {}
    for run in runs:
        key = (run["profile"], run["dataset"], run["reader"], run["mode"])
        groups.setdefault(key, []).append(run)
    ceiling = ceiling_rates(ceilings)
    rows = []
    for (profile, dataset, reader, mode), group in groups.items():
        ok = [r["result"] for r in group if r.get("result")]
        errors = [r["error"] for r in group if r.get("error")]
        warnings = sorted({res["exit_warning"] for res in ok if res.get("exit_warning")})
        row = {"profile": profile, "dataset": dataset, "reader": reader, "mode": mode,
               "runs": len(ok), "errors": errors, "warnings": warnings}
        per_run = [_derive(res) for res in ok]
        for key in ("records_per_s", "mb_per_s", "cpu_pct", "cpu_s_per_gb",
                    "peak_rss_mb", "helper_cpu_pct", "first_record_s", "records",
                    "bytes"):
            row[key] = _median([m.get(key) for m in per_run])
        rate = ceiling.get((profile, dataset))
        row["ceiling_mb_per_s"] = rate
        row["frac_of_ceiling"] = (row["mb_per_s"] / rate
                                  if rate and row["mb_per_s"] is not None else None)
        rows.append(row)
    for row in rows:
        base = _stock_best(rows, row)
        row["stock_best_mb_per_s"] = base
        row["ratio_vs_stock"] = (row["mb_per_s"] / base
                                 if base and row["mb_per_s"] is not None else None)
    rows.sort(key=lambda r: (r["profile"], r["dataset"], r["mode"], _reader_key(r["reader"])))
    return rows


def _derive(res) -> dict:
    wall = res["wall_s"] or float("nan")
    out = {"records_per_s": res["records"] / wall, "mb_per_s": res["bytes"] / wall / MB,
           "cpu_pct": 100 * res["cpu_s"] / wall,
           "cpu_s_per_gb": res["cpu_s"] / (res["bytes"] / GB) if res["bytes"] else None,
           "peak_rss_mb": res["peak_rss_mb"], "first_record_s": res.get("first_record_s"),
           "records": res["records"], "bytes": res["bytes"]}
    if "helper_cpu_s" in res:
        out["helper_cpu_pct"] = 100 * res["helper_cpu_s"] / wall
    return out


def _stock_best(rows, row):
    for profile in (row["profile"], BASELINE_FALLBACK.get(row["profile"])):
        rates = [r["mb_per_s"] for r in rows
                 if r["profile"] == profile and r["dataset"] == row["dataset"]
                 and r["mode"] == row["mode"] and r["reader"].startswith("stock")
                 and r["mb_per_s"] is not None]
        if rates:
            return max(rates)
    return None


def format_table(rows) -> str:
    """A plain-text table; "-" where a value is unknown, ERR where every run failed."""
    body = []
    for row in rows:
        cells = []
        for _, key, fmt in COLUMNS:
            value = row.get(key)
            if value is None:
                cells.append("ERR" if key == "mb_per_s" and row.get("errors") else "-")
            else:
                cells.append(fmt.format(value))
        body.append(cells)
    header = [h for h, _, _ in COLUMNS]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    left = {"profile", "dataset", "reader", "mode"}

    def line(cells):
        return "  ".join(c.ljust(w) if COLUMNS[i][1] in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in body]
    return "\n".join(out)


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
                     "(8 MiB ranges, 16 in flight, no parsing)"
                     for (p, d), mbps in sorted(rates.items()))


def write_json(path, rows, runs, ceilings, meta) -> str:
    payload = {"meta": meta, "rows": rows, "runs": runs, "ceilings": ceilings}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1, default=str)
    os.replace(tmp, path)
    return path


def write_all(out_dir, runs, ceilings, meta, chart=True) -> Dict[str, str]:
    """Write bench.json, bench.txt and (if chart) bench.png into out_dir; return paths."""
    from tf_ffm.bench import chart as chart_mod

    os.makedirs(out_dir, exist_ok=True)
    rows = summarise(runs, ceilings)
    table = format_table(rows)
    paths = {"json": write_json(os.path.join(out_dir, "bench.json"), rows, runs,
                                ceilings, meta)}
    paths["table"] = os.path.join(out_dir, "bench.txt")
    with open(paths["table"], "w") as f:
        f.write("\n\n".join(x for x in (table, format_ceilings(ceilings),
                                         format_notes(rows)) if x) + "\n")
    if chart and rows:
        paths["chart"] = chart_mod.write_chart(os.path.join(out_dir, "bench.png"),
                                               rows, meta.get("title"))
    return {"table_text": table, "notes": format_notes(rows), **paths}
