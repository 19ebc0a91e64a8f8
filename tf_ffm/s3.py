"""S3 settings and listing. Credentials come from the standard AWS chain."""
import dataclasses
import glob as _glob
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

    def to_attr(self) -> str:
        """The `s3.key=value;...` storage options the ops take (no secrets:
        none are held)."""
        parts = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            text = str(value)
            if ";" in text:
                raise ValueError(f"S3Options.{field.name} may not contain ';'")
            parts.append(f"s3.{field.name}={text}")
        return ";".join(parts)


def storage_attr(s3) -> str:
    """The ops' `storage_options` attr for these settings."""
    if s3 is None:
        return ""
    if not isinstance(s3, S3Options):
        raise TypeError(f"s3 must be a tf_ffm.S3Options, got {type(s3).__name__}")
    return s3.to_attr()


def s3_supported() -> bool:
    """Whether this build reads s3:// URIs (it always does; kept for callers)."""
    return True


def glob(pattern, s3: Optional[S3Options] = None):
    """Sorted paths or s3:// URIs matching `pattern`.

    Local and mounted paths use the shell rules of Python's glob; for s3://
    the wildcards may appear in the last path component
    (s3://bucket/train/*.tfrecord), listed with ListObjectsV2.
    """
    pattern = os.fspath(pattern)
    if not pattern.startswith("s3://"):
        return sorted(_glob.glob(pattern))
    directory, _, name = pattern.rpartition("/")
    if any(c in directory[5:] for c in "*?["):
        raise ValueError(
            f"{pattern!r}: wildcards are supported in the last path component only")
    attr = storage_attr(s3)
    tf = sys.modules.get("tensorflow")  # inside a tf.function, TF is imported
    if tf is not None and not tf.executing_eagerly():
        # In a graph, list when the graph runs, not once when it is traced.
        uris = tf.py_function(
            lambda: tf.constant(_engine.list(pattern, attr), tf.string), [], tf.string)
        uris.set_shape([None])
        return uris
    return _engine.list(pattern, attr)
