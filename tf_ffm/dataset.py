"""FFMRecordDataset: a drop-in for tf.data.TFRecordDataset."""
import os
import warnings

import tensorflow as tf
from tensorflow.python.data.ops import dataset_ops

from tf_ffm import _defaults, _loader
from tf_ffm import distribute as _distribute
from tf_ffm.s3 import storage_attr

_AUTO_CYCLE_LENGTH = 0  # the op chooses (see FFMRecordDataset's docstring)
# An index built in memory and never saved goes into the graph; past this
# size, say how to keep it out.
_EMBEDDED_INDEX_WARN_BYTES = 64 << 20


def _is_remote(uri):
    """Whether `uri` names an object store rather than a path."""
    return "://" in uri and not uri.startswith("file://")


def _normalise_fspath(path):
    return os.fspath(path) if isinstance(path, os.PathLike) else path


def _filenames_tensor(filenames):
    """A flat string tensor of file names, validated like the stock reader."""
    filenames = tf.nest.map_structure(_normalise_fspath, filenames)
    filenames = tf.convert_to_tensor(filenames, dtype_hint=tf.string)
    if filenames.dtype != tf.string:
        raise TypeError(
            "The `filenames` argument must contain `tf.string` elements. Got "
            f"`{filenames.dtype!r}` elements.")
    return tf.reshape(filenames, [-1], name="flat_filenames")


def _validate_filenames_dataset(filenames):
    spec = filenames.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
        raise TypeError(
            "The `filenames` argument must contain `tf.string` elements. Got "
            f"a dataset of `{spec!r}` elements.")
    if not spec.shape.is_compatible_with([]):
        raise TypeError(
            "The `filenames` argument must contain `tf.string` elements of "
            f"shape [] (i.e. scalars). Got a dataset of element shape "
            f"{spec.shape!r}.")


def _static_int(value, what):
    if value is None:
        return None
    static = tf.get_static_value(value)
    if static is None:
        raise ValueError(f"{what} must be known when the dataset is built")
    return int(static)


class _FFMRecordSource(dataset_ops.UnaryDataset):
    """One FFMRecordDataset op over a dataset of file names."""

    def __init__(self, filenames, compression_type, cycle_length, reader_attrs):
        compression_type = tf.convert_to_tensor(
            "" if compression_type is None else compression_type,
            dtype=tf.string, name="compression_type")
        variant = _loader.ops().ffm_record_dataset(
            filenames._variant_tensor, compression_type,
            cycle_length=cycle_length, **reader_attrs)
        super().__init__(filenames, variant)

    @property
    def element_spec(self):
        return tf.TensorSpec([], tf.string)


class _FFMIndexedSource(dataset_ops.DatasetSource):
    """One FFMIndexedDataset op: records through a RecordIndex."""

    def __init__(self, filenames, index, shuffle, seed, reshuffle_each_iteration,
                 shard, reader_attrs):
        num_shards, shard_index = shard
        # An index with a file is referred to by its path: the graph stays
        # small whatever the index's size, and workers map the file.
        by_path = index.path is not None
        if not by_path and index.serialized_size > _EMBEDDED_INDEX_WARN_BYTES:
            warnings.warn(
                f"this RecordIndex ({index.serialized_size:,} bytes) is carried in "
                "the dataset's graph; save() it and pass the path (or the saved "
                "index) so that datasets refer to its file instead", stacklevel=4)
        variant = _loader.ops().ffm_indexed_dataset(
            filenames, index.path if by_path else index.serialized,
            tf.constant(seed, tf.int64), shuffle=shuffle,
            reshuffle_each_iteration=reshuffle_each_iteration,
            num_shards=num_shards, shard_index=shard_index,
            index_is_path=by_path, **reader_attrs)
        super().__init__(variant)

    @property
    def element_spec(self):
        return tf.TensorSpec([], tf.string)


def _check_index_args(index, shuffle, shard, compression_type, filenames, s3):
    if shuffle not in (None, "global", "block"):
        raise ValueError(f"shuffle must be None, 'global' or 'block', got {shuffle!r}")
    if index is None:
        if shuffle is not None or shard is not None:
            raise ValueError("shuffle= and shard= need index= (a tf_ffm.RecordIndex "
                             "or the path of a saved one)")
        return None
    if compression_type not in (None, ""):
        raise ValueError("an index addresses uncompressed TFRecord files only")
    if isinstance(filenames, tf.data.Dataset):
        raise TypeError("with index=, give filenames as a list or tensor")
    if shard is not None:
        num_shards, shard_index = shard
        if not (num_shards >= 1 and 0 <= shard_index < num_shards):
            raise ValueError(f"shard=(num_shards, index) out of range: {shard}")
    from tf_ffm.index import RecordIndex
    if not isinstance(index, RecordIndex):
        index = RecordIndex.open(index, s3=s3)
    return index


class FFMRecordDataset(dataset_ops.DatasetV2):
    """Records of TFRecord files, read with parallel chunked prefetch.

    Positional arguments and their meaning are those of
    `tf.data.TFRecordDataset`; the same records come out in the same order for
    `num_parallel_reads=None` and any integer N (N files interleaved one
    record at a time). With `tf.data.AUTOTUNE` files are read one after
    another, as with None: each file already has many reads in flight and the
    next files are opened ahead, so interleaving files would add work per
    record and no throughput. The order is then deterministic (None's) and
    the multiset of records the stock reader's.

    `filenames` may be local or mounted paths (e.g. SageMaker Fast File Mode
    channels) or `s3://bucket/key` URIs.

    `filenames` may also be a `tf.data.Dataset` of file names (e.g. from a
    generator that changes the mix between epochs): the names are pulled as
    reading needs them, and the same order rules hold.

    Keyword-only extras:
      chunk_size: bytes per ranged read once the window has grown (8 MiB).
      first_chunk_size: bytes of a file's first read, small so the first
        record arrives fast (1 MiB).
      memory_budget: bytes of readahead across all open files (256 MiB); the
        chunk being consumed is always read, so the bound is
        memory_budget + one chunk per open file.
      io_threads: concurrent reads per iterator (16; 128 for shuffle="global"
        over s3://). On FUSE and network mounts each file is read by at most
        4 of them, each reading 32 MiB in sequence on its own descriptor, which
        the mount serves as one stream.
      deterministic: accepted for tf.data compatibility; records always
        come in a deterministic order.
      verify_crc: check both CRC32C values of every record (True).
      s3: a `tf_ffm.S3Options` overriding the AWS environment for s3:// URIs.
      index: a `tf_ffm.RecordIndex` (or the path or s3:// URI of a saved one)
        of exactly `filenames`. An index with a file (a path, or a RecordIndex
        opened or saved) is referred to by that path: each process maps it
        (s3:// ones fetched once into `tf_ffm.index_cache_dir()`), so neither
        the graph nor tf.data service carries the records. The dataset then
        has an exact cardinality and supports
        `tf.data.experimental.at(ds, i)` (record i in file order) and TF's
        global shuffle (`global_shuffle_op._global_shuffle`, one ranged read
        per record) unless `shuffle` is also set. Without an index, global
        shuffle raises FailedPreconditionError.
      shuffle: with an index, None (file order), "global" (a seeded
        permutation of all records per epoch) or "block" (contiguous blocks of
        ~chunk_size in seeded order, records shuffled within windows of 8
        blocks: near-sequential I/O).
      seed: the shuffle seed; None draws one (see `.seed`).
      reshuffle_each_iteration: a new order for each new iterator (epoch).
      shard: (num_shards, shard_index) with an index: record-level shards,
        disjoint, covering all records, sizes differing by at most one.

      parallel_reads: None (automatic: many ranged reads in flight for s3://,
        FUSE mounts such as Fast File Mode and network filesystems; one
        sequential 256 KiB read at a time from a local disk or the page
        cache, where the kernel's readahead keeps up and a prefetch buffer
        would only copy every byte once more), True or False to force one.

    `buffer_size` is accepted for compatibility and ignored: reads are
    `chunk_size` ranges (or sequential local reads) instead.
    """

    def __init__(self, filenames, compression_type=None, buffer_size=None,
                 num_parallel_reads=None, name=None, *,
                 chunk_size=_defaults.CHUNK_SIZE,
                 first_chunk_size=_defaults.FIRST_CHUNK_SIZE,
                 memory_budget=_defaults.MEMORY_BUDGET, io_threads=None,
                 deterministic=None, verify_crc=True, s3=None,
                 index=None, shuffle=None, seed=None,
                 reshuffle_each_iteration=True, shard=None,
                 parallel_reads=None):
        del buffer_size  # see docstring
        index = _check_index_args(index, shuffle, shard, compression_type,
                                  filenames, s3)
        _distribute.warn_if_auto_sharded(shard=shard, shuffle=shuffle,
                                         seed_given=seed is not None)
        if io_threads is None:
            remote = index is not None and any(_is_remote(f) for f in index.files)
            io_threads = (_defaults.IO_THREADS_GLOBAL_SHUFFLE_S3
                          if shuffle == "global" and remote else _defaults.IO_THREADS)
        if parallel_reads not in (None, True, False):
            raise ValueError(f"parallel_reads must be None, True or False, got {parallel_reads!r}")
        num_parallel_reads = _static_int(num_parallel_reads, "num_parallel_reads")
        if num_parallel_reads is not None and num_parallel_reads != tf.data.AUTOTUNE \
                and num_parallel_reads < 1:
            raise ValueError(
                "num_parallel_reads must be None, tf.data.AUTOTUNE or >= 1, "
                f"got {num_parallel_reads}")
        reader_attrs = dict(
            chunk_size=int(chunk_size), first_chunk_size=int(first_chunk_size),
            memory_budget=int(memory_budget), io_threads=int(io_threads),
            verify_crc=bool(verify_crc), storage_options=storage_attr(s3))
        self._compression_type = compression_type
        self._num_parallel_reads = num_parallel_reads

        if seed is None:
            seed = int.from_bytes(os.urandom(7), "little")
        self.seed = seed
        if index is not None:
            reader_attrs.pop("first_chunk_size")
            self._impl = _FFMIndexedSource(
                _filenames_tensor(filenames), index, shuffle or "none", seed,
                bool(reshuffle_each_iteration), shard or (1, 0), reader_attrs)
        else:
            if isinstance(filenames, tf.data.Dataset):
                _validate_filenames_dataset(filenames)
            else:
                filenames = tf.data.Dataset.from_tensor_slices(
                    _filenames_tensor(filenames))
            if num_parallel_reads is None:
                cycle_length = 1
            elif num_parallel_reads == tf.data.AUTOTUNE:
                cycle_length = _AUTO_CYCLE_LENGTH
            else:
                cycle_length = num_parallel_reads
            mode = {None: "auto", True: "always", False: "never"}[parallel_reads]
            self._impl = _FFMRecordSource(filenames, compression_type,
                                          cycle_length, dict(reader_attrs,
                                                             parallel_reads=mode))
        super().__init__(self._impl._variant_tensor)

    def _inputs(self):
        return self._impl._inputs()

    @property
    def element_spec(self):
        return tf.TensorSpec([], tf.string)
