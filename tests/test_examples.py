"""The examples run: Keras training, and the SageMaker entry point on a fake channel."""
import importlib.util
import math
import os
import py_compile
import re
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples")


def _run(script, args, env, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")} | env
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (
        f"{script} exited {done.returncode}\n--- stdout\n{done.stdout[-3000:]}"
        f"\n--- stderr\n{done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def keras_train():
    spec = importlib.util.spec_from_file_location("keras_train",
                                                  os.path.join(EXAMPLES, "keras_train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines functions only; main() is not run
    return module


def test_keras_train_prints_a_finite_loss(tmp_path):
    done = _run("keras_train.py", ["--data-dir", str(tmp_path)], {}, cwd=tmp_path)
    losses = re.findall(r"^final loss: (\S+)$", done.stdout, re.MULTILINE)
    assert len(losses) == 1, done.stdout
    assert math.isfinite(float(losses[0]))
    assert len(list(tmp_path.glob("part-*.tfrecord"))) == 4


def test_sagemaker_entry_point_trains_on_channels(tmp_path, keras_train):
    train, evaluate, model_dir = tmp_path / "train", tmp_path / "eval", tmp_path / "model"
    train.mkdir()
    evaluate.mkdir()
    keras_train.write_dataset(str(train), files=2, records_per_file=200)
    keras_train.write_dataset(str(evaluate), files=1, records_per_file=100, seed=1)
    (train / "README").write_text("not a TFRecord file: left out by the *.tfrecord pattern")
    env = {"SM_CHANNEL_TRAIN": str(train), "SM_CHANNEL_EVAL": str(evaluate),
           "SM_MODEL_DIR": str(model_dir)}
    # As SageMaker passes hyperparameters, plus the estimator's --model_dir.
    done = _run("sagemaker_entry_point.py",
                ["--epochs", "1", "--batch-size", "64", "--seed", "7",
                 "--model_dir", "s3://bucket/checkpoints"], env, cwd=tmp_path)
    assert f"train: 2 files in {train}" in done.stderr
    assert "'seed': 7" in done.stderr
    assert "val_loss" in done.stdout + done.stderr  # the eval channel was used
    assert (model_dir / "model.keras").stat().st_size > 0


def test_sagemaker_entry_point_fails_clearly_without_a_channel(tmp_path):
    env = {"SM_MODEL_DIR": str(tmp_path / "model"),
           "TF_FFM_SM_INPUT_DATA_CONFIG": str(tmp_path / "absent.json")}
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "sagemaker_entry_point.py")],
                          env={k: v for k, v in os.environ.items() if not k.startswith("SM_")}
                          | env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "$SM_CHANNEL_TRAIN is not set" in done.stderr


def test_sagemaker_launch_compiles(tmp_path):
    # Documentation only: compiled, never imported or run (it would start a job).
    py_compile.compile(os.path.join(EXAMPLES, "sagemaker_launch.py"),
                       cfile=str(tmp_path / "launch.pyc"), doraise=True)
