"""SageMaker channels: where a training job's input data is.

A SageMaker training job names its inputs (channels: "train", "eval", ...).
In File and Fast File Mode (`input_mode="FastFile"`) each channel is a
directory, `/opt/ml/input/data/<name>`, announced as `$SM_CHANNEL_<NAME>`.
Under Fast File Mode that directory is a FUSE mount streaming the S3 prefix
on demand: nothing is copied before training starts, and each read is a
request to S3, tens of milliseconds away. `tf.data.TFRecordDataset` reads a
file sequentially through a small buffer and waits on every request;
`tf_ffm.FFMRecordDataset` keeps many large ranged reads of each file in
flight, which is what makes a FUSE-mounted channel fast.

Pipe Mode channels are named pipes, not directories; `channel()` refuses them.

Outside SageMaker, `default=` (a local directory or an s3://bucket/prefix)
lets the same script run on a laptop or read S3 directly:

    files = tf_ffm.channel_files("train", "*.tfrecord",
                                 default="s3://my-bucket/train")
"""
import json
import os

from tf_ffm.s3 import glob

# Where SageMaker describes and mounts the channels; the environment variables
# override them (for tests, or a local imitation of the container layout).
INPUT_DATA_CONFIG = "/opt/ml/input/config/inputdataconfig.json"
DATA_ROOT = "/opt/ml/input/data"
INPUT_DATA_CONFIG_ENV = "TF_FFM_SM_INPUT_DATA_CONFIG"
DATA_ROOT_ENV = "TF_FFM_SM_DATA_ROOT"


class ChannelNotFoundError(KeyError):
    """No channel of that name, and no default; the message says what was tried."""

    def __str__(self):  # KeyError would print the message as a quoted repr
        return str(self.args[0])


def _env_var(name):
    return "SM_CHANNEL_" + name.upper()  # as the SageMaker training toolkit spells it


def _from_input_data_config(name, tried):
    """The channel directory if the job's inputdataconfig.json lists `name`."""
    config_path = os.environ.get(INPUT_DATA_CONFIG_ENV, INPUT_DATA_CONFIG)
    if not os.path.exists(config_path):
        tried.append(f"{config_path} does not exist")
        return None
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    if name not in config:
        tried.append(f"{config_path} lists no channel {name!r} "
                     f"(channels: {', '.join(sorted(config)) or 'none'})")
        return None
    mode = config[name].get("TrainingInputMode", "File")
    if mode == "Pipe":
        raise ValueError(
            f"SageMaker channel {name!r} is in Pipe mode (a named pipe, not a "
            "directory of files); use input_mode='FastFile' or 'File'")
    return os.path.join(os.environ.get(DATA_ROOT_ENV, DATA_ROOT), name)


def channel(name, default=None):
    """The directory (or s3:// prefix) holding SageMaker channel `name`.

    Looks, in order, at `$SM_CHANNEL_<NAME>`, then at the job's
    inputdataconfig.json (channel listed -> `/opt/ml/input/data/<name>`),
    then returns `default` (a local path or s3://bucket/prefix) if given.
    Raises ChannelNotFoundError (a KeyError) naming everything tried, and
    ValueError for a Pipe Mode channel.
    """
    if not name:
        raise ValueError("channel name must be a non-empty string")
    tried = []
    var = _env_var(name)
    value = os.environ.get(var)
    if value:
        return value
    tried.append(f"${var} is not set")
    found = _from_input_data_config(name, tried)
    if found is not None:
        return found
    if default is not None:
        return os.fspath(default)
    tried.append("no default= was given")
    raise ChannelNotFoundError(
        f"SageMaker channel {name!r} not found: " + "; ".join(tried))


def channel_files(name, pattern="*", default=None, s3=None):
    """Sorted files of channel `name` whose names match `pattern`.

    `pattern` uses glob wildcards within the channel directory (or s3://
    prefix), e.g. "*.tfrecord" or "part-*"; subdirectories are not searched
    and, for local paths, directories are left out. May be empty. `s3` is a
    `tf_ffm.S3Options` for an s3:// default.
    """
    root = channel(name, default)
    if root.startswith("s3://"):
        return glob(root.rstrip("/") + "/" + pattern, s3=s3)
    return [p for p in glob(os.path.join(root, pattern)) if not os.path.isdir(p)]
