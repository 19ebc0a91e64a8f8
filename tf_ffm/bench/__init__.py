"""Benchmark harness behind `tf-ffm bench` (see main.py).

    labels    names of readers, read modes, consumption; number formatting
    datagen   deterministic TFRecord datasets ("small", "large")
    servers   EmulatedS3 (nginx + Lua latency + rate cap), FuseMount (rclone)
    profiles  local / mount / s3 storage set-ups over those servers
    worker    one measurement, in its own interpreter
    machine   what the machine did around a measurement (/proc, /sys)
    runner    starts workers; raw-ceiling parallel ranged reads
    report    per-cell statistics and flags, as text
    chart     the PNG
    output    writes bench.txt, bench.json, bench.png

Nothing in this package starts anything on import, and only worker (when it
measures), datagen (when it generates) and chart import TensorFlow or
matplotlib (the parent package tf_ffm does import TensorFlow).
"""
