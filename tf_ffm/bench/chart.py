"""PNG chart of a benchmark: per profile, throughput bars and CPU % bars by reader.

One row of two panels per profile. Left: MB/s per (dataset, mode) group, one
bar per reader, the raw ceiling as a dashed line over the group. Right: the
same groups' CPU % (process CPU time / wall; 100 % = one core), with the
mount's own CPU (rclone) stacked in a lighter shade where measured.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tf_ffm.bench.report import _reader_key  # noqa: E402

_PROFILE_ORDER = ("local", "mount", "s3")
_COLOURS = {"stock": "#9e9e9e", "stock_autotune": "#616161", "stock@mount": "#b0bec5",
            "stock_autotune@mount": "#78909c", "best stock (mount)": "#cfd8dc",
            "ffm": "#1e88e5"}


def _groups(rows):
    return sorted({(r["dataset"], r["mode"]) for r in rows})


def _bars(ax, rows, groups, readers, key, stack_key=None):
    width = 0.8 / max(1, len(readers))
    for j, reader in enumerate(readers):
        xs, ys, extra = [], [], []
        for i, group in enumerate(groups):
            row = next((r for r in rows if (r["dataset"], r["mode"]) == group
                        and r["reader"] == reader), None)
            if row is None or row.get(key) is None:
                continue
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(row[key])
            extra.append((row.get(stack_key) or 0) if stack_key else 0)
        colour = _COLOURS.get(reader, f"C{j}")
        bars = ax.bar(xs, ys, width, label=reader, color=colour)
        if key == "mb_per_s":
            ax.bar_label(bars, fmt="%.0f", fontsize="x-small", padding=1)
        if any(extra):
            ax.bar(xs, extra, width, bottom=ys, color=colour, alpha=0.35,
                   hatch="//", edgecolor="white")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{d}\n{m}" for d, m in groups])


def write_chart(path, rows, title=None):
    present = {r["profile"] for r in rows}
    profiles = [p for p in _PROFILE_ORDER if p in present] + sorted(present - set(_PROFILE_ORDER))
    fig, axes = plt.subplots(len(profiles), 2, figsize=(14, 3.6 * len(profiles)),
                             squeeze=False)
    for (ax_mb, ax_cpu), profile in zip(axes, profiles):
        prow = [r for r in rows if r["profile"] == profile]
        if not any(r["reader"].startswith("stock") for r in prow):
            # e.g. s3: show the baseline measured elsewhere (the mount).
            prow += [{"dataset": r["dataset"], "mode": r["mode"],
                      "reader": "best stock (mount)", "mb_per_s": r["stock_best_mb_per_s"]}
                     for r in prow if r.get("stock_best_mb_per_s")]
        groups = _groups(prow)
        readers = sorted({r["reader"] for r in prow}, key=_reader_key)
        _bars(ax_mb, prow, groups, readers, "mb_per_s")
        for i, group in enumerate(groups):
            ceiling = next((r["ceiling_mb_per_s"] for r in prow
                            if (r["dataset"], r["mode"]) == group
                            and r.get("ceiling_mb_per_s")), None)
            if ceiling:
                ax_mb.hlines(ceiling, i - 0.45, i + 0.45, colors="k", linestyles="dashed",
                             label="raw ceiling" if i == 0 else None)
        ax_mb.set_ylabel("MB/s")
        ax_mb.set_title(f"{profile}: throughput")
        cpu_readers = [x for x in readers
                       if any(r.get("cpu_pct") is not None for r in prow if r["reader"] == x)]
        _bars(ax_cpu, prow, groups, cpu_readers, "cpu_pct", stack_key="helper_cpu_pct")
        handles, labels = ax_mb.get_legend_handles_labels()
        ax_cpu.legend(handles, labels, fontsize="small", loc="upper left",
                      bbox_to_anchor=(1.01, 1.0))
        ax_cpu.set_ylabel("CPU % (100 = one core)")
        ax_cpu.set_title(f"{profile}: CPU" + (" (hatched: rclone)" if any(
            r.get("helper_cpu_pct") for r in prow) else ""))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
