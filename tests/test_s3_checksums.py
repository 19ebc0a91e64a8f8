"""Ranged GETs do not ask S3 for response checksums (S3 sends none for a
range, and the SDK's search for them per 16 KiB of body cost a quarter of the
reader's CPU); AWS_RESPONSE_CHECKSUM_VALIDATION=when_supported asks again."""

import pytest
import tensorflow as tf

from conftest import write_records
from fault_s3 import data_root, read_key, serving

KEY = "data/checksums.tfrecord"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = data_root(tmp_path_factory, "checksum")
    path = str(root / KEY)
    write_records(path, [bytes([i % 256]) * (3000 + 101 * i) for i in range(120)])
    expected = [x.numpy() for x in tf.data.TFRecordDataset(path)]
    with serving(root, "checksums") as s3:
        yield s3, expected


def _read(s3, **options):
    return read_key(s3, KEY, **options)


def test_ranged_gets_do_not_ask_for_checksums(server, monkeypatch):
    s3, expected = server
    monkeypatch.delenv("AWS_RESPONSE_CHECKSUM_VALIDATION", raising=False)
    s3.faults(None)
    assert _read(s3, max_attempts=3) == expected
    assert s3.gets() > 1
    assert s3.checksum_gets() == 0


def test_environment_can_turn_checksums_back_on(server, monkeypatch):
    s3, expected = server
    monkeypatch.setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported")
    s3.faults(None)
    assert _read(s3, max_attempts=4) == expected
    assert s3.gets() > 1
    assert s3.checksum_gets() == s3.gets()
