"""EmulatedS3 (nginx) and FuseMount (rclone): right bytes, nothing left behind."""
import http.client
import os
import urllib.parse

import pytest

from tf_ffm.bench import servers
from tf_ffm.bench.servers import EmulatedS3, FuseMount, Unavailable

FILE_BYTES = 3 * (1 << 20) + 12345


def _skip_unless(check):
    try:
        check()
    except Unavailable as e:
        pytest.skip(e.reason)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    (root / "dir").mkdir()
    payload = os.urandom(FILE_BYTES)
    (root / "dir" / "blob.bin").write_bytes(payload)
    return root, payload


def _request(url, method="GET", headers=None):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.netloc, timeout=30)
    try:
        conn.request(method, u.path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _alive_with(marker):
    """pids of live processes whose command line mentions `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and state != "Z":
            found.append(int(pid))
    return found


def _mounted(path):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == os.path.realpath(path) for line in f)


def test_emulated_s3_serves_ranges_and_head(data_dir, tmp_path):
    _skip_unless(EmulatedS3.check)
    root, payload = data_dir
    with EmulatedS3(root, latency_s=0.001, prefix_dir=tmp_path / "prefix") as s3:
        url = s3.key_url("dir/blob.bin")
        assert url == f"{s3.endpoint}/bench/dir/blob.bin"
        for first, last in [(0, 0), (100, 8191), (FILE_BYTES - 1000, FILE_BYTES - 1),
                            (1 << 20, (3 << 20) - 1)]:
            status, headers, body = _request(url, headers={"Range": f"bytes={first}-{last}"})
            assert status == 206
            assert body == payload[first:last + 1]
            assert headers["Content-Range"] == f"bytes {first}-{last}/{FILE_BYTES}"
        status, headers, body = _request(url, "HEAD")
        assert status == 200 and body == b""
        assert int(headers["Content-Length"]) == FILE_BYTES
        status, _, body = _request(url)
        assert status == 200 and body == payload
        assert _request(s3.key_url("dir/missing"), "HEAD")[0] == 404
        status, _, body = _request(s3.url + "dir/")  # listing, for rclone
        assert status == 200 and b'href="blob.bin"' in body
        prefix = str(tmp_path / "prefix")
        assert _alive_with(prefix), "nginx should be running inside the block"
    assert not _alive_with(prefix), "nginx left running"


def test_emulated_s3_stops_on_exception(data_dir, tmp_path):
    _skip_unless(EmulatedS3.check)
    root, _ = data_dir
    prefix = str(tmp_path / "prefix")
    with pytest.raises(KeyError):
        with EmulatedS3(root, prefix_dir=prefix) as s3:  # default latency and rate
            assert _request(s3.key_url("dir/blob.bin"), "HEAD")[0] == 200
            pgid = s3.pid
            raise KeyError("boom")
    assert not _alive_with(prefix)
    assert not servers._group_alive(pgid)


def test_missing_nginx_is_unavailable(data_dir, monkeypatch):
    monkeypatch.setattr(servers, "NGINX", "/nonexistent/nginx")
    with pytest.raises(Unavailable, match="nginx not installed"):
        with EmulatedS3(data_dir[0]):
            pass
    monkeypatch.setattr(servers, "NGINX_MODULES", ("/nonexistent/ngx_http_lua_module.so",))
    monkeypatch.setattr(servers, "NGINX", "/bin/true")
    with pytest.raises(Unavailable, match="Lua module"):
        EmulatedS3.check()


def test_missing_rclone_is_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Unavailable, match="rclone not installed"):
        with FuseMount("http://127.0.0.1:1/", tmp_path / "mnt"):
            pass
    assert not (tmp_path / "mnt").exists()


def test_fuse_mount_gives_the_same_bytes(data_dir, tmp_path):
    _skip_unless(EmulatedS3.check)
    _skip_unless(FuseMount.check)
    root, payload = data_dir
    mnt = tmp_path / "mnt"
    with EmulatedS3(root, latency_s=0.001, rate=None) as s3:
        try:
            mount = FuseMount(s3.url, mnt)
            mount.__enter__()
        except Unavailable as e:
            pytest.skip(f"FUSE mounting not permitted: {e.reason}")
        try:
            assert _mounted(mnt)
            assert os.listdir(mnt) == ["dir"]
            path = mnt / "dir" / "blob.bin"
            assert os.path.getsize(path) == FILE_BYTES
            assert path.read_bytes() == payload
            with open(path, "rb") as f:
                f.seek(FILE_BYTES - 5000)
                assert f.read() == payload[-5000:]
            fd = os.open(path, os.O_RDONLY)
            try:
                assert os.pread(fd, 100, 1 << 20) == payload[1 << 20:(1 << 20) + 100]
            finally:
                os.close(fd)
            pid = mount.pid
        finally:
            mount.__exit__(None, None, None)
        assert not _mounted(mnt), "mount left behind"
        assert not servers._group_alive(pid), "rclone left running"


def test_fuse_mount_unmounts_on_exception(data_dir, tmp_path):
    _skip_unless(EmulatedS3.check)
    _skip_unless(FuseMount.check)
    mnt = tmp_path / "mnt"
    with EmulatedS3(data_dir[0], latency_s=0.001, rate=None) as s3:
        pid = None
        with pytest.raises(KeyboardInterrupt):
            try:
                with FuseMount(s3.url, mnt) as mount:
                    pid = mount.pid
                    os.listdir(mnt)
                    raise KeyboardInterrupt
            except Unavailable as e:
                pytest.skip(f"FUSE mounting not permitted: {e.reason}")
        assert not _mounted(mnt)
        assert pid and not servers._group_alive(pid)
        # The mount point was created by FuseMount and is removed again.
        assert not mnt.exists()
