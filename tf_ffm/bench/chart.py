"""PNG chart of a benchmark (rows from report.summarise).

Per profile two rows of panels, one panel per (dataset, consumption):
    MB/s       bars grouped by read mode (none, n, autotune, gen), stock and
               ffm side by side, each with its runs' min–max as an error bar,
               hatched when the cell is flagged unstable; the storage's raw
               ceiling as a dashed line (in the title when far off scale)
    CPU-s/GB   the same bars for the process's CPU seconds per GB
Where a profile has no stock runs of its own (s3), the stock bars are its
baseline on the mount, drawn lighter and without error bars.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tf_ffm.bench.labels import READ_MODES, READERS, parse_label  # noqa: E402

_PROFILE_ORDER = ("local", "mount", "s3")
_COLOURS = {"stock": "#8d8d8d", "ffm": "#1e88e5"}


def _find(rows, reader, read_mode):
    return next((r for r in rows if parse_label(r["reader"])[:2] == (reader, read_mode)),
                None)


def _series(rows, reader, modes, key):
    """(values, lower errors, upper errors, unstable, borrowed) per read mode."""
    out = []
    for m in modes:
        row = _find(rows, reader, m)
        if row is not None and row.get(key) is not None:
            lo = hi = 0.0
            if key == "mb_per_s" and row.get("mb_per_s_min") is not None:
                lo, hi = row[key] - row["mb_per_s_min"], row["mb_per_s_max"] - row[key]
            out.append((row[key], lo, hi, bool(row.get("unstable")), False))
        elif reader == "stock" and key == "mb_per_s" and _find(rows, "ffm", m):
            base = _find(rows, "ffm", m).get("stock_same_mode_mb_per_s")
            out.append((base, 0.0, 0.0, False, base is not None))
        else:
            out.append((None, 0.0, 0.0, False, False))
    return out


def _panel(ax, rows, key, modes):
    width = 0.8 / len(READERS)
    for j, reader in enumerate(READERS):
        for i, (value, lo, hi, unstable, borrowed) in enumerate(
                _series(rows, reader, modes, key)):
            if value is None:
                continue
            x = i - 0.4 + width * (j + 0.5)
            bar = ax.bar([x], [value], width, color=_COLOURS[reader],
                         alpha=0.45 if borrowed else 1.0, hatch="//" if unstable else None,
                         edgecolor="white",
                         label=reader + (" (on the mount)" if borrowed else ""))
            if lo or hi:
                ax.errorbar([x], [value], yerr=[[lo], [hi]], fmt="none", ecolor="k",
                            capsize=2, linewidth=0.8)
            ax.bar_label(bar, fmt="%.0f" if key == "mb_per_s" else "%.2f",
                         fontsize="x-small", padding=1)
    ax.set_xticks(range(len(modes)))
    ax.set_xticklabels(modes)


def write_chart(path, rows, title=None):
    present = {r["profile"] for r in rows}
    profiles = [p for p in _PROFILE_ORDER if p in present] + sorted(present - set(_PROFILE_ORDER))
    panels = sorted({(r["dataset"], r["consumption"]) for r in rows})
    modes = [m for m in READ_MODES if any(parse_label(r["reader"])[1] == m for r in rows)]
    fig, axes = plt.subplots(2 * len(profiles), len(panels), squeeze=False,
                             figsize=(4.2 * len(panels), 2.8 * 2 * len(profiles)))
    for p, profile in enumerate(profiles):
        for c, (dataset, consumption) in enumerate(panels):
            prow = [r for r in rows if (r["profile"], r["dataset"], r["consumption"])
                    == (profile, dataset, consumption)]
            ax_mb, ax_cpu = axes[2 * p][c], axes[2 * p + 1][c]
            _panel(ax_mb, prow, "mb_per_s", modes)
            _panel(ax_cpu, prow, "cpu_s_per_gb", modes)
            ceiling = next((r["ceiling_mb_per_s"] for r in prow
                            if r.get("ceiling_mb_per_s")), None)
            heading = f"{profile} / {dataset} / {consumption}"
            top = max((r.get("mb_per_s_max") or r.get("mb_per_s") or 0 for r in prow),
                      default=0)
            if ceiling and ceiling <= 3 * top:
                ax_mb.axhline(ceiling, color="k", linestyle="dashed", linewidth=0.8,
                              label="raw ceiling")
            elif ceiling:  # a page-cache ceiling would flatten every bar
                heading += f"\n(raw ceiling {ceiling:,.0f} MB/s, off scale)"
            ax_mb.set_title(heading, fontsize="small")
            ax_mb.set_ylabel("MB/s" if c == 0 else None)
            ax_cpu.set_ylabel("CPU-s/GB" if c == 0 else None)
            if c == len(panels) - 1:
                handles, labels = ax_mb.get_legend_handles_labels()
                seen = {}
                for h, lab in zip(handles, labels):
                    seen.setdefault(lab, h)
                ax_mb.legend(seen.values(), seen.keys(), fontsize="x-small",
                             loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        fig.suptitle(title + "  (error bars: min–max of runs; hatched: unstable)")
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path
