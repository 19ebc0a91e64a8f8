"""The `tf-ffm` command line (also `python -m tf_ffm`): bench, index, ls,
cache, service.

Building the parser and `--help`/`--version` import no TensorFlow, and
neither do `ls` and `index`, which call the engine through tf_ffm._engine
(TensorFlow is imported only to raise an engine error as its tf.errors
class). Errors are one line on stderr, `tf-ffm COMMAND: ErrorClass: message`,
with exit status 1 (2 for usage errors and patterns that match nothing, 130
on Ctrl-C); `--debug` shows the traceback instead. Progress bars are drawn
only when stderr is a terminal.
"""
import argparse
import contextlib
import json
import os
import sys


def _progress_wanted(args):
    return not getattr(args, "quiet", False) and not getattr(args, "json", False) \
        and sys.stderr.isatty()


def _bench(args):
    from tf_ffm.bench import main as bench_main
    return bench_main.run(args)


def _service(args):
    from tf_ffm import service as service_main
    return service_main.run(args)


class _NoMatch(Exception):
    """A pattern matched nothing: a usage error (exit status 2)."""


def _expand(patterns, s3=None):
    from tf_ffm.s3 import glob

    files = []
    for pattern in patterns:
        matched = glob(pattern, s3=s3)
        if not matched:
            raise _NoMatch(f"no files match {pattern!r}")
        files.extend(matched)
    return files


def _index(args):
    from tf_ffm.index import RecordIndex

    files = _expand(args.patterns)
    index = RecordIndex.build(files, num_workers=args.workers,
                              progress=_progress_wanted(args))
    index.save(args.out)
    if args.json:
        _print_json({"out": args.out, "records": len(index), "files": index.files,
                     "bytes": int(sum(index.sizes))})
    else:
        print(f"indexed {len(index)} records in {len(index.files)} files -> {args.out}")
    return 0


def _ls(args):
    from tf_ffm.s3 import glob

    uris = glob(args.patterns)
    if args.json:
        _print_json({"patterns": args.patterns, "files": uris})
    else:
        for uri in uris:
            print(uri)
    return 0


def _cache(args):
    from tf_ffm import _engine

    directory = args.dir or os.environ.get("TF_FFM_CACHE_DIR")
    if not directory:
        raise ValueError("no cache directory: give DIR or set TF_FFM_CACHE_DIR")
    if args.action == "clear":
        freed = _engine.cache_clear(directory)
        result = {"dir": directory, "freed_bytes": freed}
        text = f"cleared {directory}: {freed / 2**20:.1f} MiB freed"
    else:
        entries, size, temps = _engine.cache_info(directory)
        result = {"dir": directory, "entries": entries, "bytes": size,
                  "temp_files": temps}
        text = (f"{directory}: {entries} blocks, {size / 2**20:.1f} MiB"
                + (f", {temps} temporary files" if temps else ""))
    if args.json:
        _print_json(result)
    else:
        print(text)
    return 0


def _print_json(value):
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


@contextlib.contextmanager
def _native_stderr_discarded(discard):
    """Runs the block with file descriptor 2 on /dev/null and sys.stderr on
    a copy of the real one: Python's messages (progress bars, warnings, the
    error line) are shown, while what native code writes there directly is
    not. For `ls` and `index`, whose only native output is the absl notice
    and oneDNN INFO line TensorFlow's libraries print when loaded (again
    when an error imports TensorFlow to raise its tf.errors class)."""
    if not discard:
        yield
        return
    sys.stderr.flush()
    original = sys.stderr
    real = os.fdopen(os.dup(2), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    sys.stderr = real
    try:
        yield
    finally:
        real.flush()
        os.dup2(real.fileno(), 2)
        sys.stderr = original
        real.close()
        os.close(devnull)


def _version_text():
    from tf_ffm import __version__, _loader

    info = _loader.build_info()
    built = ("a source checkout (not built by setup.py)" if info is None else
             f"built for TensorFlow {info[0]}"
             + (f", pyarrow {info[2]}" if info[2] else ""))
    return f"tf-ffm {__version__} ({built}; Python {sys.version.split()[0]})"


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version_text())
        parser.exit()


def _one_line(text):
    return " | ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _error_message(e):
    """`ErrorClass: message` on one line; an engine error (a tf.errors class,
    see tf_ffm/_errors.py) by its own message."""
    message = getattr(e, "message", None)
    if not isinstance(message, str):
        message = str(e)
    if isinstance(e, OSError) and e.filename and e.strerror:
        message = f"{e.strerror}: {e.filename}"
    return f"{type(e).__name__}: {_one_line(message)}" if message else type(e).__name__


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tf-ffm", description="Fast TFRecord reading for TensorFlow: "
        "list and index TFRecord files, benchmark readers, serve tf.data service.")
    parser.add_argument("--version", action=_Version,
                        help="print the version and the TensorFlow it was built for")
    parser.add_argument("--debug", action="store_true",
                        help="on error, show the Python traceback")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = sub.add_parser(
        "bench", help="compare FFMRecordDataset with tf.data.TFRecordDataset")
    from tf_ffm.bench import main as bench_main  # its options (no TensorFlow)
    bench_main.add_arguments(bench)
    bench.set_defaults(func=_bench)

    index = sub.add_parser("index", help="build a record index of TFRecord files")
    index.add_argument("patterns", nargs="+",
                       help="files, globs or s3://bucket/prefix/*.tfrecord")
    index.add_argument("--out", required=True, help="index path or s3:// URI")
    index.add_argument("--workers", type=int, default=8,
                       help="files scanned at once (default 8)")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.add_argument("--json", action="store_true",
                       help="print a JSON object (out, records, files, bytes)")
    index.set_defaults(func=_index, quiet_native=True)

    service = sub.add_parser(
        "service", help="run a tf.data service dispatcher or worker with tf_ffm ops")
    from tf_ffm import service as service_main  # its options (no TensorFlow)
    service_main.add_arguments(service)
    service.set_defaults(func=_service)

    ls = sub.add_parser("ls", help="list files matching local or s3:// patterns "
                        "(tf_ffm.glob rules)")
    ls.add_argument("patterns", nargs="+", metavar="pattern")
    ls.add_argument("--json", action="store_true",
                    help="print a JSON object (patterns, files)")
    ls.set_defaults(func=_ls, quiet_native=True)

    cache = sub.add_parser("cache", help="show or clear a local cache directory "
                           "(FFMRecordDataset's cache_dir)")
    cache.add_argument("action", choices=("show", "clear"))
    cache.add_argument("dir", nargs="?",
                       help="the cache directory (default $TF_FFM_CACHE_DIR)")
    cache.add_argument("--json", action="store_true",
                       help="print a JSON object")
    cache.set_defaults(func=_cache, quiet_native=True)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not sys.stderr.isatty():
        # tqdm's default for bars that do not choose (tf-ffm bench's), here
        # and in the processes it starts: no bar drawn into a file or pipe.
        os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        with _native_stderr_discarded(getattr(args, "quiet_native", False)
                                      and not args.debug):
            return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"tf-ffm {args.command}: interrupted", file=sys.stderr)
        return 130
    except _NoMatch as e:
        print(f"tf-ffm {args.command}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - every error becomes one line
        if args.debug:
            raise
        print(f"tf-ffm {args.command}: {_error_message(e)} (--debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
