#!/usr/bin/python3
"""Writes the hand-made seeds of tests/fuzz/corpus/<target>/ (seed-*).

Each input starts with two bytes the targets read as options (limits, or
half-close and piecewise writes, or fuzz_websocket's settings) and a split
seed; the rest is what a client sends. Files that libFuzzer adds to the
corpus (named by their hash) are left alone.
"""

import os
import struct
import zlib

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


# fuzz_websocket: frames a client sends after the upgrade. Byte 0 is the
# reader's settings: bit 0 permessage-deflate, bit 1 the client's context
# takeover, bits 2-3 the limits (1: 64 KiB, 2: 100-byte frames, 3: 100-byte
# messages), bits 4-6 the client's window bits less 8.
DEFLATE, TAKEOVER = 0x01, 0x02
SMALL, FRAME_100, MESSAGE_100 = 0x04, 0x08, 0x0C
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2 = 0x40, 0x20
KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")


def ws_frame(opcode, payload, fin=True, rsv=0, mask=b"\x37\xfa\x21\x3d", width=None):
    """A client frame with any bits, masked unless mask is None, with a
    length field of the given width (7, 16 or 64 bits; the shortest by default)."""
    size = len(payload)
    width = width or (7 if size < 126 else 16 if size < 65536 else 64)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mask_bit = 0x80 if mask else 0
    if width == 7:
        head += bytes([mask_bit | size])
    elif width == 16:
        head += bytes([mask_bit | 126]) + struct.pack(">H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", size)
    if not mask:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def deflated(data, compressor=None):
    """A permessage-deflate payload (RFC 7692 7.2.1), as Python's websockets makes it."""
    compressor = compressor or zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def takeover_pair(window_bits):
    compressor = zlib.compressobj(wbits=-window_bits)
    text = b"context takeover: the second message refers to the first " * 2
    return (ws_frame(TEXT, deflated(text, compressor), rsv=RSV1)
            + ws_frame(TEXT, deflated(text, compressor), rsv=RSV1))


COMPRESSED = deflated(b"Hello, hello, hello! " * 8)
WS_SEEDS = {
    # Good frames of each kind.
    "text": (0, ws_frame(TEXT, b"Hello")),
    "binary-16bit-length": (0, ws_frame(BINARY, bytes(range(256)) * 2)),
    "binary-64bit-length": (0, ws_frame(BINARY, b"x" * 300, width=64)),
    "empty-text": (0, ws_frame(TEXT, b"")),
    "ping-pong": (0, ws_frame(PING, b"p") + ws_frame(PONG, b"")),
    "close": (0, ws_frame(CLOSE, b"\x03\xe8bye")),
    "close-empty": (0, ws_frame(CLOSE, b"")),
    "fragmented-text-ping-between": (0, ws_frame(TEXT, b"frag", fin=False)
                                     + ws_frame(PING, b"p") + ws_frame(CONT, b"ment")),
    "fragmented-binary": (0, ws_frame(BINARY, b"a", fin=False) + ws_frame(CONT, b"", fin=False)
                          + ws_frame(CONT, b"b")),
    "kosme": (0, ws_frame(TEXT, KOSME)),
    "code-point-across-fragments": (0, ws_frame(TEXT, KOSME[:3], fin=False)
                                    + ws_frame(CONT, KOSME[3:])),
    "several-messages": (0, ws_frame(TEXT, b"one") + ws_frame(BINARY, b"two")
                         + ws_frame(CLOSE, b"\x0f\xa0") + ws_frame(TEXT, b"after")),
    # Each way to fail.
    "autobahn-6.4.1": (0, ws_frame(TEXT, KOSME, fin=False)
                       + ws_frame(CONT, bytes.fromhex("f4908080"), fin=False)
                       + ws_frame(CONT, b"edited")),
    "surrogate": (0, ws_frame(TEXT, b"\xed\xa0\x80")),
    "text-cut-in-a-code-point": (0, ws_frame(TEXT, KOSME + b"\xce")),
    "rsv2": (0, ws_frame(TEXT, b"x", rsv=RSV2)),
    "rsv1-without-deflate": (0, ws_frame(TEXT, b"x", rsv=RSV1)),
    "reserved-opcode": (0, ws_frame(0xB, b"x")),
    "unmasked": (0, ws_frame(TEXT, b"x", mask=None)),
    "continuation-without-message": (0, ws_frame(CONT, b"x")),
    "message-inside-fragmented": (0, ws_frame(TEXT, b"a", fin=False) + ws_frame(BINARY, b"b")),
    "fragmented-ping": (0, ws_frame(PING, b"p", fin=False)),
    "ping-126-bytes": (0, ws_frame(PING, b"p" * 126)),
    "close-one-byte": (0, ws_frame(CLOSE, b"\x03")),
    "close-code-1005": (0, ws_frame(CLOSE, b"\x03\xed")),
    "close-reason-not-utf8": (0, ws_frame(CLOSE, b"\x03\xe8\xff")),
    "length-top-bit": (0, bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + b"mask"),
    "frame-past-limit": (FRAME_100, ws_frame(BINARY, b"x" * 101)),
    "message-past-limit": (MESSAGE_100, ws_frame(BINARY, b"x" * 60, fin=False)
                           + ws_frame(CONT, b"y" * 60)),
    # permessage-deflate.
    "deflate-text": (DEFLATE, ws_frame(TEXT, COMPRESSED, rsv=RSV1)),
    "deflate-binary": (DEFLATE, ws_frame(BINARY, deflated(bytes(range(256)) * 4), rsv=RSV1)),
    "deflate-empty": (DEFLATE, ws_frame(TEXT, deflated(b""), rsv=RSV1)),
    "deflate-fragmented": (DEFLATE, ws_frame(TEXT, COMPRESSED[:5], fin=False, rsv=RSV1)
                           + ws_frame(PING, b"p") + ws_frame(CONT, COMPRESSED[5:])),
    "deflate-and-plain": (DEFLATE, ws_frame(TEXT, b"plain") + ws_frame(TEXT, COMPRESSED, rsv=RSV1)),
    "deflate-rsv1-on-continuation": (DEFLATE, ws_frame(TEXT, COMPRESSED[:5], fin=False, rsv=RSV1)
                                     + ws_frame(CONT, COMPRESSED[5:], rsv=RSV1)),
    "deflate-corrupt": (DEFLATE, ws_frame(BINARY, b"\x06", rsv=RSV1)),
    "deflate-not-utf8": (DEFLATE, ws_frame(TEXT, deflated(KOSME + b"\xff"), rsv=RSV1)),
    "deflate-bomb": (DEFLATE | SMALL, ws_frame(BINARY, deflated(bytes(1 << 20)), rsv=RSV1)),
    "deflate-takeover": (DEFLATE | TAKEOVER | (7 << 4), takeover_pair(15)),
    "deflate-takeover-window-9": (DEFLATE | TAKEOVER | (1 << 4), takeover_pair(9)),
    "deflate-no-takeover": (DEFLATE, takeover_pair(15)),
}

folder = os.path.join(HERE, "corpus", "fuzz_websocket")
os.makedirs(folder, exist_ok=True)
for name, (settings, data) in WS_SEEDS.items():
    # Whole-ish pieces, and some fed a byte or a few at a time.
    for suffix, split in (("", 0x00), ("-v1", 0x07)):
        if suffix and not name.startswith(("fragmented", "autobahn", "deflate-fragmented",
                                           "deflate-takeover", "kosme", "several")):
            continue
        with open(os.path.join(folder, "seed-%s%s" % (name, suffix)), "wb") as f:
            f.write(bytes([settings, split]) + data)
