"""Loads the compiled op library once, with an error that says what to do."""
import ctypes
import glob
import os
import sysconfig

import tensorflow as tf

_HERE = os.path.dirname(os.path.abspath(__file__))
_ops = None


def _candidates():
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    preferred = os.path.join(_HERE, "_ffm_ops" + suffix)
    others = sorted(glob.glob(os.path.join(_HERE, "_ffm_ops*.so")))
    return [preferred] + [p for p in others if p != preferred]


def _check_tf_version():
    try:
        from tf_ffm import _build_info
    except ImportError:
        return  # a source checkout not built by setup.py; the load will say
    built = _build_info.TF_MINOR
    running = ".".join(tf.__version__.split(".")[:2])
    if built != running:
        raise ImportError(
            f"tf_ffm was built for TensorFlow {_build_info.TF_VERSION} (minor "
            f"{built}) but TensorFlow {tf.__version__} is installed; install "
            f"the tf-ffm build for TensorFlow {running} or rebuild from source")


def _preload_arrow():
    """Loads pyarrow's libarrow and libarrow_s3 so the op library finds them.

    The op library's RPATH points at pyarrow/ beside tf_ffm/ in site-packages;
    loading by absolute path here also covers editable and source builds.
    """
    import pyarrow

    for libdir in pyarrow.get_library_dirs():
        for pattern in ("libarrow.so.*", "libarrow_s3.so.*"):
            for path in sorted(glob.glob(os.path.join(libdir, pattern)))[:1]:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


def ops():
    """The op module (generated Python wrappers of the registered ops)."""
    global _ops
    if _ops is None:
        _check_tf_version()
        _preload_arrow()
        errors = []
        for path in _candidates():
            if not os.path.exists(path):
                errors.append(f"{path}: not found")
                continue
            try:
                _ops = tf.load_op_library(path)
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
