"""The reader's tuning defaults, Python's one copy.

They must equal the engine's (cc/ffm/defaults.h), which the op registrations
use; tests/test_dataset_api.py checks that the two agree.
"""
MiB = 1 << 20

CHUNK_SIZE = 8 * MiB          # AWS guidance: 8-16 MB ranged GETs
FIRST_CHUNK_SIZE = 1 * MiB    # a file's first read: the first record comes fast
MEMORY_BUDGET = 256 * MiB     # readahead across all files an iterator has open
IO_THREADS = 16               # reads in flight per iterator
# Globally shuffled reads over s3:// are one small GET each: only many in
# flight hide the latency (on local disks threads only cost).
IO_THREADS_GLOBAL_SHUFFLE_S3 = 128
