#!/usr/bin/python3
"""Writes the hand-made seeds of tests/fuzz/corpus/<target>/ (seed-*).

Each input starts with two bytes the targets read as options (limits, or
half-close and piecewise writes) and a split seed; the rest is what a
client sends. Files that libFuzzer adds to the corpus (named by their hash)
are left alone.
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def frame(opcode, payload, mask=b"\x01\x02\x03\x04"):
    """A masked client frame (RFC 6455 5.2)."""
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def upgrade(path, extra=b"", version=b"13", key=KEY, http=b"HTTP/1.1"):
    return (b"GET " + path + b" " + http + b"\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
            b"Sec-WebSocket-Version: " + version + b"\r\n" + extra + b"\r\n")


GET = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
SEEDS = {
    "get": GET,
    "get-close": b"GET /hello/world?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "get-http10": b"GET /hello/%41%20b HTTP/1.0\r\n\r\n",
    "head": b"HEAD /only-get HTTP/1.1\r\nHost: a\r\n\r\n",
    "options-star": b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "absolute-uri": b"GET http://localhost/item/42 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "post-length": b"POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
                   b"Content-Type: text/plain\r\n\r\nhello world",
    "post-chunked": b"POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    "post-expect": b"POST /body HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                   b"Content-Length: 3\r\n\r\nabc",
    "post-form": b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: 7\r\n\r\na=1&b=2",
    "put-405": b"PUT /only-get HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    "pipelined": GET + b"GET /hello/x HTTP/1.1\r\nHost: a\r\n\r\n"
                 b"POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok"
                 b"GET /away HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "forward": b"GET /old/fwd HTTP/1.1\r\nHost: a\r\n\r\n",
    "filter-403": b"GET /guarded HTTP/1.1\r\nHost: a\r\n\r\n",
    "not-found": b"GET /nothing/here HTTP/1.1\r\nHost: a\r\n\r\n",
    "ws-plain-426": b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n",
    "ws-echo": upgrade(b"/echo") + frame(1, b"Hi") + frame(2, b"\x00\x01")
               + frame(9, b"p") + frame(8, b"\x03\xe8bye"),
    "ws-chat": upgrade(b"/chat/room1", b"Origin: http://localhost\r\n") + frame(1, b"x" * 200),
    "ws-guarded": upgrade(b"/guarded", b"X-Token: secret\r\n") + frame(1, b"ok"),
    "ws-guarded-403": upgrade(b"/guarded"),
    "ws-protocol": upgrade(b"/echo", b"Sec-WebSocket-Protocol: chat, echo.v1\r\n"),
    "ws-version-8": upgrade(b"/echo", version=b"8"),
    "ws-bad-key": upgrade(b"/echo", key=b"c2hvcnQ="),
    "ws-http10": upgrade(b"/echo", http=b"HTTP/1.0"),
    "ws-no-route": upgrade(b"/nowhere"),
    "bad-method-501": b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",
    "bad-line": b"hello there\r\n\r\n",
    "bad-version": b"GET / HTTP/9.9\r\nHost: a\r\n\r\n",
    "no-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "space-in-name": b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "bad-target": b"GET hello HTTP/1.1\r\nHost: a\r\n\r\n",
    "connect": b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
    "expect-417": b"GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n",
    "cl-and-te": b"POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two-lengths": b"POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "huge-length": b"POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
    "bad-chunk": b"POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "long-uri": b"GET /" + b"a" * 600 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    "many-headers": b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(
        b"X-%d: v\r\n" % i for i in range(40)) + b"\r\n",
    "folded-header": b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "incomplete": b"GET /hello/x HTTP/1.1\r\nHost: a\r\n",
    "nul-in-target": b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n",
    "utf8-path": b"GET /hello/%C3%A9t%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n",
}

# Per target, the option bytes each seed is written with: fuzz_request reads
# byte 0 as the limits (odd: small ones); fuzz_server as bit 0 half-close,
# bit 1 piecewise writes.
OPTIONS = {
    "fuzz_request": [b"\x00\x00", b"\x21\x07"],
    "fuzz_server": [b"\x00\x00", b"\x03\x05"],
}

for target, prefixes in OPTIONS.items():
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, data in SEEDS.items():
        for i, prefix in enumerate(prefixes):
            # The second variant only where splitting or small limits matter.
            if i and name not in ("get", "pipelined", "post-chunked", "ws-echo", "long-uri",
                                  "many-headers", "post-length", "bad-method-501"):
                continue
            suffix = "" if i == 0 else "-v%d" % i
            with open(os.path.join(folder, "seed-%s%s" % (name, suffix)), "wb") as f:
                f.write(prefix + data)
