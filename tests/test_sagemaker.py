"""tf_ffm.channel / channel_files: SageMaker channel directories."""
import json
import os

import pytest
import tensorflow as tf

import tf_ffm
from tf_ffm import sagemaker

pytest_plugins = ["s3_server"]


@pytest.fixture(autouse=True)
def no_sagemaker(monkeypatch, tmp_path):
    """Outside any SageMaker job: no SM_CHANNEL_*, no inputdataconfig.json."""
    for key in list(os.environ):
        if key.startswith("SM_CHANNEL_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv(sagemaker.INPUT_DATA_CONFIG_ENV, str(tmp_path / "absent.json"))
    monkeypatch.setenv(sagemaker.DATA_ROOT_ENV, str(tmp_path / "absent-data"))


def _files(directory, names):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"")
    return [str(directory / n) for n in sorted(names)]


def _input_data_config(monkeypatch, tmp_path, channels):
    config = tmp_path / "config" / "inputdataconfig.json"
    config.parent.mkdir()
    config.write_text(json.dumps(channels))
    data_root = tmp_path / "data"
    monkeypatch.setenv(sagemaker.INPUT_DATA_CONFIG_ENV, str(config))
    monkeypatch.setenv(sagemaker.DATA_ROOT_ENV, str(data_root))
    return data_root


def test_environment_variable(monkeypatch, tmp_path):
    want = _files(tmp_path / "train", ["b.tfrecord", "a.tfrecord", "notes.txt"])
    (tmp_path / "train" / "sub.tfrecord").mkdir()  # a directory is not a file
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "train"))
    assert tf_ffm.channel("train") == str(tmp_path / "train")
    assert tf_ffm.channel_files("train", "*.tfrecord") == want[:2]
    assert tf_ffm.channel_files("train") == want
    # The environment wins over a default.
    assert tf_ffm.channel("train", default="/elsewhere") == str(tmp_path / "train")


def test_input_data_config(monkeypatch, tmp_path):
    fast_file = {"TrainingInputMode": "FastFile", "S3DistributionType": "FullyReplicated",
                 "RecordWrapperType": "None"}
    data_root = _input_data_config(monkeypatch, tmp_path,
                                   {"train": fast_file, "eval": fast_file})
    want = _files(data_root / "eval", ["part-1", "part-0"])
    assert tf_ffm.channel("eval") == str(data_root / "eval")
    assert tf_ffm.channel_files("eval", "part-*") == want
    with pytest.raises(KeyError, match=r"lists no channel 'test' \(channels: eval, train\)"):
        tf_ffm.channel("test")


def test_pipe_mode_channel_is_refused(monkeypatch, tmp_path):
    _input_data_config(monkeypatch, tmp_path, {"train": {"TrainingInputMode": "Pipe"}})
    with pytest.raises(ValueError, match="Pipe mode"):
        tf_ffm.channel("train")


def test_default_local_directory(tmp_path):
    want = _files(tmp_path / "local", ["x.tfrecord", "y.tfrecord"])
    assert tf_ffm.channel("train", default=tmp_path / "local") == str(tmp_path / "local")
    assert tf_ffm.channel_files("train", "*.tfrecord", default=str(tmp_path / "local")) == want
    assert tf_ffm.channel_files("train", "*.none", default=str(tmp_path / "local")) == []


def test_nothing_found_names_what_was_tried(tmp_path):
    with pytest.raises(KeyError) as e:
        tf_ffm.channel_files("train", "*.tfrecord")
    message = str(e.value)
    assert "'train' not found" in message
    assert "$SM_CHANNEL_TRAIN is not set" in message
    assert str(tmp_path / "absent.json") + " does not exist" in message
    assert "no default= was given" in message


def test_default_s3_prefix(moto_s3, tmp_path):
    client = moto_s3.client()
    client.create_bucket(Bucket="channels")
    for key in ["train/b.tfrecord", "train/a.tfrecord", "train/readme.md", "eval/c.tfrecord"]:
        client.put_object(Bucket="channels", Key=key, Body=b"")
    want = ["s3://channels/train/a.tfrecord", "s3://channels/train/b.tfrecord"]
    for prefix in ["s3://channels/train", "s3://channels/train/"]:
        assert tf_ffm.channel_files("train", "*.tfrecord", default=prefix) == want


def test_channel_files_feed_ffm_record_dataset(monkeypatch, tmp_path):
    (tmp_path / "train").mkdir()
    for i in range(2):
        with tf.io.TFRecordWriter(str(tmp_path / "train" / f"{i}.tfrecord")) as w:
            w.write(b"record-%d" % i)
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "train"))
    ds = tf_ffm.FFMRecordDataset(tf_ffm.channel_files("train", "*.tfrecord"))
    assert list(ds.as_numpy_iterator()) == [b"record-0", b"record-1"]
