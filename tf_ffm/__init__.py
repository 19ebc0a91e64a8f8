"""tf-ffm: fast TFRecord reading from local, mounted and s3:// paths.

The public names are imported on first use, so tools that do not read
datasets (`tf-ffm ls`, `tf-ffm index`, tf_ffm._engine) run without importing
TensorFlow's Python package.
"""
import importlib
import importlib.util

from tf_ffm import _loader

# TensorFlow's and pyarrow's shared libraries, for the compiled modules;
# ImportError here if tf_ffm was built for another TensorFlow minor.
_loader.preload_libraries()

# With TensorFlow already imported (`import tensorflow as tf; import tf_ffm`),
# register the ops now: a process that loads a serialised graph, a
# SavedModel or serves tf.data service pipelines may never touch a tf_ffm
# name. Without it (the CLI, tf_ffm._engine), stay TensorFlow-free: the ops
# load on first use.
if "tensorflow" in __import__("sys").modules:
    _loader.ops()

_EXPORTS = {
    "FFMRecordDataset": "tf_ffm.dataset",
    "RecordIndex": "tf_ffm.index",
    "WeightedMix": "tf_ffm.mixing",
    "S3Options": "tf_ffm.s3",
    "glob": "tf_ffm.s3",
    "s3_supported": "tf_ffm.s3",
    "channel": "tf_ffm.sagemaker",
    "channel_files": "tf_ffm.sagemaker",
    "stats": "tf_ffm.metrics",
}
__all__ = ["FFMRecordDataset", "RecordIndex", "S3Options", "glob", "s3_supported",
           "stats", "WeightedMix", "channel", "channel_files"]
__version__ = "0.1.0"


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
