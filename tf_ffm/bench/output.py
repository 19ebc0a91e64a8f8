"""Write a benchmark's results: bench.txt (report), bench.json, bench.png (chart).

The one place that uses both report.py and chart.py, so neither imports the
other.
"""
import json
import os
from typing import Dict

from tf_ffm.bench import epochs, report


def write_json(path, rows, runs, ceilings, meta, epoch_rows=(), epoch_runs=()) -> str:
    payload = {"meta": meta, "rows": rows, "best": report.best_lines(rows), "runs": runs,
               "ceilings": ceilings, "epoch_rows": list(epoch_rows),
               "epoch_runs": list(epoch_runs)}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1, default=str)
    os.replace(tmp, path)
    return path


def write_all(out_dir, runs, ceilings, meta, chart=True, epoch_runs=()) -> Dict[str, str]:
    """Write bench.json, bench.txt and (if chart) bench.png into out_dir;
    epoch_runs: the epoch 1 / epoch 2 runs (see epochs.py).

    Returns their paths ("json", "table", "chart") and the report's "text".
    """
    os.makedirs(out_dir, exist_ok=True)
    rows = report.summarise(runs, ceilings)
    epoch_rows = epochs.summarise(epoch_runs, rows)
    text = "\n\n".join(p for p in (report.format_all(rows, ceilings, meta),
                                    epochs.format_table(epoch_rows)) if p)
    paths = {"json": write_json(os.path.join(out_dir, "bench.json"), rows, runs,
                                ceilings, meta, epoch_rows, epoch_runs),
             "table": os.path.join(out_dir, "bench.txt")}
    with open(paths["table"], "w") as f:
        f.write(text + "\n")
    if chart and rows:
        from tf_ffm.bench import chart as chart_mod  # matplotlib only when drawing

        paths["chart"] = chart_mod.write_chart(os.path.join(out_dir, "bench.png"),
                                               rows, meta.get("title"))
    return {"text": text, **paths}
