"""`import tf_ffm` registers the ops, whichever of tf_ffm and TensorFlow is
imported first: fresh processes that import nothing else of tf_ffm load a
serialised FFMRecordDataset graph and a SavedModel that uses the op, and
stock tf.data service DispatchServer/WorkerServer processes serve
FFMRecordDataset pipelines (the dispatcher builds the graph to make splits
in distributed_epoch mode, so it needs the op too)."""
import collections
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

import tf_ffm

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("registration")
    files = []
    for f in range(3):
        path = str(root / f"part-{f}.tfrecord")
        with tf.io.TFRecordWriter(path) as w:
            for r in range(20 + f):
                w.write(f"file{f}-record{r}".encode() * (1 + r % 3))
        files.append(path)
    expected = [r.numpy() for r in tf.data.TFRecordDataset(files)]

    graph = root / "dataset_graph.pb"
    graph.write_bytes(tf_ffm.FFMRecordDataset(files, num_parallel_reads=2)
                      ._as_serialized_graph().numpy())

    class Reader(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def read(self, names):
            ds = tf_ffm.FFMRecordDataset(names)
            return ds.batch(1_000_000).get_single_element()

    saved_model = str(root / "saved_model")
    tf.saved_model.save(Reader(), saved_model)
    return root, files, expected, str(graph), saved_model


def _python(code, *args, **kwargs):
    """Runs `code` (a list of snippets, each dedented) in a fresh process."""
    code = "".join(textwrap.dedent(part) for part in code)
    return subprocess.Popen([sys.executable, "-c", code, *args],
                            env=ENV, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


LOAD_BOTH = """
    from tensorflow.python.data.ops import dataset_ops
    graph = open(sys.argv[1], "rb").read()
    ds = dataset_ops.from_variant(tf.raw_ops.DatasetFromGraph(graph_def=graph),
                                  tf.TensorSpec([], tf.string))
    print("graph", [r.hex() for r in ds.as_numpy_iterator()])
    model = tf.saved_model.load(sys.argv[2])
    files = tf.constant(sys.argv[3:])
    print("saved_model", [r.hex() for r in model.read(files).numpy()])
"""


def _parse(stdout):
    out = {}
    for line in stdout.splitlines():
        key, _, rest = line.partition(" ")
        if key in ("graph", "saved_model", "before", "after"):
            out[key] = eval(rest)  # noqa: S307 - our own subprocess's repr
    return out


def test_import_tf_ffm_then_tensorflow_loads_graph_and_saved_model(data):
    root, files, expected, graph, saved_model = data
    proc = _python(["""
        import sys
        import tf_ffm
        print("before", ["tensorflow" in sys.modules, tf_ffm._loader.ops_registered()])
        import tensorflow as tf
        print("after", [sorted(m for m in sys.modules if m.startswith("tf_ffm.")
                               and m not in ("tf_ffm._loader", "tf_ffm._build_info",
                                            "tf_ffm._allocator")),
                        tf_ffm._loader.ops_registered()])
    """, LOAD_BOTH], graph, saved_model, *files)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    got = _parse(stdout)
    # tf_ffm did not import TensorFlow; TensorFlow's import registered the
    # op, with no tf_ffm module but the loader (and the malloc setting)
    # imported.
    assert got["before"] == [False, False]
    assert got["after"] == [[], True]
    # The graph reads with num_parallel_reads=2: files interleaved.
    stock_n2 = [r.numpy().hex() for r in tf.data.TFRecordDataset(files, num_parallel_reads=2)]
    assert got["graph"] == stock_n2
    assert got["saved_model"] == [r.hex() for r in expected]


SERVICE = """
    import sys
    import tensorflow as tf
    import tf_ffm
    service = tf.data.experimental.service
    dispatcher = service.DispatchServer(service.DispatcherConfig(port=0))
    address = dispatcher.target.split("://")[1]
    workers = [service.WorkerServer(service.WorkerConfig(dispatcher_address=address,
                                                         port=0))
               for _ in range(2)]
    print("after", [sorted(m for m in sys.modules if m.startswith("tf_ffm.")
                               and m not in ("tf_ffm._loader", "tf_ffm._build_info",
                                            "tf_ffm._allocator")),
                    tf_ffm._loader.ops_registered()])
    print("target", dispatcher.target, flush=True)
    sys.stdin.read()  # serve until the test closes stdin
"""


def test_tensorflow_then_tf_ffm_serves_tf_data_service(data):
    root, files, expected, graph, saved_model = data
    proc = _python([SERVICE], stdin=subprocess.PIPE)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("target "):
                break
        assert lines and lines[-1].startswith("target "), proc.stderr.read()[-3000:]
        target = lines[-1].split()[1]
        assert _parse("".join(lines))["after"] == [[], True]

        def distributed(mode, job):
            ds = tf_ffm.FFMRecordDataset(files, num_parallel_reads=2)
            ds = ds.apply(tf.data.experimental.service.distribute(
                processing_mode=mode, service=target, job_name=job))
            return collections.Counter(r.numpy() for r in ds)

        once = collections.Counter(expected)
        assert distributed("distributed_epoch", "registration-dist") == once
        assert distributed("parallel_epochs", "registration-par") == once + once
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_tensorflow_then_tf_ffm_loads_saved_model(data):
    root, files, expected, graph, saved_model = data
    proc = _python(["""
        import sys
        import tensorflow as tf
        import tf_ffm
    """, LOAD_BOTH], graph, saved_model, *files)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert _parse(stdout)["saved_model"] == [r.hex() for r in expected]


def test_version_mismatch_errors_name_both_versions_and_the_fix(monkeypatch):
    from tf_ffm import _loader

    running = tf.__version__
    monkeypatch.setattr(_loader, "build_info", lambda: ("2.19.1", "2.19", 25))
    with pytest.raises(ImportError) as e:
        _loader.check_environment()
    message = str(e.value)
    assert f"built for TensorFlow 2.19.1 but TensorFlow {running} is installed" in message
    assert 'pip install "tensorflow==2.19.*"' in message
    assert "--no-binary tf-ffm --no-build-isolation" in message

    major = int(__import__("pyarrow").__version__.split(".")[0])
    built_minor = ".".join(running.split(".")[:2])
    monkeypatch.setattr(_loader, "build_info", lambda: (running, built_minor, major - 1))
    with pytest.raises(ImportError) as e:
        _loader.check_environment()
    message = str(e.value)
    assert f"built against pyarrow {major - 1} (it links libarrow.so.{major - 1}00)" in message
    assert f'pip install "pyarrow=={major - 1}.*"' in message
