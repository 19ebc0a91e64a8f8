"""Loads tf_ffm's compiled libraries once, with errors that say what to do.

Two libraries link TensorFlow's libtensorflow_framework (for absl) and
pyarrow's libarrow/libarrow_s3: the op library (`_ffm_ops`, loaded with
tf.load_op_library) and the pybind11 module `tf_ffm._engine` (index,
listing, counters), which must import without TensorFlow's Python package.

Both are loaded when first needed, not at `import tf_ffm`: the libraries
before tf_ffm._engine is first imported (an import hook) or the op library
loaded, so `tf-ffm --help` loads nothing.

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
_s3_filesystem = None  # who serves s3:// in TensorFlow (s3_filesystem())
_preloaded = False
_tf_dir = _arrow_dir = None  # the installed packages' directories (check_environment)
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


def _check_pyarrow_version():
    info = build_info()
    if info is None or info[2] is None:
        return
    from importlib import metadata

    try:
        running = metadata.version("pyarrow")
    except metadata.PackageNotFoundError:
        return  # _package_dir says it is missing
    if int(running.split(".")[0]) != info[2]:
        raise ImportError(
            f"tf_ffm was built against pyarrow {info[2]} (it links "
            f"libarrow.so.{info[2]}00) but pyarrow {running} is installed. Fix: "
            f"pip install \"pyarrow=={info[2]}.*\", or build tf-ffm from source "
            f"against pyarrow {running} (pip install --no-binary tf-ffm "
            f"--no-build-isolation tf-ffm)")


def check_environment():
    """At `import tf_ffm`, cheaply (no library loaded): the TensorFlow minor
    and pyarrow major this build needs are the ones installed, and both are
    there at all. ImportError saying what to install otherwise."""
    global _tf_dir, _arrow_dir
    _check_tf_version()
    _check_pyarrow_version()
    info = build_info()
    _tf_dir = _package_dir(
        "tensorflow", "pip install \"tf-ffm[tensorflow]\" or \"tf-ffm[tensorflow-cpu]\""
        + (f" (TensorFlow {info[1]}, the minor this build is for)" if info else ""))
    _arrow_dir = _package_dir("pyarrow", "it is a dependency of tf-ffm: reinstall tf-ffm")



def preload_libraries():
    """Loads TensorFlow's framework library and pyarrow's libarrow and
    libarrow_s3 by absolute path, without importing either package: before
    tf_ffm._engine is imported (a hook, below) and before the op library.

    The compiled libraries' RPATH points at tensorflow/ and pyarrow/ beside
    tf_ffm/ in site-packages; loading them here also covers editable and
    source builds. The framework library is loaded as TensorFlow loads it
    (RTLD_LOCAL); its static initialisers log an absl notice and a oneDNN
    INFO line on stderr, whatever TF_CPP_MIN_LOG_LEVEL says (as
    `import tensorflow` does).
    """
    global _preloaded
    with _lock:
        if _preloaded:
            return
        if _tf_dir is None:
            check_environment()
        framework = sorted(glob.glob(os.path.join(_tf_dir, "libtensorflow_framework.so.*")))
        if not framework:
            raise ImportError(f"no libtensorflow_framework.so.* in {_tf_dir}")
        ctypes.CDLL(framework[0])
        for pattern in ("libarrow.so.*", "libarrow_s3.so.*"):
            for path in sorted(glob.glob(os.path.join(_arrow_dir, pattern)))[:1]:
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
                _register_s3_filesystem(tf, path)
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


_FILESYSTEM_OFF = ("0", "false", "no", "off")


def _register_s3_filesystem(tf, path):
    """Registers the op library's s3:// filesystem plugin (cc/fs/) with
    TensorFlow, unless TF_FFM_S3_FILESYSTEM=0 or another filesystem already
    serves s3:// (tensorflow-io): TensorFlow cannot replace a registered
    scheme, and whoever registered first keeps it. Never fails the import:
    a failure is a warning, and s3_filesystem() says why."""
    global _s3_filesystem
    if os.environ.get("TF_FFM_S3_FILESYSTEM", "1").strip().lower() in _FILESYSTEM_OFF:
        _s3_filesystem = "off (TF_FFM_S3_FILESYSTEM=0)"
        return
    if "s3" in tf.io.gfile.get_registered_schemes():
        _s3_filesystem = ("another package's (s3:// was registered before "
                          "tf_ffm was imported, e.g. by tensorflow-io)")
        return
    try:
        tf.experimental.register_filesystem_plugin(path)
        _s3_filesystem = "tf_ffm"
    except Exception as e:  # noqa: BLE001 - the ops still work; say why
        _s3_filesystem = f"not registered: {e}"
        warnings.warn(f"tf_ffm could not register its s3:// filesystem with "
                      f"TensorFlow: {e}", RuntimeWarning, stacklevel=3)


def s3_filesystem():
    """Who serves s3:// paths in tf.io.gfile and the rest of TensorFlow:
    "tf_ffm", or why not tf_ffm; None until TensorFlow is imported and the
    op library loaded (FFMRecordDataset reads s3:// with its own client in
    any case)."""
    return _s3_filesystem


def loaded_ops_path():
    """The path of the op library if ops() has loaded it, else None."""
    return _ops_path


# -- hooks: libraries before tf_ffm._engine, ops after tensorflow -------------

class _HookedLoader(importlib.abc.Loader):
    """Wraps a module's own loader with something to do before creating it
    (preload the libraries tf_ffm._engine links) or after running it
    (register the ops once TensorFlow is imported)."""

    def __init__(self, loader, before=None, after=None):
        self._loader = loader
        self._before = before
        self._after = after

    def create_module(self, spec):
        if self._before is not None:
            self._before()
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        if self._after is not None:
            self._after()

    def __getattr__(self, name):  # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _ImportHook(importlib.abc.MetaPathFinder):
    """Finds the hooked modules as the other finders do and wraps their
    loaders; takes itself off sys.meta_path when nothing is left to hook."""

    def __init__(self):
        self.hooked = {}  # module name -> dict(before=..., after=...)

    def find_spec(self, fullname, path, target=None):
        actions = self.hooked.get(fullname)
        if actions is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and not isinstance(spec.loader, _HookedLoader):
                    spec.loader = _HookedLoader(spec.loader, **actions)
                return spec
        return None

    def add(self, name, **actions):
        with _lock:
            self.hooked[name] = actions
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)

    def done(self, name):
        with _lock:
            self.hooked.pop(name, None)
            if not self.hooked:
                while self in sys.meta_path:
                    sys.meta_path.remove(self)


_hook = _ImportHook()


def _before_engine():
    _hook.done("tf_ffm._engine")
    preload_libraries()


def preload_before_engine_import():
    """Preloads the libraries when tf_ffm._engine is first imported."""
    if "tf_ffm._engine" not in sys.modules:
        _hook.add("tf_ffm._engine", before=_before_engine)


def _registered_after_import():
    """Called once `import tensorflow` has completed in a process that
    imported tf_ffm first. Raising here would leave TensorFlow half
    imported, so a failure is a warning now and the same error again at the
    next use of the ops (ops() retries)."""
    _hook.done("tensorflow")
    try:
        ops()
    except Exception as e:  # noqa: BLE001 - raised again on next use, see above
        warnings.warn(f"tf_ffm could not register its ops when TensorFlow was "
                      f"imported: {e}", RuntimeWarning, stacklevel=2)


def register_ops_with_tensorflow():
    """Registers the ops now if TensorFlow is imported, else as soon as it
    is (see the module docstring)."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "load_op_library"):
        ops()
        return
    _hook.add("tensorflow", after=_registered_after_import)


def ops_registered():
    """Whether this process has the tf_ffm ops registered."""
    return _ops is not None
