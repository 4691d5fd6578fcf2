#!/usr/bin/python3
"""permessage-deflate (RFC 7692) in the sluice app, from the outside.

Usage: e2e_deflate.py PATH/TO/sluice

Runs `sluice --headless` on 127.0.0.1 with port 0: once with its default
config (ws:/echo, ws:/chat/<room> compressed), and with temporary configs for
context takeover, window bits, thresholds, a route without compression, a
small maxWebSocketMessageBytes, and QtWebSockets' engine. Checks, each with a
time bound:
- Debian's python3-websockets with compression on and off: what is
  negotiated, echoes of text and binary at every size around the threshold
  and up to 1 MiB, order over 500 messages sent before reading;
- a raw-socket client of our own for what is on the wire: RSV1 and the size
  of the server's frames, messages the client compresses (fragmented, with
  BFINAL, empty), context takeover both ways, window bits (decoded with an
  inflater that refuses distances past its window), bad input (does not
  inflate: 1007; inflates past the limit: 1009, and the server's memory stays
  put; RSV1 where nothing was negotiated: 1002) and offers to decline;
- a chat room with three compressing members and one that is not;
- Node's ws client (tests/e2e/nodeclient.js), when node is installed;
- the Qt engine declines every offer and still echoes.
Prints PASS/FAIL per check and "N passed, M failed"; exits non-zero on any
failure, and stops every server it started.
"""

import asyncio
import base64
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import websockets
import websockets.exceptions
from websockets.extensions.permessage_deflate import (ClientPerMessageDeflateFactory,
                                                      PerMessageDeflate)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RUN_SECONDS = 240  # a last resort: SIGALRM ends a run that hangs anyway
STEP_SECONDS = 20  # any one python3-websockets check
IO_SECONDS = 5  # any one read or write of the raw client
NODE_SECONDS = 60  # one run of nodeclient.js
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "..", "bench", "node")
NODE_CLIENT = os.path.join(HERE, "nodeclient.js")

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TAIL = b"\x00\x00\xff\xff"  # RFC 7692 7.2.1: stripped by the sender
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 1, 2, 8, 9, 10, 0
DEFAULT_ANSWER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
SIZES = (0, 1, 63, 64, 65, 1000, 65536, 1 << 20)
LIMIT = 65536  # maxWebSocketMessageBytes of the "limited" server
BOMB_BYTES = 48 << 20  # inflated size of the zip bomb; compressed it stays under LIMIT

checks = harness.Checks(timeout=STEP_SECONDS)


# --- the server ---------------------------------------------------------

def server_env(**extra):
    """No display, no logging rules and no engine choice of the caller's."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "QT_LOGGING_RULES",
                        "SLUICE_WEBSOCKET_ENGINE")}
    env.update(extra)
    return env


class Sluice(harness.SluiceApp):
    """harness.SluiceApp without the caller's engine choice, with a check
    that it is still running."""

    def __init__(self, binary, tmp, name, config=None, env=None):
        super().__init__(binary, tmp, name, config, env or server_env())

    def check_alive(self):
        checks.check("%s: server still running" % self.name, self.running(),
                     "exited with %r; stderr %r" % (self.returncode,
                                                    harness.read_file(self.log_path)[-500:]))


def sync_check(name, function, *args):
    """A check written as a plain function that returns (ok, detail); an
    exception is a FAIL with its traceback. The raw client's socket timeouts
    bound its time."""
    try:
        ok, detail = function(*args)
    except Exception as error:  # noqa: BLE001 - every failure is reported
        checks.fail_with(name, error)
        return False
    return checks.check(name, ok, detail)


# --- messages -----------------------------------------------------------

def pseudo_text(size, rnd):
    """ASCII text of size bytes: not too compressible, and bytes == characters."""
    return "".join(rnd.choices("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ,.0123456789", k=size))


def repetitive_json(count):
    return json.dumps({"type": "readings",
                       "rows": [{"id": i, "name": "sensor-%d" % (i % 10), "status": "ok",
                                 "value": i * 0.5, "tags": ["alpha", "beta", "gamma"]}
                                for i in range(count)]})


def sample_messages():
    """Text and binary at every size in SIZES, JSON, UTF-8, random and zero bytes."""
    rnd = random.Random(7692)
    messages = []
    for size in SIZES:
        messages.append(pseudo_text(size, rnd))
        messages.append(rnd.randbytes(size))
    messages.append(repetitive_json(500))
    messages.append(repetitive_json(500).encode())
    messages.append("h\u00e9llo w\u00f6rld \u2713 \U0001F600 " * 100)
    messages.append(bytes(100000))
    return messages


def describe(message):
    if isinstance(message, str):
        return "text of %d bytes" % len(message.encode())
    return "binary of %d bytes" % len(message)


def sequence(count):
    """Small messages either side of the threshold, text and binary mixed."""
    out = []
    for i in range(count):
        text = json.dumps({"seq": i, "kind": "tick", "pad": "x" * (i % 130)})
        out.append(text.encode() if i % 3 == 2 else text)
    return out


def deflate(data, compressor=None, wbits=15, level=6):
    """data compressed as one permessage-deflate message (tail stripped)."""
    compressor = compressor or zlib.compressobj(level, zlib.DEFLATED, -wbits)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL), "zlib's sync flush did not end with 00 00 ff ff"
    return out[:-4]


def inflate(payload, decompressor=None, wbits=15):
    decompressor = decompressor or zlib.decompressobj(wbits=-wbits)
    return decompressor.decompress(payload + TAIL)


def inflate_strict(payload, wbits):
    """Inflates with a window of 2^wbits bytes that is really enforced.

    zlib's inflate only checks a match's distance against its window when the
    match reaches back past the start of the current output buffer; with one
    big buffer (a plain decompress()) a 10-bit inflater happily copies from
    30 KB back. Asking for 64 bytes at a time makes every distance over 64
    go through the window, so a distance past 2^wbits fails ("invalid distance
    too far back"). Python's zlib takes wbits=-8 for decompressobj (it only
    refuses 8 for compressobj), so an 8-bit window is checked as such.
    """
    decompressor = zlib.decompressobj(wbits=-wbits)
    data, out = payload + TAIL, []
    while True:
        chunk = decompressor.decompress(data, 64)
        data = decompressor.unconsumed_tail
        out.append(chunk)
        if not data and not chunk:
            return b"".join(out)


# --- a raw WebSocket client ---------------------------------------------

class Closed(Exception):
    """The server sent a close frame."""

    def __init__(self, code, reason):
        super().__init__("closed by the server: %r %r" % (code, reason))
        self.code = code
        self.reason = reason


class Frame:
    def __init__(self, fin, rsv1, opcode, payload):
        self.fin, self.rsv1, self.opcode, self.payload = fin, rsv1, opcode, payload


class Message:
    def __init__(self, opcode, rsv1, payload, frames):
        self.opcode, self.rsv1, self.payload, self.frames = opcode, rsv1, payload, frames


def mask(payload, key):
    if not payload:
        return b""
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


class RawClient:
    """A client with the frames in our hands: handshake (with the given
    Sec-WebSocket-Extensions offer, or none), masked frames with any RSV1,
    and the server's frames as they came. Every read has IO_SECONDS."""

    def __init__(self, port, path, offer=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_SECONDS)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if offer is not None:
            lines.append("Sec-WebSocket-Extensions: " + offer)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = bytearray()
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        end = self.buffer.index(b"\r\n\r\n")
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        del self.buffer[:end + 4]
        self.status_line = head[0]
        self.headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if not head[0].startswith("HTTP/1.1 101 ") \
                or self.headers.get("sec-websocket-accept") != [accept]:
            self.sock.close()
            raise RuntimeError("handshake failed: %r" % head)

    @property
    def extensions(self):
        """The Sec-WebSocket-Extensions answer, or None without one."""
        values = self.headers.get("sec-websocket-extensions")
        return ", ".join(values) if values else None

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def _take(self, n):
        while len(self.buffer) < n:
            self._fill()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def send_frame(self, opcode, payload, fin=True, rsv1=False):
        first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", first, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", first, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", first, 0x80 | 127, n)
        key = os.urandom(4)
        self.sock.sendall(head + key + mask(payload, key))

    def send_compressed(self, opcode, data, compressor=None):
        self.send_frame(opcode, deflate(data, compressor), rsv1=True)

    def read_frame(self):
        first, second = self._take(2)
        if second & 0x80:
            raise RuntimeError("a masked frame from the server")
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8))[0]
        return Frame(bool(first & 0x80), bool(first & 0x40), first & 0x0F, self._take(n))

    def read_message(self):
        """The next text or binary message; pings are answered, a close raises Closed."""
        frames = []
        while True:
            frame = self.read_frame()
            if frame.opcode == PING:
                self.send_frame(PONG, frame.payload)
                continue
            if frame.opcode == PONG:
                continue
            if frame.opcode == CLOSE:
                code = struct.unpack("!H", frame.payload[:2])[0] if len(frame.payload) >= 2 \
                    else None
                raise Closed(code, frame.payload[2:].decode(errors="replace"))
            frames.append(frame)
            if frame.fin:
                return Message(frames[0].opcode, frames[0].rsv1,
                               b"".join(f.payload for f in frames), frames)

    def close_code(self):
        """The code of the server's close frame (messages before it skipped);
        None when the connection ends without one."""
        try:
            while True:
                self.read_message()
        except Closed as closed:
            return closed.code
        except ConnectionError:
            return None

    def echo(self, opcode, payload, compressed=False, compressor=None):
        if compressed:
            self.send_compressed(opcode, payload, compressor)
        else:
            self.send_frame(opcode, payload)
        return self.read_message()

    def close(self):
        try:
            self.send_frame(CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def echoed(message, opcode, data, decompressor=None, wbits=15):
    """Whether message is data of opcode, inflating it when RSV1 says so."""
    if message.opcode != opcode:
        return False
    payload = inflate(message.payload, decompressor, wbits) if message.rsv1 else message.payload
    return payload == data


def expect_close(port, path, offer, send, code):
    """Connects, lets send(client) misbehave, and wants the server to close with code."""
    with RawClient(port, path, offer) as client:
        send(client)
        got = client.close_code()
        return got == code, "close code %r, expected %r" % (got, code)


# --- python3-websockets -------------------------------------------------

def connect(url, **kwargs):
    kwargs.setdefault("open_timeout", 10)
    kwargs.setdefault("close_timeout", 5)
    kwargs.setdefault("max_size", 8 << 20)
    kwargs.setdefault("ping_interval", None)
    return websockets.connect(url, **kwargs)


def deflate_extension(ws):
    extensions = [e for e in ws.extensions if isinstance(e, PerMessageDeflate)]
    return extensions[0] if len(extensions) == 1 and len(ws.extensions) == 1 else None


async def expect_echoes(ws, messages):
    for index, message in enumerate(messages):
        await ws.send(message)
        reply = await asyncio.wait_for(ws.recv(), 10)
        assert reply == message, "message %d (%s): echo is %s%s" % (
            index, describe(message), describe(reply),
            " with other bytes" if type(reply) is type(message) else "")


async def expect_burst(ws, messages):
    """All sent before the first is read: the echoes come back, in order."""
    for message in messages:
        await ws.send(message)
    for index, message in enumerate(messages):
        reply = await asyncio.wait_for(ws.recv(), 10)
        assert reply == message, "echo %d is %r, expected %r" % (index, reply[:80], message[:80])


async def library_negotiates(url, expected_header, no_takeover):
    async with connect(url) as ws:
        header = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        assert header == [expected_header], "Sec-WebSocket-Extensions %r, expected %r" % (
            header, expected_header)
        extension = deflate_extension(ws)
        assert extension is not None, "ws.extensions is %r" % ws.extensions
        takeover = (extension.remote_no_context_takeover, extension.local_no_context_takeover)
        assert takeover == (no_takeover, no_takeover), \
            "(server, client)_no_context_takeover %r, expected %r" % (takeover, no_takeover)


async def library_echoes(url, messages, compression, burst=500):
    kwargs = {} if compression else {"compression": None}
    async with connect(url, **kwargs) as ws:
        header = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        if compression:
            assert deflate_extension(ws) is not None, "not negotiated: %r, header %r" % (
                ws.extensions, header)
        else:
            assert ws.extensions == [] and header == [], "negotiated without an offer: %r %r" % (
                ws.extensions, header)
        await expect_echoes(ws, messages)
        await expect_burst(ws, sequence(burst))


async def library_declined(url, messages):
    """The default client's offer is declined; messages still echo."""
    async with connect(url) as ws:
        header = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        assert header == [] and ws.extensions == [], "negotiated: %r %r" % (header,
                                                                            ws.extensions)
        await expect_echoes(ws, messages)


async def library_window_bits(url, expected_header, client_bits):
    factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    async with connect(url, compression=None, extensions=[factory]) as ws:
        header = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        assert header == [expected_header], "Sec-WebSocket-Extensions %r, expected %r" % (
            header, expected_header)
        extension = deflate_extension(ws)
        assert extension is not None and extension.local_max_window_bits == client_bits, \
            "client window %r" % (extension and extension.local_max_window_bits)
        # Similar messages with the client's context kept in a 2^client_bits window.
        await expect_burst(ws, sequence(300))
        await expect_echoes(ws, [repetitive_json(300), os.urandom(5000) * 4])


async def chat_room(server):
    """Four members of room1 (the last without compression) and one of room2:
    each room1 member gets every other member's messages once, in each
    sender's order, and never its own; room2 hears nothing."""
    members, everyone = [], []
    try:
        for index in range(4):
            kwargs = {} if index < 3 else {"compression": None}
            members.append(await connect(server.url("/chat/room1"), **kwargs))
            everyone.append(members[-1])
        outsider = await connect(server.url("/chat/room2"))
        everyone.append(outsider)
        for index, ws in enumerate(members):
            negotiated = deflate_extension(ws) is not None
            assert negotiated == (index < 3), "member %d: extensions %r" % (index, ws.extensions)
        # The 101 may leave before the member is in the room; give joins a moment.
        await asyncio.sleep(0.5)
        per_sender = 12

        def as_text(m):
            return m.decode() if isinstance(m, bytes) else m

        def message(sender, seq):
            body = {"from": sender, "seq": seq, "text": "hello " * (500 if seq % 4 == 1 else 3)}
            text = json.dumps(body)
            return text.encode() if seq % 4 == 3 else text

        async def speak(sender):
            for seq in range(per_sender):
                await members[sender].send(message(sender, seq))

        async def listen(receiver):
            expected = sorted(as_text(message(s, q)) for s in range(len(members))
                              if s != receiver for q in range(per_sender))
            got = []
            while len(got) < len(expected):
                got.append(await asyncio.wait_for(members[receiver].recv(), 10))
            # A duplicate or a stray would come with the rest; a moment more catches it.
            try:
                extra = await asyncio.wait_for(members[receiver].recv(), 0.5)
                raise AssertionError("member %d got a message too many: %r" % (receiver,
                                                                                 extra[:80]))
            except asyncio.TimeoutError:
                pass
            decoded = [as_text(g) for g in got]
            assert sorted(decoded) == expected, "member %d: got %d messages, %d expected, " \
                "first difference %r" % (receiver, len(got), len(expected),
                                         next((a for a, b in zip(sorted(decoded), expected)
                                               if a != b), None))
            for sender in range(len(members)):
                seqs = [json.loads(d)["seq"] for d in decoded if json.loads(d)["from"] == sender]
                assert seqs == sorted(seqs), "member %d got %d's messages out of order: %r" % (
                    receiver, sender, seqs)
            for g in got:
                seq = json.loads(g)["seq"]
                assert isinstance(g, bytes) == (seq % 4 == 3), "message %r came as %s" % (
                    g[:60], type(g).__name__)

        listeners = [asyncio.ensure_future(listen(r)) for r in range(len(members))]
        await asyncio.gather(*(speak(s) for s in range(len(members))))
        await asyncio.gather(*listeners)
        try:
            stray = await asyncio.wait_for(outsider.recv(), 0.3)
            raise AssertionError("room2 got %r" % stray[:80])
        except asyncio.TimeoutError:
            pass
    finally:
        await asyncio.gather(*(ws.close() for ws in everyone), return_exceptions=True)


# --- the checks, by server ------------------------------------------------

async def default_library_checks(server, messages):
    echo = server.url("/echo")
    await checks.run("default config ws:/echo: python3-websockets negotiates " + DEFAULT_ANSWER,
                     library_negotiates(echo, DEFAULT_ANSWER, True))
    await checks.run("compression on: text and binary at %s bytes, JSON, UTF-8, random and "
                     "zeros echo; 500 sent before reading come back in order"
                     % "/".join(map(str, SIZES)), library_echoes(echo, messages, True))
    await checks.run("compression off (compression=None): no extension, the same echoes",
                     library_echoes(echo, messages, False))
    await checks.run("default config ws:/contentType negotiates too and answers",
                     content_type(server.url("/contentType")))
    await checks.run("chat room1: 3 compressing members and 1 plain each get every other "
                     "member's messages once, in order; room2 hears nothing", chat_room(server))


async def content_type(url):
    async with connect(url) as ws:
        header = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        assert header == [DEFAULT_ANSWER], "header %r" % header
        await ws.send("png")
        reply = await asyncio.wait_for(ws.recv(), 10)
        assert reply == "image/png", "png -> %r" % reply


def wire_threshold(port):
    problems = []
    with RawClient(port, "/echo", "permessage-deflate") as client:
        if client.extensions != DEFAULT_ANSWER:
            problems.append("answer %r" % client.extensions)
        big = (b'{"event": "update", "value": 42}, ' * 300)[:10240]
        for opcode, data, compressed in ((TEXT, big, True), (BINARY, bytes(10240), True),
                                         (TEXT, b"0123456789", False),
                                         (TEXT, b"a" * 63, False), (TEXT, b"a" * 64, True),
                                         (BINARY, b"\x01" * 63, False),
                                         (BINARY, b"\x01" * 64, True)):
            reply = client.echo(opcode, data)
            label = "%s of %d bytes" % ("text" if opcode == TEXT else "binary", len(data))
            if reply.rsv1 != compressed:
                problems.append("%s: RSV1 %r, expected %r" % (label, reply.rsv1, compressed))
            if not echoed(reply, opcode, data):
                problems.append("%s: echo does not decode to the message" % label)
            if compressed and len(data) >= 10240 and len(reply.payload) * 10 > len(data):
                problems.append("%s: compressed frame of %d bytes is not much smaller"
                                % (label, len(reply.payload)))
            if any(f.rsv1 for f in reply.frames[1:]):
                problems.append("%s: RSV1 on a continuation frame" % label)
    return not problems, "; ".join(problems)


def wire_small_threshold(port):
    """A route with "threshold": 1 compresses a 10-byte message."""
    with RawClient(port, "/small", "permessage-deflate") as client:
        reply = client.echo(TEXT, b"0123456789")
        return (client.extensions == DEFAULT_ANSWER and reply.rsv1
                and echoed(reply, TEXT, b"0123456789"),
                "answer %r, RSV1 %r" % (client.extensions, reply.rsv1))


def wire_client_compressed(port):
    problems = []
    with RawClient(port, "/echo", "permessage-deflate") as client:
        big = repetitive_json(200).encode()
        cases = [("10 KB JSON text", TEXT, big), ("binary zeros", BINARY, bytes(30000)),
                 ("5-byte text", TEXT, b"hello"), ("UTF-8 text", TEXT,
                                                    "h\u00e9llo \u2713 ".encode() * 50)]
        for label, opcode, data in cases:
            reply = client.echo(opcode, data, compressed=True)
            if not echoed(reply, opcode, data):
                problems.append("%s: wrong echo" % label)
        # Empty: zlib's sync flush of nothing (02 00 once the tail is off) ...
        reply = client.echo(TEXT, b"", compressed=True)
        if not echoed(reply, TEXT, b""):
            problems.append("empty (02 00): echo %r" % reply.payload)
        # ... and an RSV1 frame with no payload at all (RFC 7692 7.2.3.6).
        client.send_frame(BINARY, b"", rsv1=True)
        reply = client.read_message()
        if not echoed(reply, BINARY, b""):
            problems.append("empty payload: echo %r" % reply.payload)
        # Ending the deflate stream (BFINAL) is allowed (RFC 7692 7.2.3.3).
        finisher = zlib.compressobj(6, zlib.DEFLATED, -15)
        final = finisher.compress(big) + finisher.flush(zlib.Z_FINISH)
        client.send_frame(TEXT, final, rsv1=True)
        if not echoed(client.read_message(), TEXT, big):
            problems.append("BFINAL stream: wrong echo")
        # Fragmented: RSV1 on the first frame only.
        payload = deflate(big)
        third = len(payload) // 3
        client.send_frame(TEXT, payload[:third], fin=False, rsv1=True)
        client.send_frame(CONTINUATION, payload[third:2 * third], fin=False)
        client.send_frame(CONTINUATION, payload[2 * third:])
        if not echoed(client.read_message(), TEXT, big):
            problems.append("fragmented: wrong echo")
        # A ping between compressed fragments is answered, and the message still echoes.
        client.send_frame(BINARY, payload[:third], fin=False, rsv1=True)
        client.send_frame(PING, b"between")
        client.send_frame(CONTINUATION, payload[third:])
        frame = client.read_frame()
        if frame.opcode != PONG or frame.payload != b"between":
            problems.append("ping between fragments: got opcode %d" % frame.opcode)
        if not echoed(client.read_message(), BINARY, big):
            problems.append("fragments around a ping: wrong echo")
    return not problems, "; ".join(problems)


def wire_no_takeover(port):
    """Without context takeover, the same message twice: the same frame, and
    each decodes with a fresh inflater."""
    with RawClient(port, "/echo", "permessage-deflate") as client:
        data = json.dumps({"user": "ada", "action": "update", "fields": list(range(60))}).encode()
        first, second = client.echo(TEXT, data), client.echo(TEXT, data)
        ok = (first.rsv1 and second.rsv1 and first.payload == second.payload
              and echoed(first, TEXT, data) and echoed(second, TEXT, data))
        return ok, "frames of %d and %d bytes, RSV1 %r %r" % (
            len(first.payload), len(second.payload), first.rsv1, second.rsv1)


def wire_takeover(port):
    """serverContextTakeover: the second identical message's frame is smaller,
    and both decode with one inflater kept across them; clientContextTakeover:
    messages compressed with one compressor kept across them echo."""
    problems = []
    with RawClient(port, "/takeover", "permessage-deflate") as client:
        if client.extensions != "permessage-deflate":
            problems.append("answer %r, expected 'permessage-deflate'" % client.extensions)
        data = json.dumps({"user": "ada", "action": "update", "fields": list(range(60))}).encode()
        first, second = client.echo(TEXT, data), client.echo(TEXT, data)
        decompressor = zlib.decompressobj(wbits=-15)
        if not (first.rsv1 and second.rsv1 and echoed(first, TEXT, data, decompressor)
                and echoed(second, TEXT, data, decompressor)):
            problems.append("the two echoes do not decode with one inflater")
        if not len(second.payload) * 2 < len(first.payload):
            problems.append("second frame %d bytes, first %d: the window did not carry over"
                            % (len(second.payload), len(first.payload)))
        # The client keeps its context: later messages refer back to earlier ones.
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        sizes = []
        for i in range(20):
            message = json.dumps({"user": "ada", "seq": i, "fields": list(range(60))}).encode()
            payload = deflate(message, compressor)
            sizes.append(len(payload))
            client.send_frame(TEXT if i % 2 else BINARY, payload, rsv1=True)
            reply = client.read_message()
            if not echoed(reply, TEXT if i % 2 else BINARY, message, decompressor):
                problems.append("message %d compressed with the kept context: wrong echo" % i)
                break
        if not sizes[-1] * 2 < sizes[0]:
            problems.append("(test) the client's later messages are not smaller: %r" % sizes)
    return not problems, "; ".join(problems)


def strict_decoder_self_test():
    """inflate_strict must refuse a stream that reaches past its window, or the
    window checks below could not fail."""
    data = os.urandom(2000) * 5
    wide = deflate(data, wbits=15, level=9)
    problems = []
    for bits in (10, 8):
        try:
            inflate_strict(wide, bits)
            problems.append("a %d-bit inflater took 2000-byte distances" % bits)
        except zlib.error:
            pass
    if inflate_strict(wide, 15) != data:
        problems.append("a 15-bit inflater got other bytes")
    return not problems, "; ".join(problems)


def wire_window_bits(port, offer, expected_answer, bits):
    """The server compresses within 2^bits: what it sends decodes with an
    inflater of that window, distances checked. The message repeats blocks at
    distances just inside and well outside the window."""
    near = (bits == 8 and 100) or (1 << bits) // 4
    far = (1 << bits) + 500
    data = os.urandom(near) * 20 + os.urandom(far) * 4
    with RawClient(port, "/echo", offer) as client:
        reply = client.echo(BINARY, data)
        if client.extensions != expected_answer:
            return False, "answer %r, expected %r" % (client.extensions, expected_answer)
        if not reply.rsv1:
            return False, "not compressed"
        try:
            decoded = inflate_strict(reply.payload, bits)
        except zlib.error as error:
            return False, "does not decode with a %d-bit window: %s" % (bits, error)
        return decoded == data and len(reply.payload) < len(data), \
            "decodes to other bytes, or %d bytes compressed to %d" % (len(data),
                                                                     len(reply.payload))


def wire_config_window(port):
    """A route with "serverMaxWindowBits": 11 keeps to it unasked."""
    data = os.urandom(512) * 10 + os.urandom(2600) * 3
    with RawClient(port, "/bits", "permessage-deflate") as client:
        reply = client.echo(BINARY, data)
        try:
            decoded = inflate_strict(reply.payload, 11)
        except zlib.error as error:
            return False, "does not decode with an 11-bit window: %s" % error
        # The route lets clients keep their context: no client_no_context_takeover.
        expected = "permessage-deflate; server_no_context_takeover"
        return (reply.rsv1 and decoded == data and client.extensions == expected,
                "RSV1 %r, answer %r, expected %r" % (reply.rsv1, client.extensions, expected))


OFFERS = [
    # (offer, the answer expected: None for declined)
    ("permessage-deflate; foo=1", None),
    ("permessage-deflate; server_max_window_bits=7", None),
    ("permessage-deflate; server_max_window_bits=010", None),
    ("permessage-deflate; server_max_window_bits", None),
    ("permessage-deflate; server_no_context_takeover=1", None),
    ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", None),
    ("x-webkit-deflate-frame", None),
    ("permessage-deflate; foo=1, permessage-deflate", DEFAULT_ANSWER),
    ("x-unknown, permessage-deflate; client_max_window_bits", DEFAULT_ANSWER),
    ('permessage-deflate; server_max_window_bits="12"',
     DEFAULT_ANSWER + "; server_max_window_bits=12"),
    ("PerMessage-Deflate; Server_No_Context_Takeover", DEFAULT_ANSWER),
]


def wire_offer(port, offer, expected):
    """The answer to offer; declined or not, the connection works."""
    with RawClient(port, "/echo", offer) as client:
        data = b"still works " * 1000
        reply = client.echo(TEXT, data)
        ok = client.extensions == expected and reply.rsv1 == (expected is not None) \
            and echoed(reply, TEXT, data)
        return ok, "answer %r, expected %r; RSV1 %r" % (client.extensions, expected, reply.rsv1)


def bad_input_checks(server, plain_server_port):
    port = server.port
    sync_check("compressed frame that does not inflate (ff ff ff ff): close 1007",
               expect_close, port, "/echo", "permessage-deflate",
               lambda c: c.send_frame(BINARY, b"\xff\xff\xff\xff", rsv1=True), 1007)
    sync_check("compressed text that inflates to bad UTF-8: close 1007",
               expect_close, port, "/echo", "permessage-deflate",
               lambda c: c.send_compressed(TEXT, b"ok \xff\xfe"), 1007)
    sync_check("RSV1 without an offer on ws:/echo: close 1002",
               expect_close, port, "/echo", None,
               lambda c: c.send_compressed(TEXT, b"hello " * 20), 1002)
    sync_check("RSV1 on a continuation frame: close 1002",
               expect_close, port, "/echo", "permessage-deflate",
               lambda c: (c.send_frame(TEXT, deflate(b"ab"), fin=False, rsv1=True),
                          c.send_frame(CONTINUATION, b"", rsv1=True)), 1002)
    sync_check("RSV1 on a ping: close 1002",
               expect_close, port, "/echo", "permessage-deflate",
               lambda c: c.send_frame(PING, b"", rsv1=True), 1002)

    def no_compression_route():
        with RawClient(plain_server_port, "/plain", "permessage-deflate") as client:
            if client.extensions is not None:
                return False, "offer accepted: %r" % client.extensions
            data = b"uncompressed " * 100
            reply = client.echo(TEXT, data)
            if reply.rsv1 or reply.payload != data:
                return False, "echo RSV1 %r" % reply.rsv1
            client.send_compressed(TEXT, data)
            code = client.close_code()
            return code == 1002, "close code %r, expected 1002" % code
    sync_check('"compression": false: offer declined, echo plain, RSV1 closes with 1002',
               no_compression_route)
    for offer, expected in OFFERS:
        sync_check("offer %r: %s, connection works" % (
            offer, "declined" if expected is None else "answered %r" % expected),
            wire_offer, port, offer, expected)


def bomb_checks(server):
    """The limited server (maxWebSocketMessageBytes 65536)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(BOMB_BYTES >> 20))
    bomb += compressor.flush(zlib.Z_SYNC_FLUSH)
    bomb = bomb[:-4]
    checks.check("(test) the bomb: %d MiB of zeros in %d bytes, under the limit of %d"
                 % (BOMB_BYTES >> 20, len(bomb), LIMIT), len(bomb) < LIMIT - 1024,
                 "%d bytes compressed" % len(bomb))

    def at_the_limit():
        with RawClient(server.port, "/echo", "permessage-deflate") as client:
            reply = client.echo(BINARY, bytes(LIMIT), compressed=True)
            if not echoed(reply, BINARY, bytes(LIMIT)):
                return False, "no echo of %d bytes" % LIMIT
            client.send_compressed(BINARY, bytes(LIMIT + 1))
            code = client.close_code()
            return code == 1009, "%d bytes inflated: close code %r" % (LIMIT + 1, code)
    sync_check("limit 65536: a compressed message of 65536 bytes echoes, 65537 closes with 1009",
               at_the_limit)

    rss_before, hwm_before = server.memory_kib()
    codes = []
    for opcode in (BINARY, TEXT, BINARY, TEXT):
        with RawClient(server.port, "/echo", "permessage-deflate") as client:
            client.send_frame(opcode, bomb, rsv1=True)
            codes.append(client.close_code())
    rss_after, hwm_after = server.memory_kib()
    checks.check("zip bomb (%d MiB of zeros, binary and text, 4 times): close 1009 each time"
                 % (BOMB_BYTES >> 20), codes == [1009] * 4, "close codes %r" % codes)
    limit_kib = (BOMB_BYTES >> 10) // 4
    print("# limited server: VmRSS %d -> %d KiB, VmHWM %d -> %d KiB over the bombs"
          % (rss_before, rss_after, hwm_before, hwm_after), flush=True)
    checks.check("zip bomb: the server's VmRSS and VmHWM grow by less than a quarter of the "
                 "inflated size", rss_after - rss_before < limit_kib
                 and hwm_after - hwm_before < limit_kib,
                 "VmRSS %d -> %d KiB, VmHWM %d -> %d KiB (limit +%d KiB)"
                 % (rss_before, rss_after, hwm_before, hwm_after, limit_kib))
    sync_check("after the bombs the limited server still echoes compressed messages",
               lambda: wire_no_takeover(server.port))


# --- Node's ws client -----------------------------------------------------

def node_ready():
    """node's path, or None (a SKIP) when node is not installed at all; installs
    the ws package with npm ci when it is missing."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        checks.skip("nodeclient.js", "node is not installed (scripts/deps.sh: nodejs, npm)")
        return None
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ws")):
        npm = shutil.which("npm")
        if not npm:
            checks.check("nodeclient.js: the ws package", False,
                         "tests/bench/node/node_modules/ws is missing and npm is not installed")
            return None
        print("# npm ci in tests/bench/node (the ws package)", flush=True)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
        if not checks.check("npm ci in tests/bench/node", done.returncode == 0,
                            done.stdout.decode(errors="replace")[-500:]
                            + done.stderr.decode(errors="replace")[-500:]):
            return None
    return node


def run_node(node, name, url, *args):
    try:
        done = subprocess.run([node, NODE_CLIENT, url, *args], capture_output=True,
                              timeout=NODE_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        checks.check(name, False, "nodeclient.js ran past %d s" % NODE_SECONDS)
        return
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    checks.check(name, done.returncode == 0 and last.startswith("nodeclient: PASS "),
                 "exit %r: %s %s" % (done.returncode, last,
                                     done.stderr.decode(errors="replace")[-300:]))


async def takeover_echoes(url, messages):
    async with connect(url) as ws:
        header = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        assert header == ["permessage-deflate"], "header %r" % header
        extension = deflate_extension(ws)
        assert extension is not None and not extension.remote_no_context_takeover \
            and not extension.local_no_context_takeover, "extensions %r" % ws.extensions
        await expect_burst(ws, sequence(500))
        await expect_echoes(ws, messages)
        await expect_burst(ws, sequence(100))


# --- the run --------------------------------------------------------------

def custom_config():
    echo = lambda uri, compression: {"uri": uri, "handler": "echo",  # noqa: E731
                                     "compression": compression}
    return {"routes": [
        echo("ws:/echo", True),
        echo("ws:/takeover", {"serverContextTakeover": True, "clientContextTakeover": True}),
        echo("ws:/bits", {"clientContextTakeover": True, "clientMaxWindowBits": 9,
                          "serverMaxWindowBits": 11}),
        echo("ws:/small", {"threshold": 1, "level": 9}),
        echo("ws:/plain", False),
    ]}


def run_checks(binary, tmp):
    messages = sample_messages()
    node = node_ready()
    sync_check("(test) the strict inflater refuses distances past its window",
               strict_decoder_self_test)

    with Sluice(binary, tmp, "default") as server:
        asyncio.run(default_library_checks(server, messages))
        sync_check("on the wire: 10 KB repetitive text and 10 KB zeros go out with RSV1 and "
                   "under a tenth of their size; 10 and 63 bytes without RSV1, 64 with",
                   wire_threshold, server.port)
        sync_check("on the wire: messages the client compresses are taken (text, binary, "
                   "UTF-8, empty, BFINAL, fragmented, a ping between fragments)",
                   wire_client_compressed, server.port)
        sync_check("on the wire without context takeover: the same message twice, the same "
                   "frame, each decodes alone", wire_no_takeover, server.port)
        sync_check("window bits: offer server_max_window_bits=10; client_max_window_bits -> "
                   "server_max_window_bits=10, decodes with a 10-bit window",
                   wire_window_bits, server.port,
                   "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
                   DEFAULT_ANSWER + "; server_max_window_bits=10", 10)
        sync_check("window bits: offer server_max_window_bits=8 -> server_max_window_bits=8, "
                   "decodes with an 8-bit window (zlib deflates with 9 bits, distances < 256)",
                   wire_window_bits, server.port, "permessage-deflate; server_max_window_bits=8",
                   DEFAULT_ANSWER + "; server_max_window_bits=8", 8)
        with Sluice(binary, tmp, "custom", custom_config()) as custom:
            bad_input_checks(server, custom.port)
            takeover = custom.url("/takeover")

            async def custom_library_checks():
                await checks.run('"serverContextTakeover"/"clientContextTakeover": '
                                 'python3-websockets negotiates "permessage-deflate" (no '
                                 'no_context_takeover), 500 similar and the sample messages '
                                 'echo', takeover_echoes(takeover, messages))
                await checks.run('"clientMaxWindowBits": 9: python3-websockets is asked for '
                                 'client_max_window_bits=9 and its messages echo',
                                 library_window_bits(custom.url("/bits"), "permessage-deflate; "
                                                     "server_no_context_takeover; "
                                                     "client_max_window_bits=9", 9))
            asyncio.run(custom_library_checks())
            sync_check("on the wire with context takeover: the second identical message's "
                       "frame is less than half the first's; the client's kept context works",
                       wire_takeover, custom.port)
            sync_check('"serverMaxWindowBits": 11: output decodes with an 11-bit window',
                       wire_config_window, custom.port)
            sync_check('"threshold": 1: a 10-byte message goes out compressed',
                       wire_small_threshold, custom.port)
            if node:
                run_node(node, "nodeclient.js (ws, perMessageDeflate: true) on ws:/echo",
                         server.url("/echo"), "--expect-header", DEFAULT_ANSWER)
                run_node(node, "nodeclient.js (ws, perMessageDeflate: {threshold: 0}) on ws:/echo",
                         server.url("/echo"), "--threshold", "0", "--expect-header",
                         DEFAULT_ANSWER)
                run_node(node, "nodeclient.js (ws, threshold 0) with context takeover both ways",
                         takeover, "--threshold", "0", "--expect-header", "permessage-deflate")
                run_node(node, "nodeclient.js (ws, threshold 0) with client_max_window_bits=9",
                         custom.url("/bits"), "--threshold", "0", "--expect-header",
                         "permessage-deflate; server_no_context_takeover; "
                         "client_max_window_bits=9")
            custom.check_alive()
        server.check_alive()

    limited = {"limits": {"maxWebSocketMessageBytes": LIMIT},
               "routes": [{"uri": "ws:/echo", "handler": "echo", "compression": True}]}
    with Sluice(binary, tmp, "limited", limited) as server:
        bomb_checks(server)
        server.check_alive()

    qt = {"webSocketEngine": "qt",
          "routes": [{"uri": "ws:/echo", "handler": "echo", "compression": True}]}
    with Sluice(binary, tmp, "qt-engine", qt) as server:
        asyncio.run(checks.run('"webSocketEngine": "qt": the offer is declined, text and '
                               'binary still echo', library_declined(server.url("/echo"),
                                                                     messages)))
        sync_check('"webSocketEngine": "qt": a raw offer gets no answer, echo uncompressed',
                   wire_offer, server.port, "permessage-deflate", None)
        if node:
            run_node(node, 'nodeclient.js on "webSocketEngine": "qt": declined, echoes',
                     server.url("/echo"), "--expect-extensions", "", "--expect-header", "")
        server.check_alive()
    with Sluice(binary, tmp, "qt-env", env=server_env(SLUICE_WEBSOCKET_ENGINE="qt")) as server:
        asyncio.run(checks.run("SLUICE_WEBSOCKET_ENGINE=qt with the default config: declined, "
                               "echoes", library_declined(server.url("/echo"), messages[:8])))
        server.check_alive()


class RunTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise RunTimeout("the run took longer than %d s" % RUN_SECONDS)


def main():
    if len(sys.argv) < 2:
        print("usage: e2e_deflate.py PATH/TO/sluice", file=sys.stderr)
        return 2
    print("# websockets %s, zlib %s" % (websockets.__version__, zlib.ZLIB_RUNTIME_VERSION))
    binary = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="sluice-e2e-deflate-")
    started = time.monotonic()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(RUN_SECONDS)
    try:
        run_checks(binary, tmp)
    except Exception as error:  # noqa: BLE001 - a broken setup is a failure too
        checks.fail_with("setup", error)
    finally:
        signal.alarm(0)
        shutil.rmtree(tmp, ignore_errors=True)
    print("# %.1f s" % (time.monotonic() - started))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
