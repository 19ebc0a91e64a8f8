"""Loads tf_ffm's compiled libraries once, with errors that say what to do.

Two libraries link TensorFlow's libtensorflow_framework (for absl) and
pyarrow's libarrow/libarrow_s3: the op library (`_ffm_ops`, loaded with
tf.load_op_library when a dataset is made) and the pybind11 module
`tf_ffm._engine` (index, listing, counters), which must import without
TensorFlow's Python package. Nothing here imports TensorFlow until ops()
is called.
"""
import ctypes
import glob
import importlib.util
import os
import sys
import sysconfig

_HERE = os.path.dirname(os.path.abspath(__file__))
_ops = None
_ops_path = None
_preloaded = False
# Distributions that install the `tensorflow` package, for its version
# without importing it.
_TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu",
                     "tensorflow-intel", "tf-nightly", "tf-nightly-cpu")


def _candidates():
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    preferred = os.path.join(_HERE, "_ffm_ops" + suffix)
    others = sorted(glob.glob(os.path.join(_HERE, "_ffm_ops*.so")))
    return [preferred] + [p for p in others if p != preferred]


def _running_tf_version():
    """The installed TensorFlow's version, without importing it if it is not
    imported yet; None if it cannot be told."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "__version__"):
        return tf.__version__
    from importlib import metadata

    for name in _TF_DISTRIBUTIONS:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _check_tf_version():
    try:
        from tf_ffm import _build_info
    except ImportError:
        return  # a source checkout not built by setup.py; the load will say
    running = _running_tf_version()
    if running is None:
        return
    built = _build_info.TF_MINOR
    running_minor = ".".join(running.split(".")[:2])
    if built != running_minor:
        raise ImportError(
            f"tf_ffm was built for TensorFlow {_build_info.TF_VERSION} (minor "
            f"{built}) but TensorFlow {running} is installed; install "
            f"the tf-ffm build for TensorFlow {running_minor} or rebuild from source")


def _package_dir(name):
    spec = importlib.util.find_spec(name)  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"tf_ffm needs the {name} package, which is not installed")
    return list(spec.submodule_search_locations)[0]


def preload_libraries():
    """Loads TensorFlow's framework library and pyarrow's libarrow and
    libarrow_s3 by absolute path, without importing either package.

    The compiled libraries' RPATH points at tensorflow/ and pyarrow/ beside
    tf_ffm/ in site-packages; loading them here also covers editable and
    source builds. The framework library is loaded as TensorFlow loads it
    (RTLD_LOCAL); its static initialisers may log one oneDNN INFO line.
    """
    global _preloaded
    if _preloaded:
        return
    _check_tf_version()
    tf_dir = _package_dir("tensorflow")
    framework = sorted(glob.glob(os.path.join(tf_dir, "libtensorflow_framework.so.*")))
    if not framework:
        raise ImportError(f"no libtensorflow_framework.so.* in {tf_dir}")
    ctypes.CDLL(framework[0])
    arrow_dir = _package_dir("pyarrow")
    for pattern in ("libarrow.so.*", "libarrow_s3.so.*"):
        for path in sorted(glob.glob(os.path.join(arrow_dir, pattern)))[:1]:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    _preloaded = True


def ops():
    """The op module (generated Python wrappers of the registered ops)."""
    global _ops, _ops_path
    if _ops is None:
        import tensorflow as tf

        _check_tf_version()
        preload_libraries()
        errors = []
        for path in _candidates():
            if not os.path.exists(path):
                errors.append(f"{path}: not found")
                continue
            try:
                _ops = tf.load_op_library(path)
                _ops_path = path
                break
            except (tf.errors.NotFoundError, OSError) as e:
                errors.append(f"{path}: {e}")
        else:
            raise ImportError(
                "could not load the tf_ffm op library (expected a build for "
                f"TensorFlow {tf.__version__}); tried:\n  " + "\n  ".join(errors)
                + "\nBuild it with `bash build_tools/setup.sh` or "
                "`pip install --no-build-isolation -e .`.")
    return _ops


def loaded_ops_path():
    """The path of the op library if ops() has loaded it, else None."""
    return _ops_path
