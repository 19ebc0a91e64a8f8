"""Epoch 1 and epoch 2 of one run, with tf-ffm's local cache off and on, for
the profiles that read remote storage (mount, s3).

Training reads the same files every epoch. Each of these runs reads exactly
two epochs in a fresh worker (ffm, read mode none, batched); with the cache
on, into a cache directory made empty for that run, so epoch 1 fills it and
epoch 2 reads it. Columns:

    epoch 1, epoch 2   MB/s of record payload in that epoch (median of runs)
    e2 vs local        epoch 2 over the same reader's cell on the local
                       profile (page cache): the cache's target is >= 0.9x
    e1 on/off          epoch 1 with the cache on over epoch 1 with it off
                       (the cost of filling it; target >= 0.95x)
"""
import statistics
from typing import Dict, List

from tf_ffm.bench.labels import fmt, fmt_ratio

PROFILES = ("mount", "s3")
READ_MODE = "none"
CONSUMPTION = "batched"
MB = 1e6


def cells_of(profile) -> Dict[str, object]:
    """{dataset: the ffm cell of READ_MODE (or the first ffm cell)} of a
    remote profile; {} for the others."""
    if profile.name not in PROFILES:
        return {}
    out = {}
    for dataset, cells in profile.cells.items():
        ffm = [c for c in cells if c.reader == "ffm"]
        chosen = next((c for c in ffm if c.read_mode == READ_MODE), ffm[0] if ffm else None)
        if chosen is not None:
            out[dataset] = chosen
    return out


def epoch_rates(result) -> List[float]:
    """MB/s of each epoch of a worker result."""
    walls = result.get("epoch_wall_s") or []
    sizes = result.get("epoch_bytes") or []
    return [b / w / MB for b, w in zip(sizes, walls) if w > 0]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(epoch_runs, rows) -> List[Dict]:
    """One row per (profile, dataset, cache) over the runs' repeats; rows: the
    main table's (for the local baseline)."""
    groups = {}
    for run in epoch_runs:
        groups.setdefault((run["profile"], run["dataset"], run["reader"], run["cache"]),
                          []).append(run)
    out = []
    for (profile, dataset, reader, cache), group in sorted(groups.items()):
        rates = [epoch_rates(r["result"]) for r in group if r.get("result")]
        local = next((r["mb_per_s"] for r in rows if r["profile"] == "local"
                      and r["dataset"] == dataset and r["reader"] == reader
                      and r["consumption"] == CONSUMPTION), None)
        e1 = _median([r[0] for r in rates if len(r) >= 1])
        e2 = _median([r[1] for r in rates if len(r) >= 2])
        out.append({"profile": profile, "dataset": dataset, "reader": reader,
                    "cache": cache, "epoch1_mb_per_s": e1, "epoch2_mb_per_s": e2,
                    "local_mb_per_s": local,
                    "epoch2_vs_local": e2 / local if e2 and local else None,
                    "runs": len(rates),
                    "errors": [r["error"] for r in group if r.get("error")]})
    for row in out:
        off = next((r for r in out if not r["cache"] and
                    (r["profile"], r["dataset"], r["reader"]) ==
                    (row["profile"], row["dataset"], row["reader"])), None)
        row["epoch1_on_vs_off"] = (
            row["epoch1_mb_per_s"] / off["epoch1_mb_per_s"]
            if row["cache"] and off and off["epoch1_mb_per_s"] and row["epoch1_mb_per_s"]
            else None)
    return out


def format_table(summary) -> str:
    if not summary:
        return ""
    header = ["profile", "dataset", "reader", "cache", "epoch 1", "epoch 2",
              "e2 vs local", "e1 on/off", "runs"]
    body = [[r["profile"], r["dataset"], r["reader"], "on" if r["cache"] else "off",
             fmt(r["epoch1_mb_per_s"], "{:,.1f}", "ERR" if r["errors"] else "-"),
             fmt(r["epoch2_mb_per_s"], "{:,.1f}"), fmt_ratio(r["epoch2_vs_local"]),
             fmt_ratio(r["epoch1_on_vs_off"]), str(r["runs"])] for r in summary]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]

    def line(cells):
        return "  ".join(c.ljust(w) if i < 4 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    title = ("epoch 1 / epoch 2 of one run, MB/s, local cache off and on "
             f"({READ_MODE}, {CONSUMPTION}; an empty cache_dir per run)")
    return "\n".join([title, line(header), "  ".join("-" * w for w in widths)]
                     + [line(c) for c in body])
