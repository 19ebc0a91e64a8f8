"""tf_ffm._engine, the pybind11 module: index arrays are views of the engine's
vectors, offsets are the engine's, the GIL is released during I/O, engine
errors arrive as tf.errors classes, and neither the module nor `tf-ffm ls` /
`tf-ffm index` imports TensorFlow."""
import http.server
import os
import pickle
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import tensorflow as tf

import tf_ffm
from tf_ffm import _engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytest_plugins = ["s3_server"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    rng = np.random.default_rng(3)
    paths = []
    for f, n in enumerate([30, 0, 17]):
        path = str(root / f"part-{f}.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for _ in range(n):
                w.write(rng.bytes(int(rng.integers(0, 2000))))
        paths.append(path)
    return paths


def test_framing_size_is_the_formats():
    assert _engine.FRAMING_SIZE == 16 and _engine.HEADER_SIZE == 12


def test_lengths_and_offsets_are_read_only_arrays_made_on_demand(files):
    # The engine keeps only offsets (in the serialised index); the columns
    # are made when asked for, so an index opened in place costs nothing
    # per record until then.
    idx = _engine.Index.build(files, progress=None)
    lengths, offsets = idx.lengths, idx.offsets
    for a in (lengths, offsets):
        assert a.dtype == np.int64 and len(a) == len(idx) == 47
        assert not a.flags.writeable
        with pytest.raises(ValueError):
            a[0] = 1
    np.testing.assert_array_equal(idx.lengths, lengths)
    # Offsets restart at 0 in each file and step by the framed length.
    start = 0
    for count in idx.counts:
        seg_len, seg_off = lengths[start:start + count], offsets[start:start + count]
        if count:
            assert seg_off[0] == 0
            np.testing.assert_array_equal(np.diff(seg_off), seg_len[:-1] + 16)
        start += count
    wrapped = tf_ffm.RecordIndex.build(files, progress=False)
    assert wrapped.lengths is wrapped.lengths  # made once per RecordIndex
    np.testing.assert_array_equal(wrapped.lengths, lengths)


def test_views_keep_the_index_alive(files):
    lengths = _engine.Index.build(files).lengths
    expected = lengths.copy()
    import gc
    gc.collect()
    np.testing.assert_array_equal(lengths, expected)


def test_offsets_are_per_file_prefix_sums_of_framed_lengths(files):
    idx = tf_ffm.RecordIndex.build(files, progress=False)
    start = 0
    for count in idx.counts:
        framed = idx.lengths[start:start + count] + _engine.FRAMING_SIZE
        want = np.concatenate([[0], np.cumsum(framed)[:-1]]) if count else framed
        np.testing.assert_array_equal(idx.offsets[start:start + count], want)
        start += count
    for i in (0, 29, 30, 46, -1):
        path, offset, length = idx[i]
        with open(path, "rb") as f:
            f.seek(offset)
            assert int.from_bytes(f.read(8), "little") == length
    assert idx[30][0] == files[2] and idx[30][1] == 0  # the empty file is passed over


def test_locate_and_columns(files):
    idx = _engine.Index.build(files)
    assert idx.files == files
    np.testing.assert_array_equal(idx.counts, [30, 0, 17])
    np.testing.assert_array_equal(idx.sizes, [os.path.getsize(f) for f in files])
    assert all(idx.mtimes_ns > 0)
    assert idx.locate(30) == (2, 0, int(idx.lengths[30]))
    with pytest.raises(IndexError):
        idx.locate(47)
    with pytest.raises(IndexError):
        idx.locate(-1)


def test_parse_serialize_round_trip_and_pickle(files):
    built = _engine.Index.build(files)
    data = built.serialize()
    parsed = _engine.Index.parse(data, "x.idx")
    assert parsed.serialize() == data
    np.testing.assert_array_equal(parsed.offsets, built.offsets)
    wrapped = tf_ffm.RecordIndex(data)
    assert pickle.loads(pickle.dumps(wrapped)).serialized == data


def test_build_reports_progress_and_stops_on_a_callback_error(files):
    seen = []
    _engine.Index.build(files * 3, num_workers=2, progress=seen.append)
    assert sum(seen) == 9 and all(n > 0 for n in seen)

    class Stop(Exception):
        pass

    def stop(_):
        raise Stop()

    with pytest.raises(Stop):
        _engine.Index.build(files * 20, num_workers=1, progress=stop)


def test_engine_errors_are_tf_errors_naming_the_uri(files, tmp_path):
    missing = str(tmp_path / "missing.tfrecord")
    with pytest.raises(tf.errors.NotFoundError, match="missing.tfrecord"):
        _engine.read_whole(missing)
    with pytest.raises(tf.errors.NotFoundError, match="missing.tfrecord"):
        _engine.Index.build([files[0], missing])
    with pytest.raises(tf.errors.DataLossError, match="garbage.idx"):
        _engine.Index.parse(b"not an index at all, just bytes", "garbage.idx")
    with pytest.raises(tf.errors.InvalidArgumentError, match="differ in length"):
        _engine.Index.create(["a"], [1, 2], [0], [0], [])
    with pytest.raises(tf.errors.InvalidArgumentError, match="storage options"):
        _engine.list("s3://bucket/*", "gs.project=x")
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(open(files[0], "rb").read()[:100])
    with pytest.raises(tf.errors.DataLossError, match="bad.tfrecord"):
        _engine.Index.build([str(bad)])


def test_stats_count_index_builds_and_dataset_reads(files):
    before = tf_ffm.stats()
    tf_ffm.RecordIndex.build(files, progress=False)  # the module's engine
    middle = tf_ffm.stats()
    assert sum(1 for _ in tf_ffm.FFMRecordDataset(files)) == 47  # the op library's
    after = tf_ffm.stats()
    size = sum(os.path.getsize(f) for f in files)
    assert middle["bytes_read"] - before["bytes_read"] == size
    assert after["bytes_read"] - middle["bytes_read"] == size
    assert list(after) == list(tf_ffm.metrics.FIELDS)


# --- the GIL ----------------------------------------------------------------

class _S3Handler(http.server.BaseHTTPRequestHandler):
    """Just enough of S3 for one object: HEAD, ranged GET, ListObjectsV2.
    It runs in a Python thread of this process, so an engine call that held
    the GIL while waiting for it could never be answered."""
    protocol_version = "HTTP/1.1"
    body = b""

    def log_message(self, *args):
        pass

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self._send(200, self.body, [("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
                                    ("ETag", '"e"')])

    def do_GET(self):
        if "list-type=2" in self.path:
            xml = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
                   'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>gil-test</Name>'
                   '<Prefix>d/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>'
                   '<IsTruncated>false</IsTruncated><Contents><Key>d/a.tfrecord</Key>'
                   '<LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>"e"</ETag>'
                   f'<Size>{len(self.body)}</Size><StorageClass>STANDARD</StorageClass>'
                   '</Contents></ListBucketResult>')
            return self._send(200, xml.encode(), [("Content-Type", "application/xml")])
        first, _, last = self.headers.get("Range", "bytes=0-").split("=")[1].partition("-")
        end = min(int(last) + 1 if last else len(self.body), len(self.body))
        self._send(206, self.body[int(first):end],
                   [("Content-Range", f"bytes {first}-{end - 1}/{len(self.body)}")])


@pytest.fixture
def python_s3(files):
    _S3Handler.body = open(files[0], "rb").read()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _S3Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = tf_ffm.S3Options(
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}", region="us-east-1",
        anonymous=True, max_attempts=1, request_timeout=20)
    yield options.to_attr()
    server.shutdown()
    server.server_close()


def test_io_runs_without_the_gil(python_s3, files):
    """Listing, reading and scanning over a server that needs the GIL to
    answer: each call completes only if it released the GIL while waiting."""
    ticks = []
    stop = threading.Event()

    def tick():  # a Python thread that keeps running meanwhile
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        assert _engine.list("s3://gil-test/d/*.tfrecord", python_s3) == ["s3://gil-test/d/a.tfrecord"]
        assert _engine.read_whole("s3://gil-test/d/a.tfrecord", python_s3) == _S3Handler.body
        idx = _engine.Index.build(["s3://gil-test/d/a.tfrecord"] * 4, python_s3, num_workers=4)
        assert len(idx) == 4 * 30
        assert _engine.stat("s3://gil-test/d/a.tfrecord", python_s3)[0] == len(_S3Handler.body)
    finally:
        stop.set()
        ticker.join()
    assert ticks


def test_a_scan_in_one_thread_lets_another_thread_run(tmp_path):
    """A FIFO blocks the engine's open() until a writer comes; the writer is
    this (Python) thread, which can only run if the engine let go of the GIL.
    Runs in a child process so that a held GIL fails by timeout, not hang."""
    code = textwrap.dedent(f"""
        import os, threading, time
        from tf_ffm import _engine
        fifo = {str(tmp_path / "fifo")!r}
        os.mkfifo(fifo)
        entered, out = threading.Event(), {{}}
        def scan():
            entered.set()
            try:
                out["index"] = _engine.Index.build([fifo])
            except Exception as e:
                out["error"] = e
        t = threading.Thread(target=scan)
        t.start()
        entered.wait()
        time.sleep(0.5)  # the scan is blocked in open() by now
        n, deadline = 0, time.monotonic() + 0.2
        while time.monotonic() < deadline:
            n += 1  # Python bytecode: needs the GIL
        with open(fifo, "wb") as f:
            f.write(b"")
        t.join()
        print("ran", n, sorted(out))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ran "), done.stdout


@pytest.mark.parametrize("order", ["engine-first", "ops-first"])
def test_a_process_using_s3_from_both_libraries_exits_cleanly(moto_s3, files, order):
    """The module and the op library each hold S3 clients (the engine is
    linked into both); Arrow's S3 layer is finalised once at exit, whichever
    library made a client first."""
    client = moto_s3.client()
    client.create_bucket(Bucket="engine-exit")
    with open(files[0], "rb") as f:
        client.put_object(Bucket="engine-exit", Key="d/a.tfrecord", Body=f.read())
    steps = ['assert tf_ffm.glob("s3://engine-exit/d/*") == ["s3://engine-exit/d/a.tfrecord"]',
             'assert sum(1 for _ in tf_ffm.FFMRecordDataset("s3://engine-exit/d/a.tfrecord")) == 30']
    if order == "ops-first":
        steps.reverse()
    code = "import tensorflow as tf, tf_ffm\n" + "\n".join(steps) + "\nprint('done')\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-3000:]


# --- no TensorFlow ------------------------------------------------------------

def _run_without_tf(code, tmp_path):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_module_does_not_import_tensorflow(tmp_path):
    out = _run_without_tf("""
        import sys
        import tf_ffm._engine
        import tf_ffm.index, tf_ffm.s3, tf_ffm.metrics
        print(sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow"))
    """, tmp_path)
    assert out.strip() == "[]"


def test_cli_index_and_ls_run_without_tensorflow(files, tmp_path):
    out_path = tmp_path / "cli.idx"
    pattern = os.path.join(os.path.dirname(files[0]), "*.tfrecord")
    out = _run_without_tf(f"""
        import sys
        from tf_ffm import cli
        assert cli.main(["ls", {pattern!r}]) == 0
        assert cli.main(["index", {pattern!r}, "--out", {str(out_path)!r}, "--quiet"]) == 0
        print("tf:", sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow"))
    """, tmp_path)
    assert out.splitlines()[:3] == files
    assert out.splitlines()[-1] == "tf: []"
    assert tf_ffm.RecordIndex.load(out_path).serialized == \
        tf_ffm.RecordIndex.build(files, progress=False).serialized


def test_cli_reports_an_engine_error_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tf_ffm.cli", "index", str(tmp_path / "no-such.tfrecord"),
         "--out", str(tmp_path / "x.idx")],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.returncode == 2 and "no files match" in done.stderr
    missing_out = str(tmp_path / "no-dir" / "x.idx")
    path = tmp_path / "one.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as w:
        w.write(b"x")
    done = subprocess.run(
        [sys.executable, "-m", "tf_ffm.cli", "index", str(path), "--out", missing_out,
         "--quiet"], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.returncode == 1, done.stderr
    assert "tf-ffm index: NotFoundError:" in done.stderr and missing_out in done.stderr
