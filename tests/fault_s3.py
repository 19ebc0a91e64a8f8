"""An emulated S3 endpoint that misbehaves on request, for fault tests.

FaultyS3 is the benchmark's nginx endpoint plus a control URL: a test sets
`faults(mode, count)` and the next `count` ranged GETs fail that way:

  slowdown  503 with S3's SlowDown error body (throttling)
  short     half the announced body arrives, then the connection drops
  stall     the first byte waits `stall_s` seconds
  error500  500 InternalError
HEAD requests (object size) are never faulted.
"""
import http.client
import urllib.parse

from tf_ffm.bench.servers import EmulatedS3

_ACCESS = r"""
            access_by_lua_block {
                local faults = ngx.shared.faults
                if ngx.req.get_method() ~= "GET" or not ngx.var.http_range then return end
                local mode = faults:get("mode")
                if not mode or (faults:incr("count", -1, 0) or -1) < 0 then return end
                faults:incr("served", 1, 0)
                if mode == "slowdown" then
                    ngx.status = 503
                    ngx.header["Content-Type"] = "application/xml"
                    ngx.say("<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
                            .. "<Message>Please reduce your request rate.</Message></Error>")
                    return ngx.exit(503)
                elseif mode == "error500" then
                    ngx.status = 500
                    ngx.header["Content-Type"] = "application/xml"
                    ngx.say("<?xml version=\"1.0\"?><Error><Code>InternalError</Code>"
                            .. "<Message>We encountered an internal error.</Message></Error>")
                    return ngx.exit(500)
                elseif mode == "stall" then
                    ngx.sleep(faults:get("stall_s") or 5)
                elseif mode == "short" then
                    -- Announce the whole range, send half, drop the connection.
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
                    ngx.print(data:sub(1, math.floor(#data / 2)))
                    ngx.flush(true)
                    return ngx.exit(444)
                end
            }
"""

_CONTROL = r"""
        location = /__faults {
            content_by_lua_block {
                local args = ngx.req.get_uri_args()
                local faults = ngx.shared.faults
                faults:set("mode", args.mode)
                faults:set("count", tonumber(args.count) or 0)
                faults:set("stall_s", tonumber(args.stall_s) or 5)
                faults:set("served", 0)
                ngx.say("ok")
            }
        }
        location = /__served {
            content_by_lua_block { ngx.say(ngx.shared.faults:get("served") or 0) }
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
        conf = conf.replace("http {", "http {\n    lua_shared_dict faults 1m;", 1)
        return conf.replace("        location = / {", _CONTROL + "        location = / {", 1)

    def _get(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", path)
        body = conn.getresponse().read().decode().strip()
        conn.close()
        return body

    def faults(self, mode=None, count=0, stall_s=5):
        query = urllib.parse.urlencode(
            {"mode": mode or "", "count": count, "stall_s": stall_s})
        assert self._get(f"/__faults?{query}") == "ok"

    def served(self):
        """How many requests were faulted since the last faults() call."""
        return int(self._get("/__served"))
