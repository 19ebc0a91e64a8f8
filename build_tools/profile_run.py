"""One read of local TFRecord files for build_tools/profile.sh: a reader in a
read mode, batch(256), whole epochs; prints MB/s, CPU-s/GB and peak RSS.
Uses only the public API, so it runs against any checkout's tf_ffm
(PYTHONPATH) for before/after profiles.

    python build_tools/profile_run.py stock|ffm none|n|autotune|gen EPOCHS FILE...
"""
import json
import resource
import sys
import time

import tensorflow as tf


def make(reader, mode, files):
    if reader == "ffm":
        import tf_ffm
        cls = tf_ffm.FFMRecordDataset
    else:
        cls = tf.data.TFRecordDataset
    if mode == "gen":
        names = tf.data.Dataset.from_generator(
            lambda: iter(files), output_signature=tf.TensorSpec([], tf.string))
        return cls(names, num_parallel_reads=tf.data.AUTOTUNE)
    n = {"none": None, "n": 4, "autotune": tf.data.AUTOTUNE}[mode]
    return cls(files, num_parallel_reads=n)


def main():
    reader, mode, epochs, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    ds = make(reader, mode, files).batch(256).prefetch(tf.data.AUTOTUNE)
    usage = lambda: resource.getrusage(resource.RUSAGE_SELF)  # noqa: E731
    t0, u0 = time.perf_counter(), usage()
    nbytes = 0
    for _ in range(epochs):
        for batch in ds:
            nbytes += int(tf.reduce_sum(tf.strings.length(batch)))
    wall, u1 = time.perf_counter() - t0, usage()
    cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
    print(json.dumps(dict(reader=reader, mode=mode, mb_per_s=round(nbytes / wall / 1e6),
                          cpu_s_per_gb=round(cpu / (nbytes / 1e9), 3),
                          peak_rss_mb=u1.ru_maxrss // 1024)))


if __name__ == "__main__":
    main()
