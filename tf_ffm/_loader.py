"""Loads tf_ffm's compiled libraries once, with errors that say what to do.

Two libraries link TensorFlow's libtensorflow_framework (for absl) and
pyarrow's libarrow/libarrow_s3: the op library (`_ffm_ops`, loaded with
tf.load_op_library) and the pybind11 module `tf_ffm._engine` (index,
listing, counters), which must import without TensorFlow's Python package.

When the ops are registered (see register_ops_with_tensorflow): in every
process that has both tf_ffm and TensorFlow imported, whichever came first.
`import tf_ffm` with TensorFlow already imported loads the op library at
once; `import tf_ffm` first installs a hook that loads it as soon as
`import tensorflow` completes. So a process that only imports tf_ffm can
load a serialised dataset graph or a SavedModel, or serve tf.data service
pipelines, and `tf-ffm ls`/`index` (which never import TensorFlow's Python
package) stay fast.
"""
import ctypes
import glob
import importlib.abc
import importlib.util
import os
import sys
import sysconfig
import threading
import warnings

_HERE = os.path.dirname(os.path.abspath(__file__))
_ops = None
_ops_path = None
_preloaded = False
_lock = threading.RLock()
# Distributions that install the `tensorflow` package, for its version
# without importing it.
_TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu",
                     "tensorflow-intel", "tensorflow-aarch64", "tf-nightly",
                     "tf-nightly-cpu")


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


def build_info():
    """(TF version, TF minor, pyarrow major) this build was compiled
    against, or None for a source checkout setup.py has not built."""
    try:
        from tf_ffm import _build_info
    except ImportError:
        return None
    return (_build_info.TF_VERSION, _build_info.TF_MINOR,
            getattr(_build_info, "PYARROW_MAJOR", None))


def _check_tf_version():
    info = build_info()
    if info is None:
        return  # a source checkout not built by setup.py; the load will say
    running = _running_tf_version()
    if running is None:
        return
    built, built_minor, _ = info
    running_minor = ".".join(running.split(".")[:2])
    if built_minor != running_minor:
        raise ImportError(
            f"tf_ffm was built for TensorFlow {built} but TensorFlow {running} "
            f"is installed: the op library's C++ ABI holds within one TensorFlow "
            f"minor only. Fix: install TensorFlow {built_minor} "
            f"(pip install \"tensorflow=={built_minor}.*\" or "
            f"\"tensorflow-cpu=={built_minor}.*\"), or build tf-ffm from source "
            f"against TensorFlow {running} (pip install --no-binary tf-ffm "
            f"--no-build-isolation tf-ffm)")


def _package_dir(name, hint):
    spec = importlib.util.find_spec(name)  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"tf_ffm needs the {name} package, which is not "
                          f"installed: {hint}")
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
    tf_dir = _package_dir(
        "tensorflow", "pip install \"tf-ffm[tensorflow]\" (or "
        "\"tf-ffm[tensorflow-cpu]\"), or install the TensorFlow "
        f"{(build_info() or ('', 'matching', ''))[1]} distribution you use")
    framework = sorted(glob.glob(os.path.join(tf_dir, "libtensorflow_framework.so.*")))
    if not framework:
        raise ImportError(f"no libtensorflow_framework.so.* in {tf_dir}")
    ctypes.CDLL(framework[0])
    arrow_dir = _package_dir("pyarrow", "pip install tf-ffm installs it; "
                             "reinstall tf-ffm")
    for pattern in ("libarrow.so.*", "libarrow_s3.so.*"):
        for path in sorted(glob.glob(os.path.join(arrow_dir, pattern)))[:1]:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    _preloaded = True


def ops():
    """The op module (generated Python wrappers of the registered ops)."""
    global _ops, _ops_path
    with _lock:
        if _ops is not None:
            return _ops
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


# -- registration when TensorFlow is imported --------------------------------

class _LoadOpsAfter(importlib.abc.Loader):
    """Wraps TensorFlow's own loader: runs it, then registers the ops."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _registered_after_import()

    def __getattr__(self, name):  # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _TensorFlowImportHook(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the other finders do and wraps its loader, so
    the ops are registered right after TensorFlow's own import completes."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and not isinstance(spec.loader, _LoadOpsAfter):
                    spec.loader = _LoadOpsAfter(spec.loader)
                return spec
        return None


_hook = _TensorFlowImportHook()


def _registered_after_import():
    """Called once `import tensorflow` has completed in a process that
    imported tf_ffm first. Raising here would leave TensorFlow half
    imported, so a failure is a warning now and the same error again at the
    next use of the ops (ops() retries)."""
    _remove_hook()
    try:
        ops()
    except Exception as e:  # noqa: BLE001 - raised again on next use, see above
        warnings.warn(f"tf_ffm could not register its ops when TensorFlow was "
                      f"imported: {e}", RuntimeWarning, stacklevel=2)


def _remove_hook():
    with _lock:
        while _hook in sys.meta_path:
            sys.meta_path.remove(_hook)


def register_ops_with_tensorflow():
    """Registers the ops now if TensorFlow is imported, else as soon as it
    is (see the module docstring)."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "load_op_library"):
        ops()
        return
    with _lock:
        if _hook not in sys.meta_path:
            sys.meta_path.insert(0, _hook)


def ops_registered():
    """Whether this process has the tf_ffm ops registered."""
    return _ops is not None
