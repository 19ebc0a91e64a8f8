"""RecordIndex: where every record is, for random access and shuffling."""
import concurrent.futures
import os

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tf_ffm import _loader
from tf_ffm.s3 import storage_attr

_FRAMING_BYTES = 16  # 8-byte length, its CRC, and the data CRC


class RecordIndex:
    """The (file, offset, length) of every record of a list of TFRecord files.

    Records are numbered 0..len-1 in file order. One index file covers the
    whole dataset; it records each file's size (and mtime for local files) so
    reading with a stale index raises FailedPreconditionError.
    """

    def __init__(self, serialized: bytes, name: str = "index"):
        ops = _loader.ops()
        uris, sizes, mtimes, counts, lengths = ops.ffm_parse_index(serialized, name)
        self._serialized = serialized
        self.files = [u.decode() for u in uris.numpy()]
        self.sizes = sizes.numpy()
        self.mtimes_ns = mtimes.numpy()
        self.counts = counts.numpy()
        self.lengths = lengths.numpy()
        self._first = np.concatenate([[0], np.cumsum(self.counts)])
        # Records of a file are contiguous: offsets are per-file prefix sums.
        framed = self.lengths + _FRAMING_BYTES
        start = np.cumsum(framed) - framed  # as if all files were one
        base = np.zeros(len(self.files), np.int64)
        nonempty = self.counts > 0
        base[nonempty] = start[self._first[:-1][nonempty]]
        self.offsets = start - np.repeat(base, self.counts)

    # -- construction -----------------------------------------------------
    @classmethod
    def _from_columns(cls, files, sizes, mtimes, counts, lengths):
        serialized = _loader.ops().ffm_serialize_index(
            tf.constant(list(files), tf.string),
            tf.constant(np.asarray(sizes, np.int64)),
            tf.constant(np.asarray(mtimes, np.int64)),
            tf.constant(np.asarray(counts, np.int64)),
            tf.constant(np.asarray(lengths, np.int64)))
        return cls(serialized.numpy())

    @classmethod
    def build(cls, files, *, num_workers=8, progress=True, s3=None):
        """Scans every file once (in parallel) and indexes its records."""
        files = [os.fspath(f) for f in _as_list(files)]
        ops, attr = _loader.ops(), storage_attr(s3)

        def scan(uri):
            lengths, size, mtime = ops.ffm_scan_file(uri, storage_options=attr)
            return lengths.numpy(), int(size), int(mtime)

        with concurrent.futures.ThreadPoolExecutor(max(1, num_workers)) as pool:
            results = list(tqdm(pool.map(scan, files), total=len(files),
                                desc="indexing", unit="file",
                                disable=not progress))
        lengths = [r[0] for r in results]
        return cls._from_columns(
            files, [r[1] for r in results], [r[2] for r in results],
            [len(x) for x in lengths],
            np.concatenate(lengths) if lengths else np.zeros(0, np.int64))

    @classmethod
    def from_text_index(cls, files, index_files, *, s3=None):
        """Imports per-file text indexes ("<offset> <size>" per record), as
        written by NVIDIA DALI's tfrecord2idx and the `tfrecord` package."""
        files = [os.fspath(f) for f in _as_list(files)]
        index_files = [os.fspath(f) for f in _as_list(index_files)]
        if len(files) != len(index_files):
            raise ValueError(f"{len(files)} files but {len(index_files)} index files")
        ops, attr = _loader.ops(), storage_attr(s3)
        sizes, mtimes, counts, all_lengths = [], [], [], []
        for uri, idx in zip(files, index_files):
            text = ops.ffm_read_file(idx, storage_options=attr).numpy().decode()
            try:
                rows = np.array([line.split() for line in text.splitlines()
                                 if line.strip()], dtype=np.int64).reshape(-1, 2)
            except ValueError as e:
                raise tf.errors.DataLossError(
                    None, None, f"{idx}: not a '<offset> <size>' text index ({e})")
            offsets, framed = rows[:, 0], rows[:, 1]
            expected = np.concatenate([[0], np.cumsum(framed)[:-1]]) if len(rows) else offsets
            if np.any(framed < _FRAMING_BYTES) or not np.array_equal(offsets, expected):
                raise tf.errors.DataLossError(
                    None, None, f"{idx}: records are not contiguous from offset 0; "
                    f"is it the index of {uri}?")
            size, mtime = ops.ffm_stat_file(uri, storage_options=attr)
            sizes.append(int(size))
            mtimes.append(int(mtime))
            counts.append(len(rows))
            all_lengths.append(framed - _FRAMING_BYTES)
        return cls._from_columns(
            files, sizes, mtimes, counts,
            np.concatenate(all_lengths) if all_lengths else np.zeros(0, np.int64))

    # -- persistence --------------------------------------------------------
    def save(self, path, *, s3=None):
        """Writes the index to a local path or s3:// URI."""
        _loader.ops().ffm_write_file(os.fspath(path), self._serialized,
                                     storage_options=storage_attr(s3))

    @classmethod
    def load(cls, path, *, s3=None):
        """Reads an index written by save(); DataLossError if corrupt."""
        path = os.fspath(path)
        data = _loader.ops().ffm_read_file(path, storage_options=storage_attr(s3))
        return cls(data.numpy(), name=path)

    @property
    def serialized(self) -> bytes:
        return self._serialized

    # -- lookup -------------------------------------------------------------
    def __len__(self):
        return int(self.lengths.shape[0])

    def __getitem__(self, i):
        """(file, offset, length) of record i, in file order."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"record {i} out of range for {n} records")
        f = int(np.searchsorted(self._first, i, side="right") - 1)
        return self.files[f], int(self.offsets[i]), int(self.lengths[i])

    def __repr__(self):
        return f"RecordIndex({len(self.files)} files, {len(self)} records)"


def _as_list(files):
    if isinstance(files, (str, bytes, os.PathLike)):
        return [files]
    return list(files)
