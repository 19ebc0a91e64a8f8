"""S3 settings and listing. Credentials come from the standard AWS chain."""
import ctypes
import dataclasses
import os
import sys
from typing import Optional

from tf_ffm import _engine


@dataclasses.dataclass(frozen=True)
class S3Options:
    """Explicit S3 settings; each field left None keeps the environment's.

    Defaults follow the standard AWS configuration: AWS_ENDPOINT_URL_S3 /
    AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, AWS_CA_BUNDLE,
    AWS_MAX_ATTEMPTS, and for credentials the SDK's chain (AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE and the shared
    config files, container and instance roles as on SageMaker).

    An endpoint selects path-style addressing (s3://bucket/key is sent as
    /bucket/key), as S3-compatible servers expect.
    """

    endpoint_url: Optional[str] = None     # "http(s)://host[:port]"
    region: Optional[str] = None
    anonymous: Optional[bool] = None       # unsigned requests (public data)
    ca_file: Optional[str] = None          # PEM bundle for a private CA
    verify_tls: Optional[bool] = None      # keep True outside tests
    # Attempts per request (a ranged GET, an open's HEAD, a listing), the first
    # one included (default 10, or AWS_MAX_ATTEMPTS). The AWS SDK does not
    # retry on its own: every attempt is tf-ffm's, with exponential backoff
    # and full jitter.
    max_attempts: Optional[int] = None
    connect_timeout: Optional[float] = None  # seconds (default 10)
    # Stall timeout, seconds (default 15): a request that receives nothing
    # for this long is abandoned and retried within the same budget (curl's
    # low-speed limit, whole seconds).
    request_timeout: Optional[float] = None
    # Seconds for one request, retries included (default 30): no new attempt
    # starts past it, so a dead endpoint fails within about this long.
    read_deadline: Optional[float] = None
    # A local directory caching the objects' bytes across epochs, iterators
    # and processes (default $TF_FFM_CACHE_DIR; None there too: no cache),
    # bounded by cache_size bytes (default $TF_FFM_CACHE_SIZE or 10 GiB).
    # See README, "Local cache".
    cache_dir: Optional[str] = None
    cache_size: Optional[int] = None

    def to_attr(self) -> str:
        """The `s3.key=value;...` storage options the ops take (no secrets:
        none are held); the cache fields as `cache.dir`, `cache.size`."""
        parts = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            group, key = ("cache", field.name[len("cache_"):]) \
                if field.name.startswith("cache_") else ("s3", field.name)
            parts.append(_option(group, key, value, f"S3Options.{field.name}"))
        return ";".join(parts)


def _option(group, key, value, what):
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if ";" in text:
        raise ValueError(f"{what} may not contain ';'")
    return f"{group}.{key}={text}"


def storage_attr(s3, cache_dir=None, cache_size=None, cache_mounts=None) -> str:
    """The ops' `storage_options` attr for these settings; the cache_*
    arguments (FFMRecordDataset's) win over the S3Options' fields."""
    if s3 is not None and not isinstance(s3, S3Options):
        raise TypeError(f"s3 must be a tf_ffm.S3Options, got {type(s3).__name__}")
    if cache_size is not None and (isinstance(cache_size, bool) or
                                   not isinstance(cache_size, int) or cache_size < 0):
        raise ValueError(f"cache_size must be a number of bytes >= 0, got {cache_size!r}")
    if s3 is not None:
        s3 = dataclasses.replace(
            s3, cache_dir=s3.cache_dir if cache_dir is None else cache_dir,
            cache_size=s3.cache_size if cache_size is None else cache_size)
    elif cache_dir is not None or cache_size is not None:
        s3 = S3Options(cache_dir=cache_dir, cache_size=cache_size)
    parts = [] if s3 is None else [s3.to_attr()]
    if cache_mounts is not None:
        parts.append(_option("cache", "mounts", bool(cache_mounts), "cache_mounts"))
    return ";".join(p for p in parts if p)


def s3_supported() -> bool:
    """Whether this build reads s3:// URIs (it always does; kept for callers)."""
    return True


def glob(pattern, s3: Optional[S3Options] = None):
    """Paths or s3:// URIs matching `pattern`, as `tf.io.gfile.glob` matches.

    `pattern` is a str, bytes or os.PathLike, or an iterable of them (the
    results of each pattern in turn, duplicates kept); results are str.

    Local and mounted paths (and file:// URIs) follow tf.io.gfile.glob: POSIX
    fnmatch on the whole path with `*`, `?`, `[...]` (`[!...]`, `[^...]`)
    and backslash escapes, wildcards in any component, a `*` never crossing
    a `/`; dotfiles match `*`; matching directories are returned too; a
    pattern without wildcards returns itself if it exists; a relative
    pattern keeps its form (`./d/*` gives `./d/a`, and, as TensorFlow does,
    `*/a` gives `./d/a`). Deliberate differences: each pattern's results
    are sorted (TensorFlow's come in directory order), and a single bytes
    pattern is accepted (TensorFlow iterates it as a list of ints).

    s3:// URIs follow the same rules, with wildcards in the last path
    component only (s3://bucket/train/*.tfrecord; ValueError otherwise),
    listed with ListObjectsV2; objects only (S3 has no directories).
    """
    patterns = _patterns(pattern)
    tf = sys.modules.get("tensorflow")  # inside a tf.function, TF is imported
    if any(p.startswith("s3://") for p in patterns):
        for p in patterns:
            if p.startswith("s3://"):
                _check_s3_pattern(p)
        attr = storage_attr(s3)
        if tf is not None and not tf.executing_eagerly():
            # In a graph, list when the graph runs, not once when it is traced.
            uris = tf.py_function(
                lambda: tf.constant(_glob_all(patterns, attr), tf.string), [], tf.string)
            uris.set_shape([None])
            return uris
    else:
        attr = ""
    return _glob_all(patterns, attr)


def _patterns(pattern):
    if isinstance(pattern, (str, bytes, os.PathLike)):
        return [_pattern_str(pattern)]
    try:
        items = list(pattern)
    except TypeError:
        raise TypeError(f"glob pattern must be a str, bytes or os.PathLike, or "
                        f"an iterable of them; got {type(pattern).__name__}") from None
    for p in items:
        if not isinstance(p, (str, bytes, os.PathLike)):
            raise TypeError(f"glob pattern must be a str, bytes or os.PathLike, "
                            f"got {type(p).__name__}: {p!r}")
    return [_pattern_str(p) for p in items]


def _pattern_str(p):
    return os.fsdecode(os.fspath(p))


def _check_s3_pattern(pattern):
    directory = pattern.rpartition("/")[0]
    if any(c in directory[5:] for c in "*?[\\"):
        raise ValueError(
            f"{pattern!r}: in s3:// patterns wildcards are supported in the last "
            "path component only")


def _glob_all(patterns, attr):
    out = []
    for p in patterns:
        out.extend(_engine.list(p, attr) if p.startswith("s3://") else _glob_local(p))
    return out


# -- local paths, as TensorFlow's GetMatchingPaths (tsl file_system_helper) --

_FNM_PATHNAME = 1  # POSIX <fnmatch.h>; 1 in glibc and the BSDs
_GLOB_CHARS = "*?[\\"
_fnmatch = None


def _match(pattern: bytes, path: bytes) -> bool:
    """POSIX fnmatch(pattern, path, FNM_PATHNAME), the C library's, which is
    what TensorFlow's POSIX file system matches with."""
    global _fnmatch
    if _fnmatch is None:
        libc = ctypes.CDLL(None)
        libc.fnmatch.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
        libc.fnmatch.restype = ctypes.c_int
        _fnmatch = libc.fnmatch
    return _fnmatch(pattern, path, _FNM_PATHNAME) == 0


def _dirname(path: str) -> str:
    slash = path.rfind("/")
    if slash < 0:
        return ""
    return "/" if slash == 0 else path[:slash]


def _join(parent: str, child: str) -> str:
    return parent + child if parent.endswith("/") else parent + "/" + child


def _glob_local(pattern: str):
    """Sorted matches of one local pattern (a path or file:// URI)."""
    if not pattern:
        return []  # TensorFlow matches nothing on an empty pattern
    scheme = "file://" if pattern.startswith("file://") else ""
    pattern = pattern[len(scheme):]
    # A relative pattern whose first component has a wildcard is matched
    # under "./", so `*` and `./*` are expanded the same way.
    fixed = pattern[:min((pattern.find(c) for c in _GLOB_CHARS if c in pattern),
                         default=len(pattern))]
    patched = pattern if _dirname(fixed) else _join(".", pattern)
    # Every directory prefix, root first; a trailing "/" is dropped.
    levels = []
    level = _dirname(patched) if pattern.endswith("/") else patched
    while level:
        levels.append(level)
        parent = _dirname(level)
        if parent == level:
            break
        level = parent
    levels.reverse()
    first = next((i for i, d in enumerate(levels)
                  if any(c in d for c in _GLOB_CHARS)), len(levels))
    if first == len(levels):
        # No wildcard: the pattern itself if it exists. TensorFlow cleans a
        # plain path lexically first ("d/f/" names d/f), a file:// one not.
        path = pattern if scheme else os.path.normpath(pattern)
        return [scheme + pattern] if os.access(path, os.F_OK) else []
    results = []
    queue = [levels[first - 1]]
    for depth in range(first, len(levels)):
        match = os.fsencode(levels[depth])
        last = depth == len(levels) - 1
        next_queue = []
        for parent in queue:
            try:
                children = os.listdir(parent)
            except OSError:
                continue  # unreadable or vanished: nothing below it matches
            for child in children:
                path = _join(parent, child)
                if not _match(match, os.fsencode(path)):
                    continue
                if last:
                    results.append(scheme + path)
                elif os.path.isdir(path):
                    next_queue.append(path)
        queue = next_queue
    return sorted(results)
