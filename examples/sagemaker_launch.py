"""Launches sagemaker_entry_point.py as a SageMaker training job in Fast File Mode.

Documentation: run it yourself with AWS credentials, a SageMaker execution
role and the `sagemaker` package installed; nothing in the tests imports it.

input_mode="FastFile" mounts each channel's S3 prefix under
/opt/ml/input/data/<channel> (announced as $SM_CHANNEL_<CHANNEL>) and
streams bytes on demand: training starts without copying the data, and
tf_ffm.FFMRecordDataset keeps enough ranged reads in flight to make the
mount fast. Prefer a few hundred MB per TFRecord file: start-up grows with
the number of files.

The tf-ffm wheel is tied to the TensorFlow minor version it was built for
(build_tools/build_wheel.sh), so build it against the TensorFlow of the
training image and list it in requirements.txt beside the entry point, e.g.
a line `./tf_ffm-0.1.0-cp311-cp311-linux_x86_64.whl` with the wheel copied
into examples/.
"""
import argparse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", required=True, help="SageMaker execution role ARN")
    parser.add_argument("--train", required=True, help="s3://bucket/prefix of *.tfrecord")
    parser.add_argument("--eval", help="s3://bucket/prefix of *.tfrecord (optional)")
    parser.add_argument("--instance-type", default="ml.c5.2xlarge")
    parser.add_argument("--framework-version", required=True,
                        help="TensorFlow of the training image, e.g. 2.21: the "
                             "minor version the tf-ffm wheel was built for")
    parser.add_argument("--py-version", required=True, help="e.g. py311, as the wheel")
    args = parser.parse_args()

    try:
        from sagemaker.inputs import TrainingInput
        from sagemaker.tensorflow import TensorFlow
    except ImportError as e:
        raise SystemExit(f"this launcher needs the SageMaker Python SDK "
                         f"(pip install sagemaker): {e}")

    estimator = TensorFlow(
        entry_point="sagemaker_entry_point.py",
        source_dir=".",                  # this directory: entry point + requirements.txt
        role=args.role,
        instance_count=1,
        instance_type=args.instance_type,
        framework_version=args.framework_version,
        py_version=args.py_version,
        input_mode="FastFile",           # channels are FUSE mounts of S3
        hyperparameters={"epochs": 2, "batch-size": 256, "learning-rate": 1e-3, "seed": 42},
    )
    channels = {"train": TrainingInput(args.train, input_mode="FastFile")}
    if args.eval:
        channels["eval"] = TrainingInput(args.eval, input_mode="FastFile")
    estimator.fit(channels)


if __name__ == "__main__":
    main()
