"""tf-ffm: fast TFRecord reading from local, mounted and s3:// paths."""
from tf_ffm._loader import _check_tf_version

_check_tf_version()

from tf_ffm.dataset import FFMRecordDataset  # noqa: E402
from tf_ffm.index import RecordIndex  # noqa: E402
from tf_ffm.mixing import WeightedMix  # noqa: E402
from tf_ffm.s3 import S3Options, glob, s3_supported  # noqa: E402
from tf_ffm.sagemaker import channel, channel_files  # noqa: E402
from tf_ffm.metrics import stats  # noqa: E402

__all__ = ["FFMRecordDataset", "RecordIndex", "S3Options", "glob", "s3_supported",
           "stats", "WeightedMix", "channel", "channel_files"]
__version__ = "0.1.0"
