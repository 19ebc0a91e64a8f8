"""`tf-ffm bench`: stock tf.data.TFRecordDataset against FFMRecordDataset,
in every way a user writes them.

    tf-ffm bench --quick    # ~1.5 min: 64 MiB datasets (1 file), read modes none and
                            # autotune, batched, 1 run per cell
    tf-ffm bench            # ~23-25 min on 2 cores: 512 MiB datasets (4 files), read
                            # modes none, n, autotune, gen batched, and none, gen
                            # element by element; 3 runs per cell of >= 2 s each;
                            # then ~5 min of epoch 1 / epoch 2 runs, cache off
                            # and on (--no-epoch2: none)
    tf-ffm bench --profiles local --readers ffm --read-modes gen --data DIR

Generates the datasets (once; see datagen), starts the loopback servers the
profiles need (see profiles), runs every (profile, dataset, consumption,
reader, read mode) cell `--repeats` times in fresh subprocesses, the cells'
order rotated each repeat, plus the raw ceiling of each storage, and writes
bench.txt, bench.json and bench.png to --out (median, min-max and an
"unstable" flag per cell, with the machine's state; see report). With
--epoch2, the mount and s3 profiles also get the epoch 1 / epoch 2 table of
tf-ffm's local cache (see epochs).
"""
import argparse
import contextlib
import os
import platform
import signal
import sys
import threading
import time

from tf_ffm.bench import (datagen, epochs as epochs_mod, labels, machine, output,
                          profiles as profiles_mod, report, runner)
from tf_ffm.bench.worker import DEFAULT_N

QUICK_SIZE_MB = 64
DEFAULT_SIZE_MB = 512
QUICK_READ_MODES = ("none", "autotune")
# Page-cache epochs of 512 MiB take ~0.3 s and come in two speeds (~850 or
# ~1,700 MB/s for ~150 KiB records, drawn per iterator): 2 s averages ~6.
MIN_SECONDS = 2.0
QUIET_WAIT_S = 10.0    # per run, for other jobs to leave the CPUs
QUIET_BUDGET_S = 180.0  # for all such waits and re-runs of a bench
# Element by element, only the plain loop (none) and the seed article's own
# pattern (gen): with the others too the full run would take ~27 minutes on
# 2 cores (210 runs of ~3.6 s start-up plus >= 2 s of epochs; mount epochs
# 3-10 s) instead of ~23.
ELEMENTWISE_READ_MODES = ("none", "gen")
DEFAULT_WORK_DIR = os.path.join(
    os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tf-ffm", "bench-data")


def _csv(choices):
    def parse(text):
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if x not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}, got {text!r}")
        return items
    return parse


def add_arguments(parser):
    """Options of the `tf-ffm bench` subcommand; its --help starts with what
    the full and the quick run do (this module's docstring)."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--profiles", type=_csv(profiles_mod.PROFILES), default=None,
                        help="storage profiles, comma-separated: local (page cache), "
                             "mount (rclone FUSE over emulated S3), s3 (s3:// to the "
                             "emulated endpoint). Default: every available one")
    parser.add_argument("--datasets", type=_csv(tuple(datagen.KINDS)), default=None,
                        help="generated datasets: small (~10 KiB records), large "
                             "(~150 KiB). Default: both")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="your own TFRecord files (a directory or a glob) "
                             "instead of generated data")
    parser.add_argument("--size-mb", type=float, default=None,
                        help=f"size of each generated dataset in MiB "
                             f"(default {DEFAULT_SIZE_MB}, --quick {QUICK_SIZE_MB})")
    parser.add_argument("--shards", type=int, default=None,
                        help="files per generated dataset (default 4, --quick 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per cell, cell order rotated, median reported "
                             "(default 3, --quick 1)")
    parser.add_argument("--readers", type=_csv(labels.READERS), default=None,
                        help="stock (tf.data.TFRecordDataset) and/or ffm "
                             "(tf_ffm.FFMRecordDataset). Default: both")
    parser.add_argument("--read-modes", type=_csv(tuple(labels.READ_MODES)), default=None,
                        help="how files are given: none (num_parallel_reads=None), "
                             "n (=--parallel-reads), autotune (=AUTOTUNE), gen (a "
                             "Dataset.from_generator of file names, AUTOTUNE). "
                             "Default: all (--quick: none,autotune)")
    parser.add_argument("--parallel-reads", type=int, default=DEFAULT_N, metavar="N",
                        help=f"num_parallel_reads of read mode n ({DEFAULT_N})")
    parser.add_argument("--consumption", "--modes", dest="consumption",
                        type=_csv(labels.CONSUMPTIONS), default=None,
                        help="batched (batch(256).prefetch) and/or elementwise "
                             "(`for x in ds`). Default: both (--quick: batched)")
    parser.add_argument("--elementwise-read-modes", type=_csv(tuple(labels.READ_MODES)),
                        default=None,
                        help="read modes also run element by element (default "
                             f"{','.join(ELEMENTWISE_READ_MODES)})")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SIZE_MB} MiB datasets in one file, read modes "
                             f"{','.join(QUICK_READ_MODES)}, batched, 1 run: about "
                             "1.5 minutes on 2 cores (a smoke run, not a result)")
    parser.add_argument("--out", default="bench-out", metavar="DIR",
                        help="where bench.txt, bench.json and bench.png go (./bench-out)")
    parser.add_argument("--work-dir", default=DEFAULT_WORK_DIR, metavar="DIR",
                        help=f"where generated data is kept (default {DEFAULT_WORK_DIR})")
    parser.add_argument("--limit-records", type=int, default=None, metavar="N",
                        help="stop each run after about N records")
    parser.add_argument("--min-seconds", type=float, default=None,
                        help="each run reads whole epochs again until this long "
                             f"(default {MIN_SECONDS:g}, --quick 0.5). Epochs of one "
                             "process differ up to 2x (tf.data's per-iterator state; "
                             "see report), so a run averages several")
    parser.add_argument("--quiet-wait", type=float, default=None, metavar="S",
                        help="before each run, wait up to S seconds for other jobs to "
                             "leave the CPUs; a run during which other processes used "
                             f"> {report.BUSY_OTHER_PCT:.0f} %% of a core is run once more "
                             "and the disturbed one kept in the JSON as discarded "
                             f"(default {QUIET_WAIT_S:g}, --quick 0: neither). Waits and "
                             f"re-runs stop after {QUIET_BUDGET_S:g} s in all, so a busy "
                             "machine costs at most that; flags still say \"busy\"")
    parser.add_argument("--epoch2", action=argparse.BooleanOptionalAction, default=None,
                        help="also run ffm for two epochs on the mount and s3 profiles "
                             "with the local cache off and on: epoch 1 and epoch 2 "
                             "MB/s (default: on, --quick: off)")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="emulated S3 first-byte latency per request (20)")
    parser.add_argument("--rate", default="90m",
                        help="emulated S3 per-connection rate, nginx syntax (90m)")
    parser.add_argument("--seed", type=int, default=0, help="data generation seed")
    return parser


def _resolve(args):
    """Fill the defaults that depend on --quick."""
    opts = argparse.Namespace(**vars(args))
    opts.profiles = args.profiles or list(profiles_mod.PROFILES)
    opts.datasets = args.datasets or list(datagen.KINDS)
    opts.size_mb = args.size_mb or (QUICK_SIZE_MB if args.quick else DEFAULT_SIZE_MB)
    # --quick keeps one 64 MiB file per dataset: split four ways, each file
    # would be over before a reader's window of ranged reads has grown.
    opts.shards = args.shards or (1 if args.quick else 4)
    opts.repeats = args.repeats or (1 if args.quick else 3)
    opts.epoch2 = (not args.quick) if args.epoch2 is None else args.epoch2
    opts.min_seconds = (args.min_seconds if args.min_seconds is not None
                        else 0.5 if args.quick else MIN_SECONDS)
    opts.consumption = args.consumption or (
        ["batched"] if args.quick else list(labels.CONSUMPTIONS))
    opts.quiet_wait = (args.quiet_wait if args.quiet_wait is not None
                       else 0.0 if args.quick else QUIET_WAIT_S)
    opts.quiet_budget = QUIET_BUDGET_S
    opts.readers = args.readers or list(labels.READERS)
    opts.read_modes = args.read_modes or list(
        QUICK_READ_MODES if args.quick else labels.READ_MODES)
    opts.elementwise_read_modes = args.elementwise_read_modes or list(ELEMENTWISE_READ_MODES)
    if opts.repeats < 1 or opts.shards < 1 or opts.parallel_reads < 1:
        raise SystemExit("tf-ffm bench: --repeats, --shards and --parallel-reads "
                         "must be >= 1")
    return opts


def _prepare_datasets(opts, log):
    if opts.data:
        manifest = datagen.describe_user_data(opts.data)
        log(f"data: {len(manifest['files'])} files, {manifest['size'] / 1e6:,.0f} MB "
            f"under {manifest['dir']}")
        return {"user": manifest}
    from tqdm import tqdm

    out = {}
    # One directory per size and shard count: --quick and the full run keep
    # their own data instead of regenerating each other's.
    work_dir = os.path.join(opts.work_dir, f"{opts.size_mb:g}MiB-{opts.shards}x")
    for name in opts.datasets:
        total = int(opts.size_mb * datagen.MiB) // opts.shards * opts.shards
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"data {name}",
                  leave=False, file=sys.stderr) as bar:
            out[name] = datagen.generate(work_dir, name, opts.size_mb, opts.shards,
                                         opts.seed, progress=bar.update)
        m = out[name]
        log(f"data {name}: {len(m['files'])} files, {m['records']:,} records, "
            f"{m['size'] / 1e6:,.0f} MB in {m['dir']}")
    return out


def _plan(profiles, consumptions, repeats, elementwise_read_modes=None, epoch2=False):
    """Ordered work: per repeat, per profile and dataset, the ceiling then, per
    consumption, every cell, the cells' order rotated by one each repeat (so no
    cell always runs first, or always right after the same one).

    elementwise_read_modes: the read modes run element by element (all if None).
    epoch2: then, on the remote profiles, two-epoch runs with the cache off
    and on ("epochs:off", "epochs:on"; their order alternated each repeat).
    """
    items = []
    for rep in range(repeats):
        for prof in profiles:
            for dataset, cells in prof.cells.items():
                if not cells:
                    continue
                items.append(("ceiling", prof, dataset, None, None, rep))
                k = rep % len(cells)
                rotated = cells[k:] + cells[:k]
                for consumption in consumptions:
                    for cell in rotated:
                        if (consumption == "elementwise" and elementwise_read_modes
                                is not None and cell.read_mode not in elementwise_read_modes):
                            continue
                        items.append(("run", prof, dataset, cell, consumption, rep))
                cell = epochs_mod.cells_of(prof).get(dataset) if epoch2 else None
                if cell is not None:
                    kinds = ["epochs:off", "epochs:on"][::1 if rep % 2 == 0 else -1]
                    items += [(k, prof, dataset, cell, epochs_mod.CONSUMPTION, rep)
                              for k in kinds]
    return items


def _execute(plan, opts, runs, ceilings, log, epoch_runs=None):
    from tqdm import tqdm

    warned = set()
    budget = {"s": opts.quiet_budget}  # for waiting on, and re-running after, other jobs
    with tqdm(plan, desc="bench", unit="run", file=sys.stderr, dynamic_ncols=True) as bar:
        for kind, prof, dataset, cell, consumption, rep in bar:
            if kind == "ceiling":
                bar.set_postfix_str(f"{prof.name}/{dataset} raw ceiling")
                target = prof.ceiling_targets[dataset]
                if opts.quiet_wait and budget["s"] > 0:
                    budget["s"] -= machine.wait_for_quiet(
                        max_wait_s=min(opts.quiet_wait, budget["s"]))[0]
                try:
                    c = runner.ceiling(target, opts.min_seconds)
                except Exception as e:  # noqa: BLE001 -- reported, the bench goes on
                    log(f"raw ceiling {prof.name}/{dataset} failed: {e}", bar)
                    continue
                ceilings.append({"profile": prof.name, "dataset": dataset,
                                 "repeat": rep, **c})
                continue
            if kind.startswith("epochs:"):
                epoch_runs.append(_two_epochs(prof, dataset, cell, kind == "epochs:on",
                                              rep, opts, budget, lambda m: log(m, bar)))
                continue
            where = f"{prof.name}/{dataset}/{consumption}/{cell.label}"
            bar.set_postfix_str(where)
            entry = {"profile": prof.name, "dataset": dataset, "reader": cell.label,
                     "consumption": consumption, "repeat": rep, "result": None,
                     "error": None}
            entry["result"], entry["error"], discarded = _measure(cell, consumption, opts,
                                                                  budget)
            if entry["error"]:
                log(f"{where}: {entry['error']}", bar)
            runs.extend({**entry, "error": None, **d} for d in discarded)
            warning = (entry["result"] or {}).get("exit_warning")
            if warning and (prof.name, cell.label) not in warned:
                warned.add((prof.name, cell.label))
                log(f"warning: {prof.name}/{cell.label}: {warning}", bar)
            runs.append(entry)


def _two_epochs(prof, dataset, cell, cache, rep, opts, budget, log):
    """One run of exactly two epochs (see epochs.py), as an epoch_runs entry."""
    entry = {"profile": prof.name, "dataset": dataset, "reader": cell.label,
             "cache": cache, "repeat": rep, "result": None, "error": None}
    try:
        entry["result"] = runner.run_worker(
            cell.reader, cell.read_mode, cell.target, epochs_mod.CONSUMPTION,
            min_epochs=2, cache=cache, n=opts.parallel_reads,
            quiet_wait_s=min(opts.quiet_wait, max(0.0, budget["s"])))
        budget["s"] -= entry["result"].get("quiet_wait_s") or 0.0
    except runner.WorkerError as e:
        entry["error"] = str(e)
        log(f"{prof.name}/{dataset}/epochs (cache {'on' if cache else 'off'}): {e}")
    return entry


def _measure(cell, consumption, opts, budget):
    """(result, error, discarded runs) of one cell's run. A run that other
    processes disturbed (see --quiet-wait) is run once more while
    budget["s"] (seconds for waiting and re-running) lasts; the disturbed run
    is returned among the discarded, with the reason."""
    discarded = []
    for attempt in range(2):
        wait = min(opts.quiet_wait, max(0.0, budget["s"]))
        try:
            result = runner.run_worker(
                cell.reader, cell.read_mode, cell.target, consumption, opts.limit_records,
                min_seconds=opts.min_seconds, n=opts.parallel_reads, quiet_wait_s=wait)
        except runner.WorkerError as e:
            return None, str(e), discarded
        budget["s"] -= result.get("quiet_wait_s") or 0.0
        other = report.derive(result).get("other_cpu_pct") or 0.0
        if attempt or budget["s"] <= 0 or not opts.quiet_wait or \
                other <= report.BUSY_OTHER_PCT:
            return result, None, discarded
        budget["s"] -= result.get("process_s") or 0.0
        discarded.append({"result": result, "discarded": f"other processes used "
                                                          f"{other:.0f} % of a core"})
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM and SIGINT (unless ignored) raise KeyboardInterrupt,
    so the servers and the mount are stopped on the way out; signals after the
    first are ignored so that clean-up is not cut short."""
    raised = []

    def interrupt(signum, frame):
        if raised:
            print("tf-ffm bench: stopping servers, please wait", file=sys.stderr)
            return
        raised.append(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(sig) is not signal.SIG_IGN:  # e.g. background jobs
                previous[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args) -> int:
    """Entry point of `tf-ffm bench`; returns the exit status."""
    opts = _resolve(args)
    out_dir = os.path.abspath(opts.out)
    os.makedirs(out_dir, exist_ok=True)

    def log(msg, bar=None):
        (bar.write if bar is not None else print)(msg)
        sys.stdout.flush()

    try:
        datasets = _prepare_datasets(opts, log)
    except (OSError, ValueError) as e:
        print(f"tf-ffm bench: {e}", file=sys.stderr)
        return 2
    runs, ceilings, skipped, epoch_runs = [], [], {}, []
    machine_before = machine.state()
    interrupted = False
    started = time.time()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_terminate_as_interrupt())
        try:
            profs, skipped = profiles_mod.open_profiles(
                stack, opts.profiles, datasets, latency_s=opts.latency_ms / 1000,
                rate=opts.rate, log_dir=os.path.join(out_dir, "logs"),
                readers=opts.readers, read_modes=opts.read_modes)
            for name, reason in skipped.items():
                log(f"skipping profile {name}: {reason}")
            if not profs:
                log("tf-ffm bench: no profile can run")
                return 1
            for prof in profs:
                log(f"profile {prof.name}: {prof.note}")
            _execute(_plan(profs, opts.consumption, opts.repeats,
                           opts.elementwise_read_modes, opts.epoch2),
                     opts, runs, ceilings, log, epoch_runs)
        except KeyboardInterrupt:
            interrupted = True
            log("\ninterrupted: stopping servers; the report covers what was measured")
    meta = {
        "title": f"tf-ffm bench ({opts.size_mb:g} MiB per dataset, "
                 f"median of {opts.repeats})" if not opts.data else "tf-ffm bench (user data)",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "duration_s": time.time() - started, "interrupted": interrupted,
        "options": {k: v for k, v in vars(opts).items() if k != "func"},
        "skipped_profiles": skipped, "host": platform.node(), "cpus": os.cpu_count(),
        "machine_before": machine_before, "machine_after": machine.state(),
        "python": platform.python_version(), "datasets": {
            k: {kk: v for kk, v in m.items() if kk != "files"} for k, m in datasets.items()},
    }
    try:
        import tensorflow as tf
        meta["tensorflow"] = tf.__version__
    except ImportError:
        pass
    if not runs:
        log("no measurement finished")
        return 130 if interrupted else 1
    paths = output.write_all(out_dir, runs, ceilings, meta, epoch_runs=epoch_runs)
    print()
    print(paths["text"])
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    print(f"\nwrote {paths['table']}, {paths['json']}"
          + (f", {paths['chart']}" if "chart" in paths else ""))
    failed = sum(1 for r in runs + epoch_runs if r["error"])
    if interrupted:
        return 130
    return 1 if failed else 0


def main(argv=None):
    parser = add_arguments(argparse.ArgumentParser(prog="tf-ffm bench"))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
