"""Builds tf-ffm: CMake compiles the TensorFlow op library and the pybind11
engine module (tf_ffm._engine) into tf_ffm/.

A build is tied to the TensorFlow minor and the pyarrow major of the
environment it is compiled in (build without isolation:
`pip install --no-build-isolation .`), and its metadata says so:

- TensorFlow: the op library's C++ ABI holds within one TensorFlow minor,
  but TensorFlow ships as several distributions that install the same
  `tensorflow` package (tensorflow, tensorflow-cpu, ...); requiring one of
  them would install it next to the one a user has. So TensorFlow is an
  extra, pinned to the minor built against: tf-ffm[tensorflow] or
  tf-ffm[tensorflow-cpu] (as tensorflow-io does). `import tf_ffm` checks
  the minor and names both versions and the fix.
- pyarrow: the libraries link libarrow.so.<major>00 and
  libarrow_s3.so.<major>00, a soname per pyarrow major, so exactly that
  major is required (pyarrow>=M,<M+1); another major needs a build from
  the sdist against it.
- Python: the highest floor of those two and of this interpreter; the wheel
  is per CPython version anyway (tf_ffm._engine uses CPython's C API
  through pybind11, which has no stable-ABI build).

tf_ffm/_build_info.py records the versions built against.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent
VERSION = re.search(r'^__version__ = "([^"]+)"',
                    (ROOT / "tf_ffm" / "__init__.py").read_text(), re.M).group(1)
# The public repository's address, for the index's project links; none is
# published yet.
PROJECT_URL = None
# Distributions that install the `tensorflow` package.
TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu",
                    "tensorflow-intel", "tensorflow-aarch64")


def _installed(names):
    for name in names:
        try:
            return metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _build_environment():
    """(TF version, pyarrow version, Requires-Python) of this environment."""
    tf_dist = _installed(TF_DISTRIBUTIONS)
    arrow_dist = _installed(["pyarrow"])
    if tf_dist is None or arrow_dist is None:
        sys.exit("tf-ffm compiles against the TensorFlow and pyarrow installed "
                 "where it is built: install them (e.g. tensorflow-cpu==2.21.* "
                 "pyarrow==26.*) and build with --no-build-isolation")
    floors = [tuple(sys.version_info[:2])]
    for dist in (tf_dist, arrow_dist):
        spec = dist.metadata.get("Requires-Python") or ""
        for low in re.findall(r">=\s*(\d+)\.(\d+)", spec):
            floors.append(tuple(int(x) for x in low))
    return tf_dist.version, arrow_dist.version, ">=%d.%d" % max(floors)


if os.environ.get("TF_FFM_SDIST") == "1":
    # Metadata only (no TensorFlow or pyarrow needed): the pins a wheel built
    # in the dev environment gets (build_tools/requirements-dev.txt).
    TF_VERSION, ARROW_VERSION, PYTHON_REQUIRES = "2.21.0", "26.0.0", ">=3.11"
else:
    TF_VERSION, ARROW_VERSION, PYTHON_REQUIRES = _build_environment()
TF_MINOR = ".".join(TF_VERSION.split(".")[:2])
ARROW_MAJOR = int(ARROW_VERSION.split(".")[0])


class CMakeExtension(Extension):
    def __init__(self, name, target, output):
        super().__init__(name, sources=[])
        self.target = target
        self.output = output  # the file CMake writes for `target`


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        out = pathlib.Path(self.get_ext_fullpath(ext.name)).resolve()
        # A stable build tree so rebuilding an editable install is incremental
        # ($TF_FFM_CMAKE_BUILD_DIR: another one, e.g. for a parallel build).
        build_dir = pathlib.Path(os.environ.get("TF_FFM_CMAKE_BUILD_DIR")
                                 or ROOT / "build" / "cmake").resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        cfg = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        if os.environ.get("TF_FFM_WHEEL_BUILD") == "1":
            # A wheel for other machines: the lowest glibc/libstdc++ floor this
            # toolchain reaches (see the header).
            compat = ROOT / "build_tools" / "glibcxx_compat.h"
            cfg.append(f"-DCMAKE_CXX_FLAGS=-include {compat}")
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.run(cfg, check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--target",
                        ext.target, "-j", jobs], check=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_dir / ext.output, out)
        text = ("# Written by setup.py: what this build was compiled against.\n"
                f"TF_VERSION = {TF_VERSION!r}\nTF_MINOR = {TF_MINOR!r}\n"
                f"PYARROW_VERSION = {ARROW_VERSION!r}\nPYARROW_MAJOR = {ARROW_MAJOR!r}\n")
        targets = {out.parent}
        if self.inplace or getattr(self, "editable_mode", False):
            targets.add(ROOT / "tf_ffm")
        for d in targets:
            (d / "_build_info.py").write_text(text)


setup(
    name="tf-ffm",
    version=VERSION,
    description="Fast parallel TFRecord reading for TensorFlow from local, "
                "mounted (SageMaker Fast File Mode) and s3:// paths",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license_expression="Apache-2.0",  # PEP 639 (setuptools >= 77)
    license_files=["LICENSE"],
    keywords=["tensorflow", "tf.data", "tfrecord", "s3", "sagemaker", "fast file mode"],
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Developers",
        "Intended Audience :: Science/Research",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: C++",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: %d.%d" % sys.version_info[:2],
        "Programming Language :: Python :: Implementation :: CPython",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: System :: Filesystems",
    ],
    project_urls={"Source": PROJECT_URL} if PROJECT_URL else {},
    python_requires=PYTHON_REQUIRES,
    packages=find_packages(include=["tf_ffm", "tf_ffm.*"]),
    ext_modules=[
        CMakeExtension("tf_ffm._ffm_ops", target="_ffm_ops", output="_ffm_ops.so"),
        # pybind11_add_module names it with the interpreter's suffix.
        CMakeExtension("tf_ffm._engine", target="_engine",
                       output="_engine" + sysconfig.get_config_var("EXT_SUFFIX")),
    ],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=[
        f"pyarrow>={ARROW_MAJOR},<{ARROW_MAJOR + 1}",
        "numpy",
        "tqdm",
    ],
    extras_require={
        # One of these, or your own TensorFlow distribution of this minor.
        "tensorflow": [f"tensorflow=={TF_MINOR}.*"],
        "tensorflow-cpu": [f"tensorflow-cpu=={TF_MINOR}.*"],
        "bench": ["matplotlib"],
        "test": ["pytest", "moto[server]", "matplotlib"],
    },
    entry_points={"console_scripts": ["tf-ffm=tf_ffm.cli:main"]},
    zip_safe=False,
)
