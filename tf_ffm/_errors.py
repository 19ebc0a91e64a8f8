"""The engine's absl::Status codes as the tf.errors classes callers catch.

tf_ffm._engine raises through from_status(): tf.errors.NotFoundError for a
missing object, DataLossError for a corrupt index, and so on, the same
classes the dataset ops raise, so one `except tf.errors.NotFoundError`
covers both. For S3, rejected credentials and denied access are
PermissionDeniedError from every call, and a missing bucket NotFoundError
(the mapping is in cc/ffm/io/s3_source.cc, FromArrow). TensorFlow's Python package is imported here, on the error path
only: `tf-ffm ls` and `tf-ffm index` run without it and pay its import time
only to report a failure. The alternative, mapping to tf.errors only when
TensorFlow is already imported, would make the class raised depend on import
order; absl's codes are TensorFlow's, so no table is kept here.
"""

# absl::StatusCode / tf.errors codes used when Python raises for the engine.
INVALID_ARGUMENT = 3
DATA_LOSS = 15


def from_status(code: int, message: str) -> Exception:
    """The tf.errors exception for an engine status `code` and `message`."""
    from tensorflow.python.framework import errors_impl

    return errors_impl.exception_type_from_error_code(code)(None, None, message)
