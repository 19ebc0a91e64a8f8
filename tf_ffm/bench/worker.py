"""One benchmark measurement, run in a fresh interpreter by runner.py.

    python -m tf_ffm.bench.worker --reader stock|ffm \
        --read-mode none|n|autotune|gen [--n 4] --consumption batched|elementwise \
        [--limit-records N] [--min-seconds S] [--min-epochs E] [--file-bytes B] \
        [--cache-dir DIR] --files F1 F2 ...

prints one JSON object on the last line of stdout:
    {"reader", "read_mode", "consumption", "records", "bytes", "bytes_exact",
     "epochs", "epoch_wall_s", "epoch_bytes", "teardown_s", "cache", "wall_s",
     "first_record_s",
     "cpu_s", "peak_rss_mb", "counters"}

Readers, read modes (labels.READ_MODES): what a user writes, for both
readers, with the same consumption code:
    none      Reader(files, num_parallel_reads=None)
    n         Reader(files, num_parallel_reads=N)
    autotune  Reader(files, num_parallel_reads=tf.data.AUTOTUNE)
    gen       Reader(tf.data.Dataset.from_generator(lambda: iter(files), ...),
                     num_parallel_reads=tf.data.AUTOTUNE)   (the seed's pattern)
Consumption:
    batched       ds.batch(256).prefetch(AUTOTUNE), iterated
    elementwise   `for x in ds:`, as in the seed article's loop

Wall and CPU time cover iterator creation and the loop only (not the
TensorFlow import or dataset construction), over whole epochs repeated until
--min-seconds have passed; CPU is the whole process's user+sys time (all of
TensorFlow's threads), peak RSS its own maximum (VmHWM). "counters" are
machine.delta() over the same window (faults, switches, system CPU, disk).
Bytes are record payload bytes: summed per batch when batched; element by
element taken from the file sizes minus the framing (exact when every record
was read, estimated from a sample otherwise) so the loop does nothing but
iterate.
"""
import argparse
import functools
import json
import os
import resource
import sys
import time

from tf_ffm.bench import machine
from tf_ffm.bench.labels import CONSUMPTIONS, READ_MODES, READERS

BATCH = 256
FRAMING_BYTES = 16
DEFAULT_N = 4  # the fixed num_parallel_reads of read mode "n"


def _peak_rss_mb():
    """This process's peak resident set (VmHWM). Not getrusage's ru_maxrss:
    that survives exec, so a worker started by a harness holding TensorFlow
    would report the harness's RSS whenever its own was smaller."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def make_dataset(reader, read_mode, files, n=DEFAULT_N, cache_dir=None):
    """The dataset a user would write for (reader, read_mode); cache_dir: the
    ffm reader's local cache (mounts included), None for none."""
    import tensorflow as tf

    # Imported for both readers: it registers s3:// for the stock reader,
    # and its process-wide malloc setting (tf_ffm/_allocator.py) speeds the
    # stock reader as much as ffm, so ratios compare the readers alone.
    import tf_ffm

    if reader == "stock":
        cls = tf.data.TFRecordDataset
    elif reader == "ffm":
        cls = tf_ffm.FFMRecordDataset
        if cache_dir:
            cls = functools.partial(cls, cache_dir=cache_dir, cache_mounts=True)
    else:
        raise ValueError(f"unknown reader {reader!r}; expected one of {READERS}")
    files = list(files)
    if read_mode == "none":
        return cls(files, num_parallel_reads=None)
    if read_mode == "n":
        return cls(files, num_parallel_reads=n)
    if read_mode == "autotune":
        return cls(files, num_parallel_reads=tf.data.AUTOTUNE)
    if read_mode == "gen":
        names = tf.data.Dataset.from_generator(
            lambda: iter(files), output_signature=tf.TensorSpec([], tf.string))
        return cls(names, num_parallel_reads=tf.data.AUTOTUNE)
    raise ValueError(f"unknown read mode {read_mode!r}; expected one of {tuple(READ_MODES)}")


# Both consume functions also time the destruction of the epoch's iterator,
# as `for x in ds` does when the loop ends: part of the epoch's time, and
# reported on its own because tf.data's autotuning thread can hold it for
# 0.1-1.2 s (either reader; gone with options.autotune.enabled=False): a
# third of a 0.3 s epoch.
def _consume_batched(pipeline, limit):
    import tensorflow as tf

    records = nbytes = 0
    first = None
    t0 = time.perf_counter()
    iterator = iter(pipeline)
    for batch in iterator:
        if first is None:
            first = time.perf_counter() - t0
        records += int(batch.shape[0])
        nbytes += int(tf.reduce_sum(tf.strings.length(batch)))
        if limit and records >= limit:
            break
    t0 = time.perf_counter()
    del iterator  # the last reference: destroyed here, timed
    return records, nbytes, first, time.perf_counter() - t0


def _consume_elementwise(pipeline, limit):
    records = 0
    first = None
    t0 = time.perf_counter()
    iterator = iter(pipeline)
    for x in iterator:  # noqa: B007 -- the loop itself is what is measured
        records += 1
        if first is None:
            first = time.perf_counter() - t0
        if limit and records >= limit:
            break
    t0 = time.perf_counter()
    del iterator  # the last reference: destroyed here, timed
    return records, None, first, time.perf_counter() - t0



def _sample_mean_payload(reader, files, n=256):
    sample = make_dataset(reader, "none", files).take(n).as_numpy_iterator()
    lengths = [len(x) for x in sample]
    return sum(lengths) / max(1, len(lengths))


def measure(reader, read_mode, files, consumption, limit=None, file_bytes=None,
            min_seconds=0.0, n=DEFAULT_N, cache_dir=None, min_epochs=1):
    """Read `files` as (reader, read_mode) consumed `consumption`; return the
    measurement.

    Whole epochs (a new iterator each, as in training) are read until
    `min_seconds` have passed, so short datasets still give a stable rate;
    `limit` caps the records over all epochs. file_bytes: the files' total
    size (needed element by element for s3:// URIs). min_epochs: read at
    least this many epochs (epoch 2 of a cached run). cache_dir: see
    make_dataset.
    """
    import tensorflow as tf

    ds = make_dataset(reader, read_mode, files, n, cache_dir)
    if consumption == "batched":
        pipeline, consume = ds.batch(BATCH).prefetch(tf.data.AUTOTUNE), _consume_batched
    elif consumption == "elementwise":
        pipeline, consume = ds, _consume_elementwise
    else:
        raise ValueError(f"unknown consumption {consumption!r}; expected {CONSUMPTIONS}")
    records = nbytes = epochs = 0
    epoch_walls = []  # a run whose epochs differ ~2x was disturbed mid-run
    teardowns = []  # of each epoch's iterator, included in epoch_walls
    epoch_bytes = []
    partial = None  # records of an epoch cut short by the limit (elementwise)
    first = None
    before = machine.counters()
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    while True:
        e0 = time.perf_counter()
        r, b, f, teardown = consume(pipeline, limit - records if limit else None)
        epoch_walls.append(time.perf_counter() - e0)
        teardowns.append(teardown)
        epochs += 1
        first = f if first is None else first
        records += r
        limited = bool(limit) and records >= limit
        before_epoch = nbytes
        if b is not None:
            nbytes += b
        elif limited:
            partial = r
        else:
            if file_bytes is None:
                file_bytes = sum(os.path.getsize(p) for p in files)
            nbytes += file_bytes - FRAMING_BYTES * r
        epoch_bytes.append(nbytes - before_epoch)
        if limited or r == 0 or (epochs >= min_epochs
                                 and time.perf_counter() - t0 >= min_seconds):
            break
    wall = time.perf_counter() - t0
    cpu = _cpu_s() - cpu0
    counters = machine.delta(before, machine.counters())
    if partial:
        nbytes += int(partial * _sample_mean_payload(reader, files))
    return {"reader": reader, "read_mode": read_mode, "consumption": consumption,
            "records": records, "bytes": nbytes, "bytes_exact": not partial,
            "epochs": epochs, "epoch_wall_s": epoch_walls, "epoch_bytes": epoch_bytes,
            "teardown_s": teardowns,
            "cache": bool(cache_dir), "wall_s": wall, "first_record_s": first, "cpu_s": cpu,
            "peak_rss_mb": _peak_rss_mb(), "counters": counters,
            "malloc": sys.modules["tf_ffm._allocator"].state,
            "cpus_allowed": sorted(os.sched_getaffinity(0))}


def build_parser():
    p = argparse.ArgumentParser(prog="python -m tf_ffm.bench.worker",
                                description="one benchmark measurement")
    p.add_argument("--reader", choices=READERS, required=True)
    p.add_argument("--read-mode", choices=tuple(READ_MODES), default="none")
    p.add_argument("--n", type=int, default=DEFAULT_N,
                   help="num_parallel_reads of read mode n")
    p.add_argument("--consumption", choices=CONSUMPTIONS, default="batched")
    p.add_argument("--limit-records", type=int, default=None,
                   help="stop after about N records (batched: whole batches)")
    p.add_argument("--min-seconds", type=float, default=0.0,
                   help="read whole epochs again until this much time has passed")
    p.add_argument("--file-bytes", type=int, default=None,
                   help="total size of the files (for s3:// URIs)")
    p.add_argument("--min-epochs", type=int, default=1,
                   help="read at least this many epochs")
    p.add_argument("--cache-dir", default=None,
                   help="the ffm reader's local cache directory (mounts too)")
    p.add_argument("--files", nargs="+", required=True)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    result = measure(args.reader, args.read_mode, args.files, args.consumption,
                     args.limit_records, args.file_bytes, args.min_seconds, args.n,
                     args.cache_dir, args.min_epochs)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
