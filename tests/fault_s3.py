"""An emulated S3 endpoint that misbehaves on request, for fault tests.

FaultyS3 is the benchmark's nginx endpoint plus a control URL: a test sets
`faults(mode, count)` and the next `count` ranged GETs fail that way:

  slowdown    503 with S3's SlowDown error body (throttling)
  short       half the announced body arrives, then the connection drops
  close       the connection is closed at once, before any response
  stall       the first byte waits `stall_s` seconds, then the whole body
  stall_body  half the body, a pause of `stall_s` seconds, then the rest
  error500    500 InternalError

or `faults("random", rate=p, kinds=...)`: each ranged GET fails with
probability p, as one of `kinds` (uniformly, or by integer weights), until
faults() is called again. `served()` counts the faulted requests since the
last faults() call, `served_by_kind()` splits them by kind and `gets()`
counts every ranged GET (`checksum_gets()` those asking for checksums).
HEAD requests (object size) are never faulted.

What a client sees (curl, as inside the AWS SDK; measured): `short` is
error 18 (partial file); `close` is error 52 (empty reply), which curl
retries by itself on a reused keep-alive connection, so it may cost no
attempt of the caller's; `stall` longer than a low-speed limit of T s is cut
after about T s; a `stall_body` pause is cut only after about 6 s + T
(curl averages the speed over a window of ~5 s), so a shorter pause just
delivers the body late.
"""
import contextlib
import http.client
import os
import urllib.parse

import pytest

import tf_ffm

from tf_ffm.bench.servers import EmulatedS3, Unavailable

KINDS = ("slowdown", "short", "close", "stall", "stall_body", "error500")

# Every worker draws its own sequence (forked workers would otherwise share
# the master's).
_INIT = r"""
    init_worker_by_lua_block {
        math.randomseed(ngx.worker.pid() * 1000003 + math.floor(ngx.now() * 1000))
    }
"""

_ACCESS = r"""
            access_by_lua_block {
                local faults = ngx.shared.faults
                if ngx.req.get_method() ~= "GET" or not ngx.var.http_range then return end
                faults:incr("gets", 1, 0)
                if ngx.var.http_x_amz_checksum_mode then
                    faults:incr("checksum_gets", 1, 0)
                end
                local mode = faults:get("mode")
                if not mode or mode == "" then return end
                if mode == "random" then
                    if math.random() >= (faults:get("rate") or 0) then return end
                    local kinds = {}
                    for k in (faults:get("kinds") or ""):gmatch("[%w_]+") do
                        kinds[#kinds + 1] = k
                    end
                    if #kinds == 0 then return end
                    mode = kinds[math.random(#kinds)]
                elseif (faults:incr("count", -1, 0) or -1) < 0 then
                    return
                end
                faults:incr("served", 1, 0)
                faults:incr("served_" .. mode, 1, 0)
                local stall_s = faults:get("stall_s") or 5

                local function error_reply(status, code, message)
                    ngx.status = status
                    ngx.header["Content-Type"] = "application/xml"
                    ngx.say("<?xml version=\"1.0\"?><Error><Code>" .. code
                            .. "</Code><Message>" .. message .. "</Message></Error>")
                    return ngx.exit(status)
                end

                -- The requested range, announced in full as a 206.
                local function partial_reply()
                    local first, last = ngx.var.http_range:match("bytes=(%d+)-(%d+)")
                    local f = io.open(ngx.var.request_filename, "rb")
                    local size = f:seek("end")
                    first, last = tonumber(first), math.min(tonumber(last), size - 1)
                    f:seek("set", first)
                    local data = f:read(last - first + 1)
                    f:close()
                    ngx.status = 206
                    ngx.header["Content-Length"] = #data
                    ngx.header["Content-Range"] = "bytes " .. first .. "-" .. last .. "/" .. size
                    return data
                end

                if mode == "slowdown" then
                    return error_reply(503, "SlowDown", "Please reduce your request rate.")
                elseif mode == "error500" then
                    return error_reply(500, "InternalError", "We encountered an internal error.")
                elseif mode == "close" then
                    return ngx.exit(444)  -- close without a response
                elseif mode == "stall" then
                    ngx.sleep(stall_s)  -- then the content phase serves the range
                elseif mode == "short" then
                    -- Announce the whole range, send half, drop the connection.
                    local data = partial_reply()
                    ngx.print(data:sub(1, math.floor(#data / 2)))
                    ngx.flush(true)
                    return ngx.exit(444)
                elseif mode == "stall_body" then
                    local data = partial_reply()
                    local half = math.floor(#data / 2)
                    ngx.print(data:sub(1, half))
                    ngx.flush(true)
                    ngx.sleep(stall_s)
                    ngx.print(data:sub(half + 1))  -- fails if the client left
                    return ngx.exit(ngx.HTTP_OK)
                end
            }
"""

_CONTROL = r"""
        location = /__faults {
            content_by_lua_block {
                local args = ngx.req.get_uri_args()
                local faults = ngx.shared.faults
                faults:flush_all()
                faults:set("mode", args.mode)
                faults:set("count", tonumber(args.count) or 0)
                faults:set("stall_s", tonumber(args.stall_s) or 5)
                faults:set("rate", tonumber(args.rate) or 0)
                faults:set("kinds", args.kinds or "")
                ngx.say("ok")
            }
        }
        location = /__served {
            content_by_lua_block {
                local faults = ngx.shared.faults
                ngx.say("served ", faults:get("served") or 0)
                ngx.say("gets ", faults:get("gets") or 0)
                ngx.say("checksum_gets ", faults:get("checksum_gets") or 0)
                for _, key in ipairs(faults:get_keys(0)) do
                    if key:match("^served_") then ngx.say(key, " ", faults:get(key)) end
                end
            }
        }
"""


class FaultyS3(EmulatedS3):
    def __init__(self, root_dir, **kwargs):
        kwargs.setdefault("latency_s", 0)
        kwargs.setdefault("rate", None)
        super().__init__(root_dir, **kwargs)

    def _config(self):
        conf = super()._config()
        latency = f"access_by_lua_block {{ ngx.sleep({self.latency_s!r}) }}"
        assert latency in conf, "EmulatedS3's config changed shape"
        conf = conf.replace(latency, _ACCESS.strip())
        conf = conf.replace("http {", "http {\n    lua_shared_dict faults 1m;" + _INIT, 1)
        return conf.replace("        location = / {", _CONTROL + "        location = / {", 1)

    def _get(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", path)
        body = conn.getresponse().read().decode().strip()
        conn.close()
        return body

    def faults(self, mode=None, count=0, stall_s=5, *, rate=0.0, kinds=KINDS):
        """Fault the next `count` ranged GETs as `mode`, or with
        mode="random" each ranged GET with probability `rate` as one of
        `kinds` (a sequence, drawn uniformly, or {kind: integer weight});
        faults(None) stops faulting. Resets every counter."""
        if isinstance(kinds, dict):
            kinds = [k for k, weight in kinds.items() for _ in range(weight)]
        unknown = set(kinds) - set(KINDS)
        if mode not in (None, "random", *KINDS) or unknown:
            raise ValueError(f"unknown fault mode {mode!r} or kinds {sorted(unknown)}")
        query = urllib.parse.urlencode(
            {"mode": mode or "", "count": count, "stall_s": stall_s,
             "rate": rate, "kinds": ",".join(kinds)})
        assert self._get(f"/__faults?{query}") == "ok"

    def _counters(self):
        lines = self._get("/__served").splitlines()
        return {key: int(value) for key, value in (line.split() for line in lines)}

    def served(self):
        """How many requests were faulted since the last faults() call."""
        return self._counters()["served"]

    def served_by_kind(self):
        """{kind: faulted requests} since the last faults() call (every kind
        in KINDS, 0 when none was served)."""
        counters = self._counters()
        return {k: counters.get(f"served_{k}", 0) for k in KINDS}

    def gets(self):
        """Ranged GETs received since the last faults() call."""
        return self._counters()["gets"]

    def checksum_gets(self):
        """Ranged GETs since the last faults() call that asked for the
        object's checksums (header x-amz-checksum-mode)."""
        return self._counters()["checksum_gets"]


@contextlib.contextmanager
def serving(root_dir, tag):
    """FaultyS3 over `root_dir`, with made-up credentials (`tag` in the key
    id) in the environment and no endpoint variables: tests pass the
    endpoint through S3Options. Restores the environment afterwards."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("AWS_ACCESS_KEY_ID", f"{tag}-test-key")
        mp.setenv("AWS_SECRET_ACCESS_KEY", f"{tag}-test-secret")
        mp.setenv("AWS_REGION", "us-east-1")
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        with FaultyS3(str(root_dir)) as s3:
            yield s3
    finally:
        mp.undo()


def data_root(tmp_path_factory, tag):
    """A fresh directory with a data/ folder for FaultyS3 to serve; skips the
    test where the emulated server cannot run here."""
    try:
        EmulatedS3.check()
    except Unavailable as e:
        pytest.skip(e.reason)
    root = tmp_path_factory.mktemp(f"{tag}-s3")
    os.makedirs(root / "data")
    return root


def read_key(s3, key, **options):
    """The records of `key` read by FFMRecordDataset in small chunks (many
    ranged GETs), with S3Options(**options) against `s3`."""
    opts = tf_ffm.S3Options(endpoint_url=s3.endpoint, **options)
    ds = tf_ffm.FFMRecordDataset([f"s3://{s3.bucket}/{key}"], s3=opts,
                                 chunk_size=64 << 10, first_chunk_size=16 << 10)
    return [x.numpy() for x in ds]

