"""tf-ffm: fast TFRecord reading from local, mounted and s3:// paths.

`import tf_ffm` registers the FFMRecordDataset ops with TensorFlow: at once
if TensorFlow is imported, else as soon as it is (tf_ffm/_loader.py), so a
process that only imports tf_ffm can load a serialised graph or SavedModel
or serve tf.data service pipelines. It does not import TensorFlow itself:
the public names are imported on first use, and tools that do not read
datasets (`tf-ffm ls`, `tf-ffm index`, tf_ffm._engine) run without
TensorFlow's Python package.
"""
import importlib
import importlib.util

from tf_ffm import _allocator, _loader

__version__ = "0.1.0"

# ImportError naming both versions if tf_ffm was built for another
# TensorFlow minor, or saying what to install if TensorFlow or pyarrow is
# missing. Their shared libraries are loaded when first needed (the
# compiled modules link them), so `tf-ffm --help` loads none.
_loader.check_environment()
_loader.preload_before_engine_import()
_loader.register_ops_with_tensorflow()
# Before any pipeline runs: record buffers would otherwise land in freshly
# mapped pages batch after batch (see _allocator).
_allocator.keep_thread_heaps()

_EXPORTS = {
    "FFMRecordDataset": "tf_ffm.dataset",
    "RecordIndex": "tf_ffm.index",
    "IndexWriter": "tf_ffm.index",
    "index_cache_dir": "tf_ffm.index",
    "WeightedMix": "tf_ffm.mixing",
    "S3Options": "tf_ffm.s3",
    "glob": "tf_ffm.s3",
    "s3_supported": "tf_ffm.s3",
    "channel": "tf_ffm.sagemaker",
    "channel_files": "tf_ffm.sagemaker",
    "stats": "tf_ffm.metrics",
    "s3_filesystem": "tf_ffm._loader",
}
__all__ = ["FFMRecordDataset", "RecordIndex", "IndexWriter", "index_cache_dir",
           "S3Options", "glob", "s3_supported", "stats", "WeightedMix", "channel",
           "channel_files", "s3_filesystem"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        # A submodule (tf_ffm.distribute, tf_ffm.index, ...), as attribute.
        if not name.startswith("__") and importlib.util.find_spec(f"tf_ffm.{name}"):
            return importlib.import_module(f"tf_ffm.{name}")
        raise AttributeError(f"module 'tf_ffm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
