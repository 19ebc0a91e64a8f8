"""Shared fixtures and helpers for the FFMRecordDataset drop-in tests.

Every expectation comes from the stock tf.data.TFRecordDataset reading the
same files; the records written are also kept, so a test can check the stock
reader too when that matters.

Fixtures
  tfrecords     session-scoped factory: tfrecords(compression) -> DataSet,
                written once per compression ("" / "GZIP" / "ZLIB").
  stock         session-scoped cache: stock(data, num_parallel_reads) -> the
                stock reader's records (list of bytes).
  record_file   per-test factory writing one file of given records.
"""
import os
import random
import re
from dataclasses import dataclass, field
from typing import Dict, List

import pytest
import tensorflow as tf

import tf_ffm

KiB = 1 << 10

# Small ranged reads, forced parallel (local files are otherwise read
# sequentially), so that records span chunks, a few are larger than a whole
# chunk and the first read, and windows and the budget are exercised.
SMALL_READS = dict(chunk_size=1000, first_chunk_size=100, parallel_reads=True)


@dataclass
class DataSet:
    """TFRecord files written with tf.io.TFRecordWriter, and their records."""
    directory: str
    compression: str  # "", "GZIP" or "ZLIB"
    files: List[str]
    records: Dict[str, List[bytes]] = field(default_factory=dict)

    @property
    def compression_type(self):
        return self.compression or None

    def in_file_order(self):
        return [r for f in self.files for r in self.records[f]]

    def first_file_count(self):
        return len(self.records[self.files[0]])


@pytest.fixture(scope="session", autouse=True)
def index_cache(tmp_path_factory):
    """Indexes opened from s3:// are cached here, not in the user's home."""
    path = tmp_path_factory.mktemp("index-cache")
    os.environ["TF_FFM_INDEX_CACHE"] = str(path)
    return path


def write_records(path, records, compression=""):
    options = tf.io.TFRecordOptions(compression_type=compression)
    with tf.io.TFRecordWriter(path, options) as w:
        for r in records:
            w.write(r)


def _random_records(rng, tag, count):
    """Records of 0 to ~300 KiB, mostly small, each tagged so order shows."""
    out = []
    for i in range(count):
        kind = rng.random()
        if kind < 0.15:
            n = 0
        elif kind < 0.6:
            n = rng.randrange(200)
        elif kind < 0.92:
            n = rng.randrange(8 * KiB)
        else:
            n = rng.randrange(300 * KiB)
        payload = b"%s/%d:" % (tag.encode(), i) + rng.randbytes(n)
        # Keep some records truly empty: the tag would hide them.
        out.append(b"" if n == 0 and i % 2 else payload)
    return out


def _file_specs(rng):
    """(name, records): different counts, an empty file, empty records."""
    return [
        ("f0.tfrecord", _random_records(rng, "f0", 23)),
        ("f1-empty.tfrecord", []),
        ("f2-zero-length.tfrecord", [b""] * 9),
        # Larger than chunk_size=1000 and the whole readahead of a small
        # first read; one spans the 300 KiB mark.
        ("f3-big.tfrecord", [rng.randbytes(300 * KiB), b"",
                             rng.randbytes(5 * KiB), b"x",
                             rng.randbytes(1500)]),
        ("f4.tfrecord", _random_records(rng, "f4", 41)),
        ("f5.tfrecord", _random_records(rng, "f5", 7)),
        ("f6.tfrecord", _random_records(rng, "f6", 1)),
    ]


@pytest.fixture(scope="session")
def tfrecords(tmp_path_factory):
    cache = {}

    def make(compression=""):
        compression = compression or ""
        if compression not in cache:
            directory = str(tmp_path_factory.mktemp(
                "data-" + (compression or "none").lower()))
            rng = random.Random(20240611)  # same records for each variant
            data = DataSet(directory, compression, [])
            for name, records in _file_specs(rng):
                path = os.path.join(directory, name)
                write_records(path, records, compression)
                data.files.append(path)
                data.records[path] = records
            cache[compression] = data
        return cache[compression]

    return make


@pytest.fixture(scope="session")
def stock():
    cache = {}

    def read(data, num_parallel_reads=None):
        key = (data.directory, num_parallel_reads)
        if key not in cache:
            cache[key] = as_list(tf.data.TFRecordDataset(
                data.files, data.compression_type,
                num_parallel_reads=num_parallel_reads))
        return cache[key]

    return read


@pytest.fixture
def record_file(tmp_path):
    counter = [0]

    def make(records, compression="", name=None):
        counter[0] += 1
        path = str(tmp_path / (name or f"file{counter[0]}.tfrecord"))
        write_records(path, records, compression)
        return path

    return make


def as_list(ds):
    return list(ds.as_numpy_iterator())


def ffm(data, num_parallel_reads=None, **kwargs):
    """An FFMRecordDataset over a DataSet."""
    return tf_ffm.FFMRecordDataset(data.files, data.compression_type,
                                   num_parallel_reads=num_parallel_reads,
                                   **kwargs)


def take(it, k):
    """Up to k elements of iterator `it`."""
    out = []
    for _ in range(k):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def numpy(elements):
    return tf.nest.map_structure(lambda t: t.numpy(), elements)


def save_then_restore(make_ds, k, directory, advance_fresh=0):
    """Saves an iterator of make_ds() after k elements; returns (elements
    taken, rest after restoring into a new iterator, rest of the original
    iterator), as numpy."""
    it = iter(make_ds())
    taken = numpy(take(it, k))
    path = tf.train.Checkpoint(iterator=it).save(str(directory / "ckpt"))
    fresh = iter(make_ds())
    take(fresh, advance_fresh)  # restore must override this progress
    tf.train.Checkpoint(iterator=fresh).restore(path)
    return taken, numpy(list(fresh)), numpy(list(it))


def record_offsets(records):
    """Byte offset of each record in an uncompressed TFRecord file."""
    offsets, pos = [], 0
    for r in records:
        offsets.append(pos)
        pos += 8 + 4 + len(r) + 4
    return offsets


def read_until_error(ds):
    """(records delivered, exception raised or None)."""
    out = []
    it = iter(ds)
    try:
        for r in it:
            out.append(r.numpy())
    except tf.errors.OpError as e:
        return out, e
    return out, None


def assert_same_records(got, want):
    """Byte-for-byte equality with a readable failure (no 300 KiB dumps)."""
    assert len(got) == len(want), f"{len(got)} records, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            raise AssertionError(
                f"record {i} differs: got {len(g)} bytes {g[:24]!r}..., "
                f"expected {len(w)} bytes {w[:24]!r}...")


def thread_count():
    with open("/proc/self/status") as f:
        return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))


def interleave_labels(counts, cycle_length=None):
    """(file, record) of each element, in the order of tf.data's interleave
    with block_length 1 over files with `counts` records (None: one file
    after another)."""
    if cycle_length is None:
        return [(f, i) for f, n in enumerate(counts) for i in range(n)]
    slots = [None] * cycle_length  # [file, next record] or None
    next_file, index, out = 0, 0, []
    while True:
        slot = slots[index]
        if slot is not None:
            f, i = slot
            if i < counts[f]:
                out.append((f, i))
                slot[1] += 1
            else:
                slots[index] = None
            index = (index + 1) % cycle_length
        elif next_file < len(counts):
            slots[index] = [next_file, 0]
            next_file += 1
        elif all(s is None for s in slots):
            return out
        else:
            index = (index + 1) % cycle_length
