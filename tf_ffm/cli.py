"""The `tf-ffm` command line: bench, index, ls.

`index` and `ls` call the engine through tf_ffm._engine and do not import
TensorFlow (it is imported only to raise an error); building the parser
imports no subcommand's heavy dependencies.
"""
import argparse
import sys


def _bench(args):
    from tf_ffm.bench import main as bench_main
    return bench_main.run(args)


def _index(args):
    from tf_ffm.index import RecordIndex
    from tf_ffm.s3 import glob

    files = []
    for pattern in args.patterns:
        matched = glob(pattern)
        if not matched:
            print(f"tf-ffm index: no files match {pattern!r}", file=sys.stderr)
            return 2
        files.extend(matched)
    index = RecordIndex.build(files, num_workers=args.workers,
                              progress=not args.quiet)
    index.save(args.out)
    print(f"indexed {len(index)} records in {len(index.files)} files -> {args.out}")
    return 0


def _ls(args):
    from tf_ffm.s3 import glob

    for uri in glob(args.pattern):
        print(uri)
    return 0


def _errors_as_messages(run):
    """Runs `run(args)`; an engine error (a tf.errors class, see
    tf_ffm/_errors.py) becomes one line on stderr and exit status 1."""
    def wrapped(args):
        try:
            return run(args)
        except Exception as e:  # noqa: BLE001 - only engine errors are caught
            tf = sys.modules.get("tensorflow")  # imported if it is one
            if tf is None or not isinstance(e, tf.errors.OpError):
                raise
            print(f"tf-ffm {args.command}: {type(e).__name__}: {e.message}",
                  file=sys.stderr)
            return 1
    return wrapped


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tf-ffm", description="Fast TFRecord reading for TensorFlow.")
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser(
        "bench", help="compare FFMRecordDataset with tf.data.TFRecordDataset")
    from tf_ffm.bench import main as bench_main
    bench_main.add_arguments(bench)
    bench.set_defaults(func=_bench)

    index = sub.add_parser("index", help="build a record index of TFRecord files")
    index.add_argument("patterns", nargs="+",
                       help="files, globs or s3://bucket/prefix/*.tfrecord")
    index.add_argument("--out", required=True, help="index path or s3:// URI")
    index.add_argument("--workers", type=int, default=8,
                       help="files scanned at once (default 8)")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.set_defaults(func=_errors_as_messages(_index))

    service = sub.add_parser(
        "service", help="run a tf.data service dispatcher or worker with tf_ffm ops")
    from tf_ffm import service as service_main
    service_main.add_arguments(service)
    service.set_defaults(func=service_main.run)

    ls = sub.add_parser("ls", help="list files matching a local or s3:// pattern")
    ls.add_argument("pattern")
    ls.set_defaults(func=_errors_as_messages(_ls))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
