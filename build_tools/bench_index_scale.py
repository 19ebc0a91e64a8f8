"""The record index at scale: a generated index of --records records over
--files files (1 billion over 100,000 by default), read in place.

    python build_tools/bench_index_scale.py [--records N] [--files F] [--dir D]

The files are real: one TFRecord file of N/F records and F-1 symbolic links to
it (the same size and mtime through the link, so the index's staleness checks pass), so
records can be read through the index without N records of disk. The index
is written with tf_ffm.IndexWriter (8 bytes per record); building by
scanning is timed on a subset and reported per million records. Each
measurement of opening and reading runs in a fresh process, which reports
its own peak RSS. Needs ~8.1 GB of free disk at the default size.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

_OPEN_AND_READ = r'''
import json, os, random, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf, tf_ffm
index_path, files_path = sys.argv[1], sys.argv[2]
out = {"rss_mb_after_import": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
t = time.perf_counter()
idx = tf_ffm.RecordIndex.open(index_path)
out["open_s"] = time.perf_counter() - t
out["rss_mb_after_open"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rng = random.Random(1)
probes = [rng.randrange(len(idx)) for _ in range(10000)]
t = time.perf_counter()
for i in probes:
    idx[i]
out["locate_us"] = (time.perf_counter() - t) / len(probes) * 1e6
files = open(files_path).read().split("\n")
t = time.perf_counter()
ds = tf_ffm.FFMRecordDataset(files, index=idx, shuffle="global", seed=7)
out["dataset_s"] = time.perf_counter() - t
out["graph_bytes"] = len(ds._as_serialized_graph().numpy())
out["cardinality"] = int(ds.cardinality().numpy())
t = time.perf_counter()
it = iter(ds)
next(it)
out["first_record_global_shuffle_s"] = time.perf_counter() - t
t = time.perf_counter()
for _ in range(9999):
    next(it)
out["next_10k_global_shuffle_records_per_s"] = 9999 / (time.perf_counter() - t)
t = time.perf_counter()
for i in probes[:200]:
    tf.data.experimental.at(ds, i)
out["at_ms"] = (time.perf_counter() - t) / 200 * 1e3
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
'''


def _generate(root, records, files):
    import numpy as np
    import tensorflow as tf
    import tf_ffm
    per_file = records // files
    first = os.path.join(root, "data", "part-000000.tfrecord")
    os.makedirs(os.path.dirname(first), exist_ok=True)
    rng = np.random.default_rng(3)
    with tf.io.TFRecordWriter(first) as w:
        for r in range(per_file):
            w.write(rng.bytes(int(rng.integers(20, 180))))
    paths = [first]
    for f in range(1, files):
        path = os.path.join(root, "data", f"part-{f:06d}.tfrecord")
        if not os.path.exists(path):
            os.symlink(first, path)
        paths.append(path)
    with open(os.path.join(root, "files.txt"), "w") as f:
        f.write("\n".join(paths))

    facts = {"records": per_file * files, "files": files}
    subset = paths[:max(1, 1_000_000 // per_file)]
    t = time.perf_counter()
    scanned = tf_ffm.RecordIndex.build(subset, progress=False)
    facts["build_s_per_million_records"] = (
        (time.perf_counter() - t) / (len(scanned) / 1e6))
    lengths = scanned.lengths[:per_file]
    st = os.stat(first)
    index_path = os.path.join(root, "data.idx")
    t = time.perf_counter()
    with tf_ffm.IndexWriter(index_path) as w:
        for path in paths:
            w.add_file(path, st.st_size, st.st_mtime_ns, lengths)
    facts["write_s"] = time.perf_counter() - t
    facts["write_s_per_million_records"] = facts["write_s"] / (facts["records"] / 1e6)
    facts["index_bytes"] = os.path.getsize(index_path)
    facts["index_bytes_per_record"] = facts["index_bytes"] / facts["records"]
    return index_path, facts


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000_000)
    p.add_argument("--files", type=int, default=100_000)
    p.add_argument("--dir", default="/tmp/tf-ffm-index-scale")
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    try:
        t = time.perf_counter()
        index_path, facts = _generate(args.dir, args.records, args.files)
        facts["generate_s"] = time.perf_counter() - t
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        runs = []
        for _ in range(2):  # the second with the index in the page cache
            out = subprocess.run(
                [sys.executable, "-c", _OPEN_AND_READ, index_path,
                 os.path.join(args.dir, "files.txt")],
                env=env, capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps({"index": facts, "cold_then_warm": runs}, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
