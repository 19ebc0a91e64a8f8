"""A real S3 server for the s3:// tests: moto_server on 127.0.0.1.

Use from a test module with ``pytest_plugins = ["s3_server"]`` (the fixtures
are then registered once, so the session-scoped server is shared by every
module) and ``from s3_server import ...`` for the helpers.

Fixtures
  moto_s3       the session's server (plain HTTP), with the process
                environment pointing the AWS clients at it: AWS_ENDPOINT_URL,
                dummy AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_REGION,
                and nothing read from ~/.aws or the instance metadata service.
                Restored when the session ends.
  moto_s3_auth  a second server that checks SigV4 signatures and IAM policies
                (see AuthServer), set up once and shared.

tf_ffm reads the environment when a dataset is made (or a listing or index
call runs), but keeps one S3 client per configuration for the life of the
process and the AWS SDK caches credentials in it, so a test that needs
another environment (credentials, endpoint, CA bundle) runs its reads in a
fresh interpreter: run_snippet().

All traffic stays on 127.0.0.1; every server started here is stopped at the
end of the session, also when a test or the set-up fails.
"""
import contextlib
import dataclasses
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent import futures
from typing import Dict, Optional

import pytest

REGION = "us-east-1"
DUMMY_KEY_ID = "testing-key-id"
DUMMY_SECRET = "testing-secret"
_START_TIMEOUT_S = 60
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# AWS_* variables that could steer a client away from the test server.
_AWS_VARS = (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_aws_env(config_dir: str, **overrides: Optional[str]) -> Dict[str, str]:
    """os.environ without any AWS setting, plus `overrides` (None removes).

    Shared config and credential files point into `config_dir` (absent), and
    the instance metadata service is off, so nothing outside the test
    configures a client or is contacted.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.path.join(config_dir, "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(config_dir, "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclasses.dataclass
class MotoServer:
    """One moto_server subprocess."""

    process: subprocess.Popen
    port: int
    scheme: str
    log_path: str
    ca_file: Optional[str] = None

    @property
    def endpoint_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def client(self, service: str = "s3", key_id: str = DUMMY_KEY_ID,
               secret: str = DUMMY_SECRET):
        """A boto3 client for setting up buckets and objects (explicit
        endpoint, so set-up never depends on the environment)."""
        import boto3
        import botocore.config
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=key_id, aws_secret_access_key=secret,
            verify=self.ca_file if self.scheme == "https" else None,
            config=botocore.config.Config(max_pool_connections=32,
                                          retries={"max_attempts": 3}))

    def post(self, path: str, body: bytes) -> bytes:
        # Not form-encoded (urllib's default), or moto's request.data is empty.
        request = urllib.request.Request(
            self.endpoint_url + path, data=body, method="POST",
            headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(request, timeout=30,
                                    context=self._ssl_context()) as response:
            return response.read()

    def requests(self, pattern: str) -> int:
        """How many requests in the server's access log match the regular
        expression `pattern` (e.g. r'"GET /bucket/key HTTP/1.1" 206 ')."""
        line = re.compile(pattern)
        with open(self.log_path, errors="replace") as f:
            # werkzeug colours some status lines
            return sum(1 for l in f if line.search(_ANSI.sub("", l)))

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def _ssl_context(self):
        if self.scheme != "https":
            return None
        return ssl.create_default_context(cafile=self.ca_file)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint_url + "/moto-api/",
                                        timeout=2,
                                        context=self._ssl_context()):
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except (OSError, ssl.SSLError):
            return False


def start_moto(log_dir: str, *, name: str = "moto", cert: Optional[str] = None,
               key: Optional[str] = None, ca_file: Optional[str] = None,
               env: Optional[Dict[str, str]] = None) -> MotoServer:
    """Starts moto_server on a free 127.0.0.1 port and waits until it answers.

    With `cert`/`key` it serves HTTPS (`ca_file` is what clients verify it
    with). Raises RuntimeError, with the server's log, if it does not come up.
    """
    os.makedirs(log_dir, exist_ok=True)
    last_error = ""
    for attempt in range(3):  # the free port may be taken before moto binds it
        port = free_port()
        log_path = os.path.join(log_dir, f"{name}-{port}.log")
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                   "-p", str(port)]
        if cert:
            command += ["-c", cert, "-k", key]
        server_env = isolated_aws_env(log_dir, PYTHONUNBUFFERED="1",
                                      **(env or {}))
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log,
                                       stderr=subprocess.STDOUT,
                                       env=server_env, cwd=log_dir)
        server = MotoServer(process, port, "https" if cert else "http",
                            log_path, ca_file)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            if server._answers():
                return server
            time.sleep(0.1)
        server.stop()
        last_error = server.log_tail()
    raise RuntimeError(f"moto_server did not start:\n{last_error}")


@contextlib.contextmanager
def running_moto(log_dir: str, **kwargs):
    server = start_moto(log_dir, **kwargs)
    try:
        yield server
    finally:
        server.stop()


def create_objects(client, bucket: str, objects: Dict[str, bytes],
                   threads: int = 16) -> None:
    """Puts many objects concurrently (boto3 clients are thread-safe)."""
    with futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda kv: client.put_object(Bucket=bucket, Key=kv[0],
                                                   Body=kv[1]),
                      objects.items()))


def upload_files(client, bucket: str, paths, prefix: str = "") -> list:
    """Creates `bucket` and copies local `paths` to prefix0.tfrecord,
    prefix1.tfrecord, ...; returns their s3:// URIs in order."""
    client.create_bucket(Bucket=bucket)
    keys = [f"{prefix}{i}.tfrecord" for i in range(len(paths))]
    objects = {}
    for key, path in zip(keys, paths):
        with open(path, "rb") as f:
            objects[key] = f.read()
    create_objects(client, bucket, objects)
    return [f"s3://{bucket}/{key}" for key in keys]


# A fresh interpreter per configuration: the op library caches one S3 client
# per configuration (endpoint, region, CA, ...) for the life of the process,
# and credentials are read once when that client is made.
_SNIPPET_PRELUDE = r'''
import json, os, sys
import tensorflow as tf
import tf_ffm

def attempt(fn):
    """{"ok": True, "value": fn()} or the error's class name and message."""
    try:
        return {"ok": True, "value": fn()}
    except Exception as e:  # reported to the test, which asserts on it
        return {"ok": False, "error": type(e).__name__,
                "message": getattr(e, "message", None) or str(e)}

def count(uris, **kwargs):
    return sum(1 for _ in tf_ffm.FFMRecordDataset(uris, **kwargs))

def records(uris, **kwargs):
    return [r.numpy().hex() for r in tf_ffm.FFMRecordDataset(uris, **kwargs)]

def emit(value):
    sys.stdout.write("\n@@RESULT@@" + json.dumps(value) + "\n")
    sys.stdout.flush()
'''


def run_snippet(code: str, env: Dict[str, str], timeout: float = 120):
    """Runs `code` after a prelude (tf, tf_ffm, attempt(), count(), records(),
    emit()) in a fresh interpreter with exactly `env`; returns what it
    emit()ted, decoded from JSON."""
    done = subprocess.run([sys.executable, "-c", _SNIPPET_PRELUDE + code],
                          env=env, capture_output=True, text=True,
                          timeout=timeout)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@"):])
    raise AssertionError(
        f"snippet emitted no result (exit {done.returncode}):\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")


def run_snippets(jobs, threads: int = 2):
    """run_snippet over (code, env) pairs, a few at a time; results in order."""
    with futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda job: run_snippet(*job), jobs))


@pytest.fixture(scope="session")
def s3_log_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("s3-servers"))


@pytest.fixture(scope="session")
def moto_s3(s3_log_dir):
    """The session's moto server, with the environment pointing at it."""
    with running_moto(s3_log_dir) as server:
        patch = pytest.MonkeyPatch()
        try:
            for key in _AWS_VARS:
                patch.delenv(key, raising=False)
            patch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
            patch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
            patch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
            patch.setenv("AWS_REGION", REGION)
            patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
            patch.setenv("AWS_CONFIG_FILE",
                         os.path.join(s3_log_dir, "no-aws-config"))
            patch.setenv("AWS_SHARED_CREDENTIALS_FILE",
                         os.path.join(s3_log_dir, "no-aws-credentials"))
            yield server
        finally:
            patch.undo()


@dataclasses.dataclass
class AuthServer:
    """A moto server that enforces SigV4 signatures and IAM policies.

    Set up while authentication is still off (moto counts requests until
    INITIAL_NO_AUTH_ACTION_COUNT; /moto-api/reset-auth sets it to 0 here):
    bucket `bucket` with a TFRecord object at `readable_key` and one at
    `denied_key`, and an IAM user whose key (`key_id`, `secret`) may list the
    bucket and read every object except those under denied/ (explicit Deny).
    """

    server: MotoServer
    bucket: str
    readable_key: str
    denied_key: str
    key_id: str
    secret: str
    record_count: int

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url


AUTH_BUCKET = "ffm-auth"


@pytest.fixture(scope="session")
def moto_s3_auth(s3_log_dir):
    import tensorflow as tf
    records = [b"auth-%d" % i for i in range(20)]
    path = os.path.join(s3_log_dir, "auth.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for r in records:
            w.write(r)
    with open(path, "rb") as f:
        body = f.read()
    with running_moto(s3_log_dir, name="moto-auth") as server:
        s3 = server.client()
        s3.create_bucket(Bucket=AUTH_BUCKET)
        s3.put_object(Bucket=AUTH_BUCKET, Key="data/ok.tfrecord", Body=body)
        s3.put_object(Bucket=AUTH_BUCKET, Key="denied/secret.tfrecord", Body=body)
        iam = server.client("iam")
        iam.create_user(UserName="reader")
        iam.put_user_policy(
            UserName="reader", PolicyName="read-but-not-denied",
            PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow",
                     "Action": ["s3:GetObject", "s3:ListBucket",
                                "s3:GetBucketLocation"],
                     "Resource": [f"arn:aws:s3:::{AUTH_BUCKET}",
                                  f"arn:aws:s3:::{AUTH_BUCKET}/*"]},
                    {"Effect": "Deny", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{AUTH_BUCKET}/denied/*"},
                ]}))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        previous = json.loads(server.post("/moto-api/reset-auth", b"0"))
        assert "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT" in previous
        yield AuthServer(server, AUTH_BUCKET, "data/ok.tfrecord",
                         "denied/secret.tfrecord", key["AccessKeyId"],
                         key["SecretAccessKey"], len(records))
