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

    An index opened from a file (`open`/`load`, or after `save`) is read in
    place, memory-mapped (s3:// indexes are fetched once into a local cache,
    see `tf_ffm.index_cache_dir()`), and datasets given it refer to the file
    by its `path` instead of carrying the index in their graph: opening costs
    the file table, not the records, whatever their number.

    `sizes`, `mtimes_ns` and `counts` have one entry per file; `lengths` and
    `offsets` (int64, one per record) are made when first asked for.
    """

    def __init__(self, serialized: bytes, name: str = "index"):
        serialized = bytes(serialized)
        self._set(_engine.Index.parse(serialized, name), serialized)

    def _set(self, index, serialized=None, path=None, s3=None):
        self._index = index
        self._serialized = serialized
        self.path = path  # the file datasets refer to, if any
        self._s3 = s3
        self.files = index.files
        self.sizes = index.sizes
        self.mtimes_ns = index.mtimes_ns
        self.counts = index.counts
        self._lengths = self._offsets = None

    @property
    def lengths(self):
        if self._lengths is None:
            self._lengths = self._index.lengths
        return self._lengths

    @property
    def offsets(self):
        if self._offsets is None:
            self._offsets = self._index.offsets
        return self._offsets

    @classmethod
    def _from_engine(cls, index, path=None, s3=None):
        self = cls.__new__(cls)
        self._set(index, path=path, s3=s3)
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
        """Writes the index to a local path or s3:// URI; datasets given this
        object then refer to that file."""
        path = os.fspath(path)
        _engine.write_whole(path, self.serialized, storage_attr(s3))
        self.path, self._s3 = path, s3

    @classmethod
    def open(cls, path, *, s3=None):
        """Opens an index written by save() (or IndexWriter) in place:
        DataLossError if its header or file table is corrupt, and for a
        corrupt block of record offsets when a record in it is located."""
        path = os.fspath(path)
        return cls._from_engine(_engine.Index.open(path, storage_attr(s3)),
                                path=path, s3=s3)

    load = open  # the name earlier versions had

    @property
    def serialized(self) -> bytes:
        if self._serialized is None:
            self._serialized = self._index.serialize()
        return self._serialized

    @property
    def serialized_size(self) -> int:
        """Bytes of the index's serialised form (and of its file)."""
        return self._index.serialized_size

    def __reduce__(self):
        if self.path is not None:
            return (_reopen, (self.path, self._s3))
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


def _reopen(path, s3):
    return RecordIndex.open(path, s3=s3)


class IndexWriter:
    """Writes an index file file by file, holding one block of record offsets
    in memory: for indexes too large to build in memory (or generated).

        with IndexWriter("/data/train.idx") as w:
            for uri, size, mtime_ns, lengths in my_files:
                w.add_file(uri, size, mtime_ns, lengths)
        index = RecordIndex.open("/data/train.idx")

    The file appears (atomically renamed into place) when the block ends
    without an exception; local paths only."""

    def __init__(self, path):
        self._writer = _engine.IndexWriter(os.fspath(path))

    def add_file(self, uri, size, mtime_ns, lengths):
        """The next file: its size and mtime (ns; 0 = unknown) when indexed
        and the data length of each of its records, in order."""
        self._writer.add_file(os.fspath(uri), int(size), int(mtime_ns),
                              np.asarray(lengths, dtype=np.int64))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._writer.finish()
        self._writer = None  # an unfinished file is removed


def index_cache_dir():
    """Where indexes opened from s3:// are kept ($TF_FFM_INDEX_CACHE, else
    $XDG_CACHE_HOME/tf-ffm/indexes, else ~/.cache/tf-ffm/indexes)."""
    return _engine.index_cache_dir()


def _as_list(files):
    if isinstance(files, (str, bytes, os.PathLike)):
        return [files]
    return list(files)
