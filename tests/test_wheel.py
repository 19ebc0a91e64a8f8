"""Packaging: the sdist's name, metadata and contents (always, ~5 s: no
compile), and the opt-in wheel check (TF_FFM_TEST_WHEEL=1: compiles the
op from the sdist, repairs the wheel to a manylinux tag and smoke-tests it
in clean venvs with `tensorflow` and with `tensorflow-cpu`; downloads
~1.5 GB and takes tens of minutes)."""
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import tf_ffm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = tf_ffm.__version__


def _metadata(text):
    return email.parser.Parser().parsestr(text)


def _check_metadata(meta, tf_minor, arrow_major):
    assert meta["Name"] == "tf-ffm" and meta["Version"] == VERSION
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in meta.get_all("License-File")
    requires = meta.get_all("Requires-Dist")
    # No TensorFlow distribution without an extra: it is the user's choice.
    plain = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith(("tensorflow", "tf-nightly")) for r in plain), plain
    assert f"pyarrow<{arrow_major + 1},>={arrow_major}" in plain, plain
    assert {"tensorflow", "tensorflow-cpu"} <= set(meta.get_all("Provides-Extra"))
    assert f'tensorflow=={tf_minor}.*; extra == "tensorflow"' in requires, requires
    assert f'tensorflow-cpu=={tf_minor}.*; extra == "tensorflow-cpu"' in requires
    assert meta["Requires-Python"] == ">=3.11"  # pyarrow 26's floor
    assert "Operating System :: POSIX :: Linux" in meta.get_all("Classifier")


def test_sdist_name_metadata_and_contents(tmp_path):
    # From a copy of the tree: building writes tf_ffm.egg-info beside setup.py.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "bench-out", "*.so", "__pycache__",
        "*.egg-info", ".pytest_cache"))
    done = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation",
                           "--outdir", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert os.listdir(tmp_path / "dist") == [f"tf_ffm-{VERSION}.tar.gz"]  # PEP 625
    with tarfile.open(tmp_path / "dist" / f"tf_ffm-{VERSION}.tar.gz") as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        meta = _metadata(tar.extractfile(f"tf_ffm-{VERSION}/PKG-INFO").read().decode())
    for needed in ("LICENSE", "README.md", "CMakeLists.txt", "setup.py", "pyproject.toml",
                   "build_tools/tf_build_info.py", "build_tools/arrow_build_info.py",
                   "build_tools/glibcxx_compat.h", "cc/ops/ffm_ops.cc",
                   "cc/python/engine_module.cc", "tf_ffm/__init__.py", "tf_ffm/cli.py"):
        assert needed in names, needed
    assert not any(n.endswith(".so") or n.endswith("_build_info.py") and n.startswith("tf_ffm/")
                   for n in names)
    import pyarrow
    import tensorflow as tf
    _check_metadata(meta, ".".join(tf.__version__.split(".")[:2]),
                    int(pyarrow.__version__.split(".")[0]))


@pytest.mark.skipif(os.environ.get("TF_FFM_TEST_WHEEL") != "1",
                    reason="set TF_FFM_TEST_WHEEL=1 to build and smoke-test the wheel "
                           "(compiles the op, downloads ~1.5 GB, takes tens of minutes)")
def test_wheel_builds_repairs_installs_and_reads(tmp_path):
    env = dict(os.environ, TF_FFM_DIST=str(tmp_path / "dist"),
               TF_FFM_VENV=os.environ.get("TF_FFM_VENV", sys.prefix))

    def script(name):
        done = subprocess.run(["bash", os.path.join(ROOT, "build_tools", name)], env=env,
                              capture_output=True, text=True, timeout=7200)
        assert done.returncode == 0, (
            f"{name} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
            f"\n--- stderr\n{done.stderr[-4000:]}")
        return done

    script("build_wheel.sh")
    wheels = sorted(p.name for p in (tmp_path / "dist").glob("*.whl"))
    py = "cp%d%d" % sys.version_info[:2]
    assert len(wheels) == 1 and re.fullmatch(
        rf"tf_ffm-{re.escape(VERSION)}-{py}-{py}-manylinux_2_(\d+)_x86_64\.whl", wheels[0]), wheels
    with zipfile.ZipFile(tmp_path / "dist" / wheels[0]) as whl:
        meta = _metadata(whl.read(f"tf_ffm-{VERSION}.dist-info/METADATA").decode())
        names = whl.namelist()
    assert not any(".libs/" in n for n in names), "auditwheel grafted libraries in"
    import pyarrow
    import tensorflow as tf
    _check_metadata(meta, ".".join(tf.__version__.split(".")[:2]),
                    int(pyarrow.__version__.split(".")[0]))
    done = script("smoke_wheel.sh")
    assert done.stdout.count("OK: tf_ffm") == 2, done.stdout[-4000:]
