"""tf.data service processes that can run FFMRecordDataset pipelines.

Workers execute the dataset graph they are sent and the dispatcher builds
it to hand out splits (files) in distributed_epoch mode, so both processes
must have the tf_ffm ops registered; these entry points do that. Start one dispatcher and any number of workers:

    tf-ffm service dispatcher --port 5050
    tf-ffm service worker --dispatcher localhost:5050 --port 5051

then in the training job:

    ds = tf_ffm.FFMRecordDataset(files)
    ds = ds.apply(tf.data.experimental.service.distribute(
        processing_mode="distributed_epoch", service="grpc://localhost:5050"))

`distributed_epoch` hands each file to one worker per epoch (each record is
produced once); `parallel_epochs` makes every worker produce the whole
dataset.
"""
from tf_ffm import _loader


def run_dispatcher(port, work_dir=None):
    """Runs a dispatcher on `port` until the process is stopped."""
    import tensorflow as tf  # here, so `tf-ffm ls` can build the parser without it

    _loader.ops()  # the dispatcher builds the graph to make split providers
    config = tf.data.experimental.service.DispatcherConfig(
        port=port, work_dir=work_dir, fault_tolerant_mode=bool(work_dir))
    server = tf.data.experimental.service.DispatchServer(config)
    server.join()


def run_worker(dispatcher_address, port, worker_address=None):
    """Runs a worker with the tf_ffm ops registered until stopped."""
    import tensorflow as tf

    _loader.ops()  # registers the op kernels this worker will execute
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=dispatcher_address, port=port,
        worker_address=worker_address or f"localhost:{port}")
    server = tf.data.experimental.service.WorkerServer(config)
    server.join()


def add_arguments(parser):
    sub = parser.add_subparsers(dest="role", required=True)
    dispatcher = sub.add_parser("dispatcher", help="run a tf.data service dispatcher")
    dispatcher.add_argument("--port", type=int, required=True)
    dispatcher.add_argument("--work-dir", default=None,
                            help="journal directory (enables fault tolerance)")
    worker = sub.add_parser("worker", help="run a worker that can read tf_ffm datasets")
    worker.add_argument("--dispatcher", required=True, help="host:port")
    worker.add_argument("--port", type=int, required=True)
    worker.add_argument("--address", default=None,
                        help="address the dispatcher gives clients (host:port)")


def run(args):
    if args.role == "dispatcher":
        run_dispatcher(args.port, args.work_dir)
    else:
        run_worker(args.dispatcher, args.port, args.address)
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tf_ffm.service")
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
