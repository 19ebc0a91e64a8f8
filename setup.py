"""Builds tf-ffm: CMake compiles the TensorFlow op library and the pybind11
engine module (tf_ffm._engine) into tf_ffm/.

The wheel is tied to the TensorFlow minor version it was compiled against
(the op ABI is not stable across minors); tf_ffm/_build_info.py records it.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


def _tf_minor():
    import tensorflow as tf  # the build environment's TF decides the pin

    major, minor = tf.__version__.split(".")[:2]
    return f"{major}.{minor}", tf.__version__


def _pyarrow_major():
    import pyarrow  # the op links libarrow.so.<major>00 from this pyarrow

    return pyarrow.__version__.split(".")[0]


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
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.run(cfg, check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--target",
                        ext.target, "-j", jobs], check=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_dir / ext.output, out)
        minor, full = _tf_minor()
        text = ("# Written by setup.py: the TensorFlow this build was compiled "
                f"against.\nTF_VERSION = {full!r}\nTF_MINOR = {minor!r}\n")
        targets = {out.parent}
        if self.inplace or getattr(self, "editable_mode", False):
            targets.add(ROOT / "tf_ffm")
        for d in targets:
            (d / "_build_info.py").write_text(text)


if os.environ.get("TF_FFM_SDIST") == "1":  # metadata only, no TF or pyarrow needed
    minor, arrow_major = "2.21", "26"
else:
    minor, arrow_major = _tf_minor()[0], _pyarrow_major()

setup(
    name="tf-ffm",
    version="0.1.0",
    description="Fast parallel TFRecord reading for TensorFlow from local, "
                "mounted (SageMaker Fast File Mode) and s3:// paths",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["tf_ffm", "tf_ffm.*"]),
    ext_modules=[
        CMakeExtension("tf_ffm._ffm_ops", target="_ffm_ops", output="_ffm_ops.so"),
        # pybind11_add_module names it with the interpreter's suffix.
        CMakeExtension("tf_ffm._engine", target="_engine",
                       output="_engine" + sysconfig.get_config_var("EXT_SUFFIX")),
    ],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=[
        f"tensorflow-cpu=={minor}.*",
        f"pyarrow=={arrow_major}.*",
        "numpy",
        "tqdm",
    ],
    extras_require={
        "bench": ["matplotlib"],
        "test": ["pytest", "moto[server]", "matplotlib"],
    },
    entry_points={"console_scripts": ["tf-ffm=tf_ffm.cli:main"]},
    zip_safe=False,
)
