"""The `tf-ffm` command line: --help and --version without TensorFlow,
`python -m tf_ffm`, one-line errors with exit statuses, --debug, --json,
progress bars only on a terminal."""
import fcntl
import json
import os
import pty
import re
import socket
import struct
import subprocess
import sys
import termios

import pytest
import tensorflow as tf

import tf_ffm

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def tf_ffm_cmd(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "tf_ffm", *args], capture_output=True,
                          text=True, timeout=120, env=env or ENV, **kwargs)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    paths = []
    for f in range(3):
        path = str(root / f"part-{f}.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for r in range(10 + f):
                w.write(b"x" * (r + 1))
        paths.append(path)
    return paths


def test_help_and_version_load_neither_tensorflow_nor_its_libraries(tmp_path):
    code = """if True:
        import contextlib, io, sys
        from tf_ffm import cli
        for argv in (["--help"], ["--version"], ["ls", "--help"], ["index", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    cli.main(argv)
                except SystemExit as e:
                    assert e.code == 0, (argv, e.code)
        maps = open("/proc/self/maps").read()
        print([m for m in sys.modules if m.split(".")[0] == "tensorflow"],
              "libtensorflow_framework" in maps, "libarrow" in maps)
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=ENV, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] False False"
    assert done.stderr == ""  # not even the oneDNN INFO line


def test_version_and_python_dash_m():
    done = tf_ffm_cmd("--version")
    assert done.returncode == 0 and done.stderr == ""
    built = tf_ffm._loader.build_info()
    assert re.fullmatch(
        rf"tf-ffm {re.escape(tf_ffm.__version__)} \(built for TensorFlow "
        rf"{re.escape(built[0])}.*; Python {sys.version.split()[0]}\)\n", done.stdout)
    # The console script is the same command.
    script = os.path.join(os.path.dirname(sys.executable), "tf-ffm")
    if os.path.exists(script):
        assert subprocess.run([script, "--version"], capture_output=True, text=True,
                              env=ENV, timeout=60).stdout == done.stdout


def test_ls_plain_and_json(files):
    pattern = os.path.join(os.path.dirname(files[0]), "part-*.tfrecord")
    done = tf_ffm_cmd("ls", pattern)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == files
    done = tf_ffm_cmd("ls", "--json", pattern, files[0])
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout) == {"patterns": [pattern, files[0]],
                                       "files": files + files[:1]}


def test_index_json_and_no_progress_bar_into_a_pipe(files, tmp_path):
    out = str(tmp_path / "cli.idx")
    done = tf_ffm_cmd("index", *files, "--out", out, "--json")
    assert done.returncode == 0 and done.stderr == ""
    assert json.loads(done.stdout) == {
        "out": out, "records": 33, "files": files,
        "bytes": sum(os.path.getsize(f) for f in files)}
    assert tf_ffm.RecordIndex.load(out).serialized == \
        tf_ffm.RecordIndex.build(files, progress=False).serialized
    # Without --json and --quiet, stderr is a pipe here: no bar drawn.
    done = tf_ffm_cmd("index", *files, "--out", out)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"indexed 33 records in 3 files -> {out}\n"


def test_progress_bar_on_a_terminal(files, tmp_path):
    controller, terminal = pty.openpty()
    # 24 x 80 characters (a new pseudo-terminal has 0 columns: no room to draw).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tf_ffm", "index", *files, "--out",
             str(tmp_path / "tty.idx")], stdout=subprocess.PIPE, stderr=terminal,
            text=True, timeout=120, env=ENV)
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    assert b"indexing" in drawn and b"3/3" in drawn, drawn


def _one_error_line(done, command, error):
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"tf-ffm {command}: {error}: "), lines[0]
    assert lines[0].endswith(" (--debug for the traceback)")
    return lines[0]


def test_corrupt_file_is_one_line_data_loss_error(tmp_path):
    path = tmp_path / "corrupt.tfrecord"
    path.write_bytes(b"this is not a TFRecord file, not at all")
    done = tf_ffm_cmd("index", str(path), "--out", str(tmp_path / "x.idx"))
    line = _one_error_line(done, "index", "DataLossError")
    assert str(path) in line and "byte offset 0" in line


def test_unreachable_endpoint_is_one_line_unavailable_error(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in ENV.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="k",
               AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1", AWS_MAX_ATTEMPTS="1",
               AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    done = tf_ffm_cmd("ls", "s3://bucket/data/*.tfrecord", env=env)
    line = _one_error_line(done, "ls", "UnavailableError")
    assert "s3://bucket/data" in line and f"127.0.0.1:{port}" in line


def test_usage_errors_and_debug(tmp_path):
    done = tf_ffm_cmd("ls", "s3://bucket/*/a.tfrecord")
    line = _one_error_line(done, "ls", "ValueError")
    assert "last path component" in line
    done = tf_ffm_cmd("--debug", "ls", "s3://bucket/*/a.tfrecord")
    assert done.returncode == 1
    assert "Traceback (most recent call last):" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("ValueError: 's3://bucket/*/a")
    done = tf_ffm_cmd("index", str(tmp_path / "none-*.tfrecord"), "--out", "x.idx")
    assert done.returncode == 2
    assert done.stderr == f"tf-ffm index: no files match {str(tmp_path / 'none-*.tfrecord')!r}\n"
    done = tf_ffm_cmd("no-such-command")
    assert done.returncode == 2 and "invalid choice: 'no-such-command'" in done.stderr
    done = tf_ffm_cmd("index", "a.tfrecord")
    assert done.returncode == 2 and "--out" in done.stderr
