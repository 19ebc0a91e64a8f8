"""Loopback stand-ins for cloud storage: an emulated S3 endpoint and a FUSE mount.

EmulatedS3   nginx serving a directory path-style (GET/HEAD with ranges) with
             a first-byte latency per request and a per-connection rate cap,
             like one S3 connection (20 ms, 90 MB/s).
FuseMount    `rclone mount :http:` of such an endpoint: the stand-in for
             SageMaker Fast File Mode (a read-only POSIX view streamed on
             demand).

Both are context managers that stop everything they started on exit, also on
an exception or KeyboardInterrupt, and raise `Unavailable(reason)` when the
machine lacks what they need, so a caller can skip that profile and say why.
"""
import contextlib
import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

NGINX = "/usr/sbin/nginx"
NGINX_MODULES = (  # order matters: the Lua module needs the dev kit first
    "/usr/lib/nginx/modules/ndk_http_module.so",
    "/usr/lib/nginx/modules/ngx_http_lua_module.so",
)
_START_TIMEOUT_S = 20.0


class Unavailable(Exception):
    """A server or mount cannot run here (missing binary, no FUSE, no permission)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, lines=15) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


def _stop_group(proc, sig=signal.SIGTERM, timeout_s=10.0):
    """Stop `proc` and every process in its group (it leads a new session)."""
    if proc is None:
        return
    for s in (sig, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, s)
        try:
            proc.wait(timeout=timeout_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children (nginx workers) may outlive the leader by a moment.
    deadline = time.monotonic() + timeout_s
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.05)


def _group_alive(pgid) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(…, 0) also succeeds for zombies; look for a live member.
    return any(fields[0] != "Z" for fields in group_stats(pgid))


def group_pids(pgid):
    """Pids of the live processes in group `pgid` (found through /proc)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            yield int(pid), fields


def group_stats(pgid):
    """The /proc/PID/stat fields (after the command name) of each process in
    group `pgid`: [0] state, [11] utime, [12] stime in clock ticks."""
    for _, fields in group_pids(pgid):
        yield fields


class EmulatedS3:
    """nginx serving `root_dir` as bucket `bucket`, path-style, on 127.0.0.1.

    GET and HEAD of /<bucket>/<relative path> (with Range) return the file's
    bytes; directories are listed as HTML (rclone's http backend reads that).
    Every request waits `latency_s` before its first byte
    (`access_by_lua_block { ngx.sleep(...) }`) and each connection is capped
    at `rate` (nginx `limit_rate` syntax, e.g. "90m"; None: no cap).

        with EmulatedS3(data_dir) as s3:
            s3.endpoint   # http://127.0.0.1:PORT  (AWS_ENDPOINT_URL)
            s3.url        # http://127.0.0.1:PORT/bench/  (the bucket as a URL)
    """

    def __init__(self, root_dir, latency_s=0.02, rate="90m", *, bucket="bench",
                 workers=2, prefix_dir=None):
        self.root_dir = os.path.abspath(root_dir)
        self.latency_s = float(latency_s)
        self.rate = rate
        self.bucket = bucket
        self.workers = int(workers)
        self._prefix_arg = prefix_dir
        self.prefix = None
        self.port = None
        self.proc = None
        self._tmp = None

    @staticmethod
    def check():
        """Raise Unavailable unless nginx and its Lua module are installed."""
        if not os.access(NGINX, os.X_OK):
            raise Unavailable(f"nginx not installed ({NGINX}; Debian nginx-light)")
        for module in NGINX_MODULES:
            if not os.path.exists(module):
                raise Unavailable(
                    f"nginx Lua module missing ({module}; Debian libnginx-mod-http-lua)")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.endpoint}/{self.bucket}/"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def key_url(self, relpath) -> str:
        return self.url + relpath.lstrip("/")

    def _config(self) -> str:
        p = self.prefix
        loads = "".join(f"load_module {m};\n" for m in NGINX_MODULES)
        temps = "".join(f"    {k}_temp_path {p}/tmp/{k};\n"
                        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        rate = f"limit_rate {self.rate};" if self.rate else ""
        # Started as root, nginx's workers would drop to "nobody" and could not
        # read a private directory (pytest's tmp, ~/.cache): keep our user.
        user = f"user {pwd.getpwuid(0).pw_name};\n" if os.geteuid() == 0 else ""
        return f"""{loads}{user}daemon off;
master_process on;
worker_processes {self.workers};
pid {p}/nginx.pid;
error_log {p}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temps}    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{self.port};
        location = / {{ return 200 "emulated s3\\n"; }}
        location /{self.bucket}/ {{
            alias {self.root_dir}/;
            autoindex on;
            access_by_lua_block {{ ngx.sleep({self.latency_s!r}) }}
            {rate}
        }}
    }}
}}
"""

    def __enter__(self):
        self.check()
        if not os.path.isdir(self.root_dir):
            raise FileNotFoundError(f"EmulatedS3: no directory {self.root_dir}")
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self):
        if self._prefix_arg:
            self.prefix = os.path.abspath(self._prefix_arg)
        else:
            self._tmp = tempfile.mkdtemp(prefix="tf-ffm-nginx-")
            self.prefix = self._tmp
        for sub in ("logs", "tmp"):
            os.makedirs(os.path.join(self.prefix, sub), exist_ok=True)
        for attempt in range(5):  # a free port may be taken before nginx binds it
            self.port = free_port()
            conf = os.path.join(self.prefix, "nginx.conf")
            with open(conf, "w") as f:
                f.write(self._config())
            errlog = os.path.join(self.prefix, "logs", "error.log")
            with open(os.path.join(self.prefix, "logs", "stderr.log"), "ab") as out:
                self.proc = subprocess.Popen(
                    [NGINX, "-p", self.prefix + "/", "-c", conf, "-e", errlog],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    start_new_session=True)
            if self._wait_ready():
                return
            log = _tail(errlog) or _tail(os.path.join(self.prefix, "logs", "stderr.log"))
            _stop_group(self.proc)
            self.proc = None
            if "Address already in use" not in log:
                raise RuntimeError(f"nginx did not start (prefix {self.prefix}):\n{log}")
        raise RuntimeError("nginx: no free port after 5 attempts")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def close(self):
        if self.proc is not None:
            _stop_group(self.proc, signal.SIGTERM)  # SIGTERM: nginx fast shutdown
            self.proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __exit__(self, *exc):
        self.close()
        return False


def _fuse_problem():
    """Why FUSE mounts cannot work here, or None."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist (no FUSE in this kernel/container)"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not accessible to this user"
    if os.geteuid() != 0 and not shutil.which("fusermount3") and not shutil.which("fusermount"):
        return "fusermount3 not installed (Debian fuse3)"
    return None


def _is_mounted(path) -> bool:
    path = os.path.realpath(path)
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == path for line in f)
    except OSError:
        return os.path.ismount(path)


class FuseMount:
    """A read-only FUSE mount of an HTTP directory URL with rclone.

    Runs `rclone mount :http: MOUNTPOINT --http-url URL --read-only
    --vfs-cache-mode off` (no local cache: every read goes to the server, as
    Fast File Mode streams from S3), waits until it is mounted and unmounts on
    exit (`umount`, then `fusermount3 -u`, then a lazy unmount).
    """

    def __init__(self, url, mountpoint, *, extra_args=(), log_path=None):
        self.url = url if url.endswith("/") else url + "/"
        self.mountpoint = os.path.abspath(mountpoint)
        self.extra_args = list(extra_args)
        self.log_path = log_path
        self.proc = None
        self._created = False
        self._logtmp = None

    @staticmethod
    def check():
        """Raise Unavailable unless rclone and FUSE are present."""
        if not shutil.which("rclone"):
            raise Unavailable("rclone not installed (Debian rclone)")
        problem = _fuse_problem()
        if problem:
            raise Unavailable(problem)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def __enter__(self):
        self.check()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self):
        if _is_mounted(self.mountpoint):
            raise RuntimeError(f"{self.mountpoint} is already a mount point")
        if not os.path.isdir(self.mountpoint):
            os.makedirs(self.mountpoint)
            self._created = True
        if self.log_path is None:
            fd, self._logtmp = tempfile.mkstemp(prefix="tf-ffm-rclone-", suffix=".log")
            os.close(fd)
        log = self.log_path or self._logtmp
        cmd = ["rclone", "mount", ":http:", self.mountpoint, "--http-url", self.url,
               "--read-only", "--vfs-cache-mode", "off", "--log-level", "NOTICE",
               "--log-file", log, *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _is_mounted(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = _tail(log)
                lowered = text.lower()
                if any(w in lowered for w in ("permission", "not permitted", "fuse",
                                              "fusermount")):
                    raise Unavailable(f"rclone mount not permitted here: {text}")
                raise RuntimeError(f"rclone mount of {self.url} failed:\n{text}")
            time.sleep(0.05)

    def _unmount(self):
        for cmd in (["umount", self.mountpoint], ["fusermount3", "-u", self.mountpoint],
                    ["umount", "-l", self.mountpoint]):
            for _ in range(20):
                if not _is_mounted(self.mountpoint):
                    return
                if not shutil.which(cmd[0]):
                    break
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
                if r.returncode == 0 or not _is_mounted(self.mountpoint):
                    return
                if "busy" not in r.stderr:
                    break
                time.sleep(0.1)

    def close(self):
        try:
            if _is_mounted(self.mountpoint) and self.proc is not None:
                self._unmount()
        finally:
            if self.proc is not None:
                # rclone exits by itself once unmounted; make sure of it.
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    _stop_group(self.proc, signal.SIGTERM)
                _stop_group(self.proc)
                self.proc = None
            if self._created and not _is_mounted(self.mountpoint):
                with contextlib.suppress(OSError):
                    os.rmdir(self.mountpoint)
                self._created = False
            if self._logtmp:
                with contextlib.suppress(OSError):
                    os.unlink(self._logtmp)
                self._logtmp = None

    def __exit__(self, *exc):
        self.close()
        return False
