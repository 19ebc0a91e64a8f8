"""Benchmark harness behind `tf-ffm bench` (see main.py).

    datagen   deterministic TFRecord datasets ("small", "large")
    servers   EmulatedS3 (nginx + Lua latency + rate cap), FuseMount (rclone)
    profiles  local / mount / s3 storage set-ups over those servers
    worker    one measurement, in its own interpreter
    runner    starts workers; raw-ceiling parallel ranged reads
    report    table, JSON; chart: the PNG

Importing this package starts nothing and does not import TensorFlow.
"""
