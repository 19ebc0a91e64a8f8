"""The `tf-ffm` command line: bench, index, ls."""
import argparse
import sys


def _bench(args):
    from tf_ffm.bench import main as bench_main
    return bench_main.run(args)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tf-ffm", description="Fast TFRecord reading for TensorFlow.")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "bench", help="compare FFMRecordDataset with tf.data.TFRecordDataset")
    from tf_ffm.bench import main as bench_main
    bench_main.add_arguments(bench)
    bench.set_defaults(func=_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
