"""RecordIndex: where every record is, for random access and shuffling.

The engine's RecordIndex (tf_ffm._engine.Index) scans, (de)serialises and
locates; this class names its columns and imports text indexes. It does not
import TensorFlow, so `tf-ffm index` runs without it.
"""
import operator
import os

import numpy as np
from tqdm.auto import tqdm

from tf_ffm import _engine, _errors
from tf_ffm.s3 import storage_attr


class RecordIndex:
    """The (file, offset, length) of every record of a list of TFRecord files.

    Records are numbered 0..len-1 in file order. One index file covers the
    whole dataset; it records each file's size (and mtime for local files) so
    reading with a stale index raises FailedPreconditionError.

    `lengths` and `offsets` (int64, one per record) are read-only views of
    the engine's arrays, not copies; `sizes`, `mtimes_ns` and `counts` have
    one entry per file.
    """

    def __init__(self, serialized: bytes, name: str = "index"):
        serialized = bytes(serialized)
        self._set(_engine.Index.parse(serialized, name), serialized)

    def _set(self, index, serialized=None):
        self._index = index
        self._serialized = serialized
        self.files = index.files
        self.sizes = index.sizes
        self.mtimes_ns = index.mtimes_ns
        self.counts = index.counts
        self.lengths = index.lengths
        self.offsets = index.offsets

    @classmethod
    def _from_engine(cls, index):
        self = cls.__new__(cls)
        self._set(index)
        return self

    # -- construction -----------------------------------------------------
    @classmethod
    def build(cls, files, *, num_workers=8, progress=None, s3=None):
        """Scans every file once (in parallel) and indexes its records.

        progress: draw a progress bar on stderr; None (default) draws it only
        when stderr is a terminal, never into a log file or a pipe."""
        files = [os.fspath(f) for f in _as_list(files)]
        with tqdm(total=len(files), desc="indexing", unit="file",
                  disable=None if progress is None else not progress) as bar:
            index = _engine.Index.build(files, storage_attr(s3),
                                        max(1, num_workers), bar.update)
        return cls._from_engine(index)

    @classmethod
    def from_text_index(cls, files, index_files, *, s3=None):
        """Imports per-file text indexes ("<offset> <size>" per record), as
        written by NVIDIA DALI's tfrecord2idx and the `tfrecord` package."""
        files = [os.fspath(f) for f in _as_list(files)]
        index_files = [os.fspath(f) for f in _as_list(index_files)]
        if len(files) != len(index_files):
            raise ValueError(f"{len(files)} files but {len(index_files)} index files")
        attr = storage_attr(s3)
        rows_per_file, sizes, mtimes = [], [], []
        for idx in index_files:
            text = _engine.read_whole(idx, attr).decode()
            try:
                rows = np.array([line.split() for line in text.splitlines()
                                 if line.strip()], dtype=np.int64).reshape(-1, 2)
            except ValueError as e:
                raise _errors.from_status(
                    _errors.DATA_LOSS, f"{idx}: not a '<offset> <size>' text index ({e})")
            if np.any(rows[:, 1] < _engine.FRAMING_SIZE):
                raise _errors.from_status(
                    _errors.DATA_LOSS, f"{idx}: a record is shorter than its "
                    f"{_engine.FRAMING_SIZE} bytes of framing")
            rows_per_file.append(rows)
        for uri in files:
            size, mtime = _engine.stat(uri, attr)
            sizes.append(size)
            mtimes.append(mtime)
        counts = [len(rows) for rows in rows_per_file]
        lengths = (np.concatenate([rows[:, 1] for rows in rows_per_file])
                   if rows_per_file else np.zeros(0, np.int64)) - _engine.FRAMING_SIZE
        index = _engine.Index.create(files, sizes, mtimes, counts, lengths)
        # The engine places each record right after the one before it: the
        # text's offsets must be those.
        offsets, start = index.offsets, 0
        for uri, idx, rows in zip(files, index_files, rows_per_file):
            if not np.array_equal(rows[:, 0], offsets[start:start + len(rows)]):
                raise _errors.from_status(
                    _errors.DATA_LOSS, f"{idx}: records are not contiguous from "
                    f"offset 0; is it the index of {uri}?")
            start += len(rows)
        return cls._from_engine(index)

    # -- persistence --------------------------------------------------------
    def save(self, path, *, s3=None):
        """Writes the index to a local path or s3:// URI."""
        _engine.write_whole(os.fspath(path), self.serialized, storage_attr(s3))

    @classmethod
    def load(cls, path, *, s3=None):
        """Reads an index written by save(); DataLossError if corrupt."""
        path = os.fspath(path)
        return cls(_engine.read_whole(path, storage_attr(s3)), name=path)

    @property
    def serialized(self) -> bytes:
        if self._serialized is None:
            self._serialized = self._index.serialize()
        return self._serialized

    def __reduce__(self):
        return (RecordIndex, (self.serialized,))

    # -- lookup -------------------------------------------------------------
    def __len__(self):
        return len(self._index)

    def __getitem__(self, i):
        """(file, offset, length) of record i, in file order."""
        i = operator.index(i)
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"record {i} out of range for {n} records")
        f, offset, length = self._index.locate(i)
        return self.files[f], offset, length

    def __repr__(self):
        return f"RecordIndex({len(self.files)} files, {len(self)} records)"


def _as_list(files):
    if isinstance(files, (str, bytes, os.PathLike)):
        return [files]
    return list(files)
