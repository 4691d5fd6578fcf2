#!/usr/bin/python3
"""WebSocket conformance client: the Autobahn|Testsuite "fuzzingclient" cases
1 to 13, rewritten for Python 3's standard library, run against an echo
endpoint.

Usage:
    conformance.py ws://127.0.0.1:PORT/echo [--cases SPEC] [--skip SPEC]
                   [--json-out FILE] [--quick] [--strict-close] [--list] [-v]

SPEC is a comma-separated list of items, each one of
    6.4.1       one case          12.1.*   a wildcard (as Autobahn's config)
    6.4         a sub-category    9        a whole category
    1-11        a range of whole categories
The default runs everything (1-10, 12, 13; Autobahn has no category 11).

What it covers, case by case the same as Autobahn's public case definitions
(crossbario/autobahn-testsuite, autobahntestsuite/case/), with its own code:
    1  framing (text and binary, payload lengths at the 7/16/64-bit borders)
    2  pings and pongs             3  reserved bits      4  reserved opcodes
    5  fragmentation, control frames between fragments, pauses of 1 s
    6  UTF-8: valid and invalid text, split at every octet, fail-fast (6.4)
    7  close handling: codes, reasons, frames after close, echoed codes
    9  limits and performance (messages up to 16 MiB, chops, round trips)
    10 auto-fragmentation
    12 permessage-deflate on five kinds of payload (RFC 7692)
    13 permessage-deflate with each parameter set Autobahn offers
The 12.x/13.x payloads are generated here (Autobahn ships files we cannot
use); they have the same kinds (JSON, bitmap, German text, HTML, PDF-like),
sizes close to Autobahn's, and are sliced the same way.

How it judges: exactly as Autobahn's case.py does. Every case records the
events it sees (messages, pongs, fail-fast "timeouts"), compares them with
the expected lists (OK, NON-STRICT) and then judges the closing: who sent
the first close frame (closedByMe), whether the TCP close was clean, the
server's close code, and who dropped the TCP connection. The result printed
is Autobahn's "behavior": OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or
FAILED; Autobahn's separate close verdict (OK, WRONG CODE, UNCLEAN, FAILED BY
CLIENT, FAILED) is shown as a detail and makes a case fail only where
Autobahn lets it (7.x wrong codes, 6.x closing by the wrong endpoint), or
everywhere with --strict-close. The client itself behaves like Autobahn's
(autobahn-python 0.10, failByDrop off): it fails a connection by sending a
close frame (1002, 1007) and waiting, replies 1000 to a server's close,
waits 1 s for the close reply and 1 s for the server to drop TCP, and
kills/closes after the same delays the cases use. permessage-deflate cases
offer what Autobahn offers, check the server's answer against RFC 7692, and
are UNIMPLEMENTED when the server declines.

--quick runs 12.x/13.x with 10 messages instead of 1000, 9.x with sizes
divided by 16 and 100 instead of 1000 round trips, and shortens the
deliberate pauses (5.19, 5.20, 6.4.x) from 1 s to 0.2 s. Without it the
counts, sizes and pauses are Autobahn's.

Every case runs on its own connection and has a hard time bound (its own
timers plus a margin). One line per case: "<id> <RESULT> <description>
[: detail]", then a summary line. Exits 1 when any case is FAILED or
UNIMPLEMENTED, 2 on bad usage, 0 otherwise. --json-out writes every case's
verdict, close details and timing.

Where it knowingly differs from Autobahn (all stricter or bounded):
  * 9.1-9.6 also compare the echoed content, not only type and length.
  * A permessage-deflate answer that parses but breaks RFC 7692 (a
    server_max_window_bits larger than offered, no server_no_context_takeover
    where it was asked for) fails the handshake; Autobahn accepts any
    answer it can parse.
  * After answering a server's close frame Autobahn waits for the server to
    drop TCP until the case's own kill timer fires, or forever; we drop after
    2 s, with the same verdict (FAILED BY CLIENT) its kill timer gives.

An 8-bit window (offered in 13.3, 13.5, 13.7) is inflated with 8 bits, as
Autobahn does. zlib cannot deflate raw with 8 bits; a server that gets 8
can use zlib's 9-bit deflate, whose distances never exceed 250 octets
(Node turns 8 into 9 by itself). When a server asks this client for 8
bits, it does the same.

Check the client first against a known-good server, Node's `ws`, which passes
every case as OK, NON-STRICT or INFORMATIONAL (after `npm ci` in tests/bench/node):
    node tests/bench/node/echo.js --port 0 --deflate --deflate-threshold 0
"""

import argparse
import asyncio
import base64
import codecs
import collections
import hashlib
import json
import math
import os
import random
import re
import socket
import struct
import sys
import time
import zlib
from urllib.parse import urlsplit

# --- verdicts and protocol constants ------------------------------------

OK = "OK"
NON_STRICT = "NON-STRICT"
INFORMATIONAL = "INFORMATIONAL"
UNIMPLEMENTED = "UNIMPLEMENTED"
FAILED = "FAILED"
RESULTS = (OK, NON_STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED)

# Autobahn's verdicts on the closing alone.
WRONG_CODE = "WRONG CODE"
UNCLEAN = "UNCLEAN"
FAILED_BY_CLIENT = "FAILED BY CLIENT"

CONNECTING, OPEN, CLOSING, CLOSED = "CONNECTING", "OPEN", "CLOSING", "CLOSED"

NORMAL, GOING_AWAY, PROTOCOL_ERROR, INVALID_PAYLOAD = 1000, 1001, 1002, 1007
# The close codes in 1000-2999 that the Autobahn client accepts from a peer;
# any other code below 3000 (or >= 5000) makes it fail the connection.
ALLOWED_CLOSE_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011}

# The Autobahn client's timeouts, in seconds.
OPEN_HANDSHAKE_TIMEOUT = 5
CLOSE_HANDSHAKE_TIMEOUT = 1
SERVER_DROP_TIMEOUT = 1
# Autobahn sets no timer after answering a server's close frame and waits
# for the server to drop TCP for as long as the case lives; we bound that.
REPLY_DROP_WAIT = 2
# Added to a case's own timers to get its hard time bound.
GUARD_MARGIN = 5
CONNECT_TIMEOUT = 10

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFLATE_TRAILER = b"\x00\x00\xff\xff"


# --- framing helpers ----------------------------------------------------

def mask_bytes(key, data, offset=0):
    """XOR data with the 4-octet key, starting at key position `offset`.
    Done on one big integer so that 16 MiB messages stay fast."""
    n = len(data)
    if n == 0:
        return b""
    key = key[offset % 4:] + key[:offset % 4]
    stream = (key * (n // 4 + 1))[:n]
    value = int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")
    return value.to_bytes(n, "little")


def frame_header(opcode, length, fin=True, rsv=0, key=None):
    b0 = (0x80 if fin else 0) | ((rsv % 8) << 4) | (opcode % 128)
    mask_bit = 0x80 if key is not None else 0
    if length <= 125:
        head = struct.pack("!BB", b0, mask_bit | length)
    elif length <= 0xFFFF:
        head = struct.pack("!BBH", b0, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", b0, mask_bit | 127, length)
    return head + (key or b"")


def encode_frame(opcode, payload, fin=True, rsv=0):
    """A client frame: always masked with a fresh random key."""
    key = os.urandom(4)
    return frame_header(opcode, len(payload), fin, rsv, key) + mask_bytes(key, payload)


def repeat_to(pattern, length):
    """Autobahn's payload_len: the pattern repeated and cut to `length`."""
    return (pattern * (length // len(pattern) + 1))[:length]


def close_code_allowed(code):
    """Whether the Autobahn client accepts this code in a peer's close."""
    return 3000 <= code <= 4999 or code in ALLOWED_CLOSE_CODES


def is_valid_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


class Utf8Check:
    """Incremental UTF-8 validation with Autobahn's two answers per chunk:
    is everything so far valid, and does it end on a code point border."""

    def __init__(self):
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.bad = False

    def feed(self, data):
        if not self.bad:
            try:
                self.decoder.decode(data)
            except UnicodeDecodeError:
                self.bad = True
        if self.bad:
            return False, False
        return True, self.decoder.getstate()[0] == b""


# --- opening handshake helpers -------------------------------------------

class HandshakeError(Exception):
    pass


def parse_http_head(raw):
    """Status line and headers (lower-case names, list of values)."""
    lines = raw.decode("iso-8859-1").split("\r\n")
    headers = collections.defaultdict(list)
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip().lower()].append(value.strip())
    return lines[0].strip(), headers


def parse_extensions(value):
    """[(name, [(param, value or None), ...]), ...] from one header value."""
    result = []
    for item in value.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params = []
        for part in parts[1:]:
            key, sep, val = part.partition("=")
            val = val.strip().strip('"') if sep else None
            params.append((key.strip().lower(), val))
        result.append((parts[0].lower(), params))
    return result


# --- permessage-deflate (RFC 7692) ----------------------------------------

class Offer:
    """One permessage-deflate offer as Autobahn makes it: the client always
    allows the server to ask for client_no_context_takeover and a
    client_max_window_bits, and may ask for the server's two parameters."""

    def __init__(self, server_no_context_takeover=False, server_max_window_bits=0):
        self.server_no_context_takeover = server_no_context_takeover
        self.server_max_window_bits = server_max_window_bits

    def header(self):
        text = "permessage-deflate; client_no_context_takeover; client_max_window_bits"
        if self.server_no_context_takeover:
            text += "; server_no_context_takeover"
        if self.server_max_window_bits:
            text += "; server_max_window_bits=%d" % self.server_max_window_bits
        return text

    def describe(self):
        return "(%s, %d)" % (self.server_no_context_takeover, self.server_max_window_bits)

    def accepts(self, params):
        """Whether a response with these parameters answers this offer."""
        if self.server_no_context_takeover and "server_no_context_takeover" not in params:
            return False
        if self.server_max_window_bits:
            bits = params.get("server_max_window_bits")
            if bits is None or bits > self.server_max_window_bits:
                return False
        return True


WINDOW_BITS = re.compile(r"^(8|9|1[0-5])$")


def check_deflate_response(raw_params, offers):
    """The server's permessage-deflate parameters, checked against RFC 7692
    section 7 and against what was offered. Raises HandshakeError."""
    params = {}
    for key, value in raw_params:
        if key in params:
            raise HandshakeError("permessage-deflate parameter %s given twice" % key)
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                raise HandshakeError("%s takes no value" % key)
            params[key] = True
        elif key in ("server_max_window_bits", "client_max_window_bits"):
            if value is None or not WINDOW_BITS.match(value):
                raise HandshakeError("invalid %s=%s" % (key, value))
            params[key] = int(value)
        else:
            raise HandshakeError("unknown permessage-deflate parameter %s" % key)
    if not any(offer.accepts(params) for offer in offers):
        raise HandshakeError("permessage-deflate response fits none of the offers")
    return params


class Deflate:
    """The client's side of a negotiated permessage-deflate."""

    def __init__(self, params):
        self.params = params
        self.client_no_context = "client_no_context_takeover" in params
        self.server_no_context = "server_no_context_takeover" in params
        self.client_bits = params.get("client_max_window_bits", 15)
        self.server_bits = params.get("server_max_window_bits", 15)
        self.encoder = None
        self.decoder = None

    def compress(self, data):
        if self.encoder is None or self.client_no_context:
            # zlib refuses raw deflate with an 8-bit window, so a server that
            # asks us for 8 bits gets zlib's 9-bit deflate, which is still
            # right for it: zlib never emits a distance beyond the window
            # less 262 octets, 250 here, within an 8-bit inflater's reach.
            bits = max(9, self.client_bits)
            self.encoder = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits, 8)
        out = self.encoder.compress(data) + self.encoder.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4]  # strip 00 00 ff ff (RFC 7692 7.2.1)

    def start_decompress(self):
        if self.decoder is None or self.server_no_context:
            # Exactly the negotiated window, as Autobahn: zlib can inflate
            # with 8 bits, and a server granted 8 must stay within them.
            self.decoder = zlib.decompressobj(-self.server_bits)

    def decompress(self, data):
        return self.decoder.decompress(data)

    def end_decompress(self):
        out = self.decoder.decompress(DEFLATE_TRAILER)
        if self.decoder.eof:
            # The server ended its stream (BFINAL); start afresh next time.
            self.decoder = None
        return out


# --- the client side of one case ----------------------------------------

class Target:
    def __init__(self, url):
        parts = urlsplit(url)
        if parts.scheme != "ws" or not parts.hostname:
            raise ValueError("need a ws://host:port/path URL, got %r" % url)
        self.host = parts.hostname
        self.port = parts.port or 80
        self.resource = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.host_header = "%s:%d" % (self.host, self.port)


class Frame:
    def __init__(self, fin, rsv, opcode, length, key):
        self.fin, self.rsv, self.opcode, self.length, self.key = fin, rsv, opcode, length, key


class FuzzClient(asyncio.Protocol):
    """One connection, behaving like Autobahn's fuzzing client: it keeps the
    same flags (closedByMe, failedByMe, droppedByMe, wasClean, remote close
    code) that case.py judges, and offers the same actions to the cases
    (send_frame, send_message, kill_after, close_after, continue_later)."""

    def __init__(self, case, target, done, pause_scale):
        self.case = case
        case.p = self
        self.target = target
        self.done = done
        self.pause_scale = pause_scale
        self.loop = asyncio.get_running_loop()
        self.transport = None
        self.state = CONNECTING
        self.buf = bytearray()
        self.frame = None
        self.in_message = False
        self.timers = []
        self.send_queue = collections.deque()
        self.sending = False
        self.deflate = None
        self.auto_fragment_size = 0
        self.tx_frames = collections.Counter()
        self.stream = None
        self.deadline = self.loop.time() + OPEN_HANDSHAKE_TIMEOUT + GUARD_MARGIN
        self.was_open = False
        self.closed_by_me = self.failed_by_me = self.dropped_by_me = False
        self.was_clean = False
        self.was_not_clean_reason = None
        self.local_close_code = self.remote_close_code = self.remote_close_reason = None
        self.close_timer = None
        self.handshake_error = None
        self.response_extensions = None
        self.guard_expired = False
        self.opened_at = None

    # -- timers, guarded so that a bug in a case cannot hang the run --

    def _later(self, delay, fn, *args):
        handle = self.loop.call_later(delay, self._guarded, fn, *args)
        self.timers.append(handle)
        self.deadline = max(self.deadline, self.loop.time() + delay + GUARD_MARGIN)
        return handle

    def _guarded(self, fn, *args):
        try:
            fn(*args)
        except Exception as exc:  # report, never hang
            self.case.internal_error = "%s: %s" % (type(exc).__name__, exc)
            self._drop(abort=True)

    # -- asyncio callbacks --

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.key = base64.b64encode(os.urandom(16))
        self._write(self._handshake_request())
        self.open_timer = self._later(OPEN_HANDSHAKE_TIMEOUT, self._on_open_timeout)

    def data_received(self, data):
        if self.state == CLOSED:
            return  # Autobahn ignores data once it has dropped the connection
        self.buf += data
        self._guarded(self._consume)

    def eof_received(self):
        return False  # like Twisted: the peer's FIN ends the connection

    def connection_lost(self, exc):
        for handle in self.timers:
            handle.cancel()
        self.state = CLOSED
        if not self.was_clean and not self.dropped_by_me and self.was_not_clean_reason is None:
            self.was_not_clean_reason = ("peer dropped the TCP connection without previous "
                                         "WebSocket closing handshake")
        try:
            self.case.judge()
        finally:
            if not self.done.done():
                self.done.set_result(None)

    def _consume(self):
        if self.state == CONNECTING:
            self._process_handshake()
        if self.state in (OPEN, CLOSING):
            self._process_frames()

    # -- opening handshake --

    def _handshake_request(self):
        lines = [
            "GET %s HTTP/1.1" % self.target.resource,
            "User-Agent: SluiceConformance/1.0",
            "Host: %s" % self.target.host_header,
            "Upgrade: WebSocket",
            "Connection: Upgrade",
            "Pragma: no-cache",
            "Cache-Control: no-cache",
            "Sec-WebSocket-Key: %s" % self.key.decode(),
        ]
        if self.case.offers:
            offers = ", ".join(o.header() for o in self.case.offers)
            lines.append("Sec-WebSocket-Extensions: %s" % offers)
        lines.append("Sec-WebSocket-Version: 13")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _process_handshake(self):
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > 65536:
                self._fail_handshake("response head longer than 64 KiB")
            return
        head = bytes(self.buf[:end + 4])
        del self.buf[:end + 4]
        try:
            self._check_handshake(head)
        except HandshakeError as exc:
            self._fail_handshake(str(exc))
            return
        self.state = OPEN
        self.was_open = True
        self.open_timer.cancel()
        self.opened_at = time.monotonic()
        self.case.on_open()

    def _check_handshake(self, head):
        status, headers = parse_http_head(head)
        parts = status.split()
        if len(parts) < 2 or parts[0] != "HTTP/1.1":
            raise HandshakeError("bad status line %r" % status)
        if parts[1] != "101":
            raise HandshakeError("HTTP status %r instead of 101" % " ".join(parts[1:]))
        if ", ".join(headers.get("upgrade", [])).lower() != "websocket":
            raise HandshakeError("Upgrade header is not 'websocket'")
        tokens = ",".join(headers.get("connection", [])).lower().split(",")
        if "upgrade" not in [t.strip() for t in tokens]:
            raise HandshakeError("Connection header lacks 'upgrade'")
        self._check_accept(headers.get("sec-websocket-accept", []))
        self._check_extensions(headers.get("sec-websocket-extensions", []))
        if any(v.strip() for v in headers.get("sec-websocket-protocol", [])):
            raise HandshakeError("server chose a subprotocol that was not offered")

    def _check_accept(self, values):
        if len(values) != 1:
            raise HandshakeError("%d Sec-WebSocket-Accept headers" % len(values))
        expected = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
        if values[0] != expected:
            raise HandshakeError("Sec-WebSocket-Accept %r, expected %r" % (values[0], expected))

    def _check_extensions(self, values):
        if not values:
            return
        if len(values) > 1:
            raise HandshakeError("Sec-WebSocket-Extensions header appears more than once")
        self.response_extensions = values[0]
        for name, params in parse_extensions(values[0]):
            if name != "permessage-deflate" or not self.case.offers:
                raise HandshakeError("server accepted extension %r, which was not offered" % name)
            if self.deflate is not None:
                raise HandshakeError("permessage-deflate accepted twice")
            self.deflate = Deflate(check_deflate_response(params, self.case.offers))

    def _fail_handshake(self, reason):
        self.handshake_error = reason
        self.was_not_clean_reason = reason
        self._drop(abort=True)

    def _on_open_timeout(self):
        if self.state == CONNECTING:
            self._fail_handshake("opening handshake timed out")

    # -- receiving frames --

    def _process_frames(self):
        while self.state in (OPEN, CLOSING):
            if self.frame is None:
                self.frame = self._take_header()
                if self.frame is None:
                    return
            frame = self.frame
            if len(self.buf) < frame.length:
                return
            payload = bytes(self.buf[:frame.length])
            del self.buf[:frame.length]
            self.frame = None
            if frame.key is not None:
                payload = mask_bytes(frame.key, payload)
            if frame.opcode > 7:
                self._on_control_frame(frame, payload)
            else:
                self._on_data_frame(frame, payload)

    def _take_header(self):
        buf = self.buf
        if len(buf) < 2:
            return None
        length = buf[1] & 0x7F
        masked = bool(buf[1] & 0x80)
        size = 2 + {126: 2, 127: 8}.get(length, 0) + (4 if masked else 0)
        if len(buf) < size:
            return None
        if length == 126:
            length = struct.unpack("!H", buf[2:4])[0]
        elif length == 127:
            length = struct.unpack("!Q", buf[2:10])[0]
        key = bytes(buf[size - 4:size]) if masked else None
        frame = Frame(bool(buf[0] & 0x80), (buf[0] >> 4) & 7, buf[0] & 0x0F, length, key)
        short_length = buf[1] & 0x7F
        del buf[:size]
        # Autobahn goes on reading after a violation (it waits for the close
        # reply), so these checks fail the connection but do not stop us.
        for reason in self._header_violations(frame, short_length):
            self._protocol_violation(reason)
        return frame

    def _header_violations(self, frame, short_length):
        compressing = self.deflate is not None
        if frame.rsv and not (compressing and frame.rsv == 4):
            yield "RSV = %d and no extension negotiated" % frame.rsv
        if frame.key is not None:
            yield "masked server-to-client frame"
        if frame.opcode > 7:
            if not frame.fin:
                yield "fragmented control frame"
            if short_length > 125:
                yield "control frame with payload length > 125 octets"
            if frame.opcode not in (8, 9, 10):
                yield "control frame using reserved opcode %d" % frame.opcode
            if frame.opcode == 8 and short_length == 1:
                yield "close frame with payload length 1"
            if compressing and frame.rsv == 4:
                yield "compressed control frame"
        else:
            if frame.opcode not in (0, 1, 2):
                yield "data frame using reserved opcode %d" % frame.opcode
            if not self.in_message and frame.opcode == 0:
                yield "continuation frame outside a fragmented message"
            if self.in_message and frame.opcode != 0:
                yield "non-continuation data frame inside a fragmented message"
            if compressing and frame.rsv == 4 and self.in_message:
                yield "continuation frame with the compression bit set"
        if short_length == 126 and frame.length < 126:
            yield "frame length not minimally encoded"
        if short_length == 127 and frame.length < 65536:
            yield "frame length not minimally encoded"
        if frame.length > 0x7FFFFFFFFFFFFFFF:
            yield "frame length >= 2^63"

    def _on_control_frame(self, frame, payload):
        if frame.opcode == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) > 1 else None
            reason = payload[2:] if len(payload) > 2 else None
            self._on_close_frame(code, reason)
        elif frame.opcode == 9:
            if self.state == OPEN and len(payload) <= 125:
                self.send_frame(10, payload)
        elif frame.opcode == 10:
            self.case.on_pong(payload)

    def _on_data_frame(self, frame, payload):
        if not self.in_message:
            self._begin_incoming(frame)
        data = payload
        if self.msg_compressed:
            data = self._inflate(self.deflate.decompress, payload)
        self._check_text(data, at_end=False)
        if not self.failed_by_me:
            self.msg_parts.append(data)
        if frame.fin:
            self._end_incoming()

    def _begin_incoming(self, frame):
        self.in_message = True
        self.msg_compressed = self.deflate is not None and frame.rsv == 4
        if self.msg_compressed:
            self.deflate.start_decompress()
        self.msg_utf8 = Utf8Check() if frame.opcode == 1 else None
        self.msg_last_utf8 = (True, True)
        self.msg_binary = frame.opcode == 2
        self.msg_parts = []

    def _end_incoming(self):
        if self.msg_compressed:
            tail = self._inflate(lambda _: self.deflate.end_decompress(), b"")
            if tail:
                self._check_text(tail, at_end=False)
                self.msg_parts.append(tail)
        self._check_text(b"", at_end=True)
        self.in_message = False
        if not self.failed_by_me:
            self.case.on_message(b"".join(self.msg_parts), self.msg_binary)

    def _inflate(self, step, data):
        try:
            return step(data)
        except zlib.error as exc:
            self.deflate.decoder = None
            self._fail_connection(INVALID_PAYLOAD, "decompression failed: %s" % exc)
            return b""

    def _check_text(self, data, at_end):
        # Autobahn checks every frame's data, then once more at the end of
        # the message: one invalid frame fails the connection twice, which
        # (in CLOSING) makes it drop TCP. We keep that behaviour.
        if self.msg_utf8 is None:
            return
        if not at_end:
            self.msg_last_utf8 = self.msg_utf8.feed(data)
            if not self.msg_last_utf8[0]:
                self._fail_connection(INVALID_PAYLOAD, "invalid UTF-8 in text message")
        elif not self.msg_last_utf8[1]:
            self._fail_connection(INVALID_PAYLOAD, "text message ends inside a code point")

    def _on_close_frame(self, code, reason):
        self.remote_close_code = code
        if code is not None and not close_code_allowed(code):
            self._protocol_violation("invalid close code %d" % code)
        if reason is not None:
            if is_valid_utf8(reason):
                self.remote_close_reason = reason.decode("utf-8")
            else:
                self._fail_connection(INVALID_PAYLOAD, "invalid close reason (non-UTF-8 payload)")
        if self.state == CLOSING:
            # The reply to our close: now the server should drop TCP.
            if self.close_timer is not None:
                self.close_timer.cancel()
            self.was_clean = True
            self._later(SERVER_DROP_TIMEOUT, self._on_server_drop_timeout)
        elif self.state == OPEN:
            self.was_clean = True
            self.send_close_frame(NORMAL, is_reply=True)
            self._later(REPLY_DROP_WAIT, self._on_reply_drop_wait)

    def _on_server_drop_timeout(self):
        if self.state != CLOSED:
            self.was_clean = False
            self.was_not_clean_reason = "server did not drop TCP connection (in time)"
            self._drop(abort=True)

    def _on_reply_drop_wait(self):
        # Where Autobahn would wait for its kill timer; the result is the
        # same: we dropped TCP, the close handshake itself stays clean.
        if self.state != CLOSED:
            self.was_not_clean_reason = "server did not drop TCP after the closing handshake"
            self._drop(abort=False)

    def _on_close_handshake_timeout(self):
        if self.state != CLOSED:
            self.was_clean = False
            self.was_not_clean_reason = "peer did not respond (in time) in closing handshake"
            self._drop(abort=True)

    # -- failing and dropping, as Autobahn does with failByDrop off --

    def _fail_connection(self, code=GOING_AWAY, reason="Going Away"):
        if self.state == CLOSED:
            return
        self.failed_by_me = True
        if self.state != CLOSING:
            self.send_close_frame(code, reason.encode("utf-8")[:123])
        else:
            self._drop(abort=False)

    def _protocol_violation(self, reason):
        self._fail_connection(PROTOCOL_ERROR, reason)

    def _drop(self, abort):
        if self.state == CLOSED:
            return
        self.dropped_by_me = True
        self.state = CLOSED
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()

    def on_guard_expired(self):
        self.guard_expired = True
        self.was_clean = False
        self.was_not_clean_reason = "case exceeded its time bound"
        self._drop(abort=True)

    # -- sending: Autobahn's sendData with chops and synchronous writes --

    def _write(self, data):
        if self.state != CLOSED and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send_data(self, data, sync=False, chopsize=None):
        """Chopped or synchronous writes go out one per event-loop turn, so
        each reaches the socket (and the wire, with TCP_NODELAY) alone."""
        if chopsize:
            for i in range(0, len(data), chopsize):
                self.send_queue.append(data[i:i + chopsize])
            self._trigger()
        elif sync or self.send_queue:
            self.send_queue.append(data)
            self._trigger()
        else:
            self._write(data)

    def _trigger(self):
        if not self.sending:
            self.sending = True
            self._send_next()

    def _send_next(self):
        if not self.send_queue:
            self.sending = False
            return
        self._write(self.send_queue.popleft())
        self.loop.call_soon(self._send_next)

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, payload_len=None, chopsize=None,
                   sync=False):
        """A frame exactly as asked, valid or not, in any state."""
        if payload_len is not None:
            payload = repeat_to(payload, payload_len)
        self.tx_frames[opcode] += 1
        self.send_data(encode_frame(opcode, payload, fin, rsv), sync, chopsize)

    def send_message(self, payload, binary=False, fragment_size=None, sync=False):
        if self.state != OPEN:
            return
        opcode = 2 if binary else 1
        rsv = 0
        if self.deflate is not None:
            payload = self.deflate.compress(payload)
            rsv = 4
        size = fragment_size if fragment_size is not None else (self.auto_fragment_size or None)
        if size is None or len(payload) <= size:
            self.send_frame(opcode, payload, rsv=rsv, sync=sync)
            return
        # Autobahn's loop: when the payload is a multiple of the fragment
        # size, the last frame is an empty one carrying FIN.
        start = 0
        while True:
            end = start + size
            last = end > len(payload)
            chunk = payload[start:min(end, len(payload))]
            self.send_frame(opcode, chunk, fin=last, rsv=rsv, sync=sync)
            if last:
                return
            opcode, rsv, start = 0, 0, end

    def begin_message(self, binary=False):
        """Streaming API: one frame whose payload is written in pieces."""
        if self.state == OPEN:
            self.stream = {"opcode": 2 if binary else 1, "key": None, "pos": 0}

    def begin_message_frame(self, length):
        if self.state != OPEN:
            return
        key = os.urandom(4)
        # Autobahn's streaming frames never carry FIN; end_message does.
        self.send_data(frame_header(self.stream["opcode"], length, fin=False, key=key))
        self.tx_frames[self.stream["opcode"]] += 1
        self.stream.update(opcode=0, key=key, pos=0)

    def send_message_frame_data(self, data):
        if self.state != OPEN:
            return
        self.send_data(mask_bytes(self.stream["key"], data, self.stream["pos"]))
        self.stream["pos"] += len(data)

    def end_message(self):
        if self.state == OPEN:
            self.send_frame(0, b"", fin=True)

    def send_close_frame(self, code=None, reason=None, is_reply=False):
        if self.state != OPEN:
            return
        payload = (struct.pack("!H", code) if code is not None else b"") + (reason or b"")
        self.send_frame(8, payload)
        self.state = CLOSING
        self.closed_by_me = not is_reply
        self.local_close_code = code
        if self.closed_by_me:
            self.close_timer = self._later(CLOSE_HANDSHAKE_TIMEOUT,
                                           self._on_close_handshake_timeout)

    def send_close(self, code=None, reason=None):
        data = reason.encode("utf-8")[:123] if reason is not None else None
        self.send_close_frame(code, data)

    # -- the cases' timers --

    def kill_after(self, delay):
        self._later(delay, lambda: self.state != CLOSED and self._fail_connection())

    def close_after(self, delay):
        self._later(delay, lambda: self.state != CLOSED and self.send_close())

    def continue_later(self, delay, fn):
        self._later(delay * self.pause_scale, lambda: self.state != CLOSED and fn())


# --- cases and their judgement -------------------------------------------

def expect_close(by_me, codes, clean, fatal=False):
    """Autobahn's expectedClose."""
    return {"closedByMe": by_me, "closeCode": list(codes), "requireClean": clean,
            "closedByWrongEndpointIsFatal": fatal}


CLEAN_NORMAL = expect_close(True, [NORMAL], True)
SERVER_FAILS = expect_close(False, [PROTOCOL_ERROR], False)
SERVER_FAILS_UTF8 = expect_close(False, [INVALID_PAYLOAD], False, fatal=True)


def msg(payload, binary=False):
    return ("message", payload, binary)


def pong(payload):
    return ("pong", payload)


class Case:
    """One case: set up by `script(p)` when the connection opens, judged
    when it closes. `expected` maps a verdict to the list of events that
    earns it; `hook(case)` adjusts the verdict like Autobahn's subclasses."""

    def __init__(self, cid, description, expected=None, close=CLEAN_NORMAL, script=None,
                 suppress_close=False, hook=None, offers=()):
        self.id = cid
        self.description = description
        self.expected = expected or {}
        self.expected_close = close
        self.script = script
        self.suppress_close = suppress_close
        self.hook = hook
        self.offers = list(offers)
        self.received = []
        self.behavior = FAILED
        self.behavior_close = FAILED
        self.result = "Actual events differ from any expected."
        self.result_close = "TCP connection was dropped without close handshake"
        self.internal_error = None
        self.judged = False
        self.p = None

    def on_open(self):
        if self.script is not None:
            self.script(self.p)

    def on_message(self, payload, binary):
        self.received.append(msg(payload, binary))
        self.finish_when_done()

    def on_pong(self, payload):
        self.received.append(pong(payload))
        self.finish_when_done()

    def finish_when_done(self):
        # As Autobahn: close once the events equal *every* expected list,
        # which in practice means only cases with a single expectation.
        if all(self.received == events for events in self.expected.values()):
            if self.expected_close.get("closedByMe") and not self.suppress_close:
                self.p.send_close(self.expected_close["closeCode"][0])

    def judge(self):
        if self.judged:
            return
        self.judged = True
        for verdict, events in self.expected.items():
            if self.received == events:
                self.behavior = verdict
                self.result = "Actual events match at least one expected."
                break
        if self.p.was_open:
            self._judge_close()
        else:
            self.behavior_close = FAILED
            self.result_close = "The WebSocket opening handshake was never completed!"
            if self.p.handshake_error:
                self.result = "opening handshake failed: %s" % self.p.handshake_error
        if self.hook is not None:
            self.hook(self)
        self.explain_unfinished()
        if self.internal_error:
            self.behavior = FAILED
            self.result = "internal error in the conformance client: %s" % self.internal_error
        elif self.p.guard_expired and self.behavior not in (INFORMATIONAL,):
            self.result += " (case exceeded its time bound)"

    def explain_unfinished(self):
        """Cases that count echoes say how far they got (Autobahn only says
        that they did not finish in time)."""

    def _judge_close(self):
        p, ec = self.p, self.expected_close
        if ec["closedByMe"] != p.closed_by_me:
            self.behavior_close = FAILED
            self.result_close = "The connection was failed by the wrong endpoint"
        elif ec["requireClean"] and not p.was_clean:
            self.behavior_close = UNCLEAN
            self.result_close = "The spec requires the connection to be failed cleanly here"
        elif p.remote_close_code is not None and p.remote_close_code not in ec["closeCode"]:
            self.behavior_close = WRONG_CODE
            codes = ",".join(map(str, ec["closeCode"]))
            self.result_close = "The close code should have been %s or empty" % codes
        elif p.dropped_by_me:
            self.behavior_close = FAILED_BY_CLIENT
            self.result_close = "It is preferred that the server close the TCP connection"
        else:
            self.behavior_close = OK
            self.result_close = "Connection was properly closed"
        if ec.get("closedByWrongEndpointIsFatal") and ec["closedByMe"] != p.closed_by_me:
            # For UTF-8 cases: the server did not notice the invalid text.
            self.behavior = FAILED


def wrong_code_fails(case):
    """7.x: a wrong close code fails the case itself."""
    if case.behavior_close == WRONG_CODE:
        case.behavior = FAILED
        case.result = case.result_close


def informational(case):
    case.behavior = INFORMATIONAL
    case.behavior_close = INFORMATIONAL


class Spec:
    """A case in the catalogue: its id, description and a factory, since
    every run needs a fresh Case."""

    def __init__(self, cid, description, make):
        self.id = cid
        self.description = description
        self.make = make
        self.key = tuple(int(x) for x in cid.split("."))


def spec(cid, description, **kwargs):
    return Spec(cid, description, lambda: Case(cid, description, **kwargs))


# --- 1 framing, 2 pings/pongs, 3 reserved bits, 4 opcodes ----------------

def cases_framing():
    specs = []
    sizes = [0, 125, 126, 127, 128, 65535, 65536, 65536]
    for sub, opcode, octet, kind in ((1, 1, b"*", "text"), (2, 2, b"\xfe", "binary")):
        for i, size in enumerate(sizes, 1):
            chop = 997 if i == 8 else None
            payload = octet * size
            desc = "%s message, payload %d octets" % (kind, size)
            if chop:
                desc += ", sent in 997-octet chops"

            def script(p, opcode=opcode, payload=payload, chop=chop, kill=10 if size > 128 else 1):
                p.send_frame(opcode, payload, chopsize=chop)
                p.kill_after(kill)
            expected = {OK: [msg(payload, opcode == 2)]}
            specs.append(spec("1.%d.%d" % (sub, i), desc, expected=expected, script=script))
    return specs


def ping_case(cid, desc, payload, chop=None, wait=1):
    def script(p):
        p.send_frame(9, payload, chopsize=chop)
        p.close_after(wait)
    return spec(cid, desc, expected={OK: [pong(payload)]}, script=script)


def pings_case(cid, desc, chop):
    payloads = [b"payload-%d" % i for i in range(10)]

    def script(p):
        for payload in payloads:
            p.send_frame(9, payload, chopsize=chop)
        p.close_after(3)
    return spec(cid, desc, expected={OK: [pong(x) for x in payloads]}, script=script)


def cases_pings():
    def pong_then_close(payload):
        def script(p):
            p.send_frame(10, payload)
            p.send_close(NORMAL)
            p.close_after(1)
        return script

    def pong_then_ping(p):
        p.send_frame(10, b"unsolicited pong payload")
        p.send_frame(9, b"ping payload")
        p.close_after(1)

    def big_ping(p):
        p.send_frame(9, b"\xfe" * 126)
        p.kill_after(1)
    nothing = {OK: []}
    return [
        ping_case("2.1", "ping without payload", b""),
        ping_case("2.2", "ping with small text payload", b"Hello, world!"),
        ping_case("2.3", "ping with small binary payload", b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"),
        ping_case("2.4", "ping with 125-octet binary payload", b"\xfe" * 125),
        spec("2.5", "ping with 126-octet payload (too long)", expected=nothing,
             close=SERVER_FAILS, script=big_ping),
        ping_case("2.6", "ping with 125-octet payload, octet-wise chops", b"\xfe" * 125,
                  chop=1, wait=2),
        spec("2.7", "unsolicited pong without payload, then close", expected=nothing,
             script=pong_then_close(b"")),
        spec("2.8", "unsolicited pong with payload, then close", expected=nothing,
             script=pong_then_close(b"unsolicited pong payload")),
        spec("2.9", "unsolicited pong, then ping", expected={OK: [pong(b"ping payload")]},
             script=pong_then_ping),
        pings_case("2.10", "10 pings with payload", None),
        pings_case("2.11", "10 pings with payload, octet-wise chops", 1),
    ]


HELLO = b"Hello, world!"


def echo_then_bad_frame(cid, desc, opcode, rsv=0, bad_payload=b"", chop=None, sync=False):
    """A good text message, a bad frame, a ping: the echo may or may not
    come back before the server fails the connection (OK / NON-STRICT)."""
    def script(p):
        p.send_frame(1, HELLO, chopsize=chop, sync=sync)
        p.send_frame(opcode, bad_payload, rsv=rsv, chopsize=chop, sync=sync)
        p.send_frame(9, chopsize=chop, sync=sync)
        p.kill_after(1)
    expected = {OK: [msg(HELLO)], NON_STRICT: []}
    return spec(cid, desc, expected=expected, close=SERVER_FAILS, script=script)


def bad_frame(cid, desc, opcode, payload=b"", rsv=0):
    def script(p):
        p.send_frame(opcode, payload, rsv=rsv)
        p.kill_after(1)
    return spec(cid, desc, expected={OK: []}, close=SERVER_FAILS, script=script)


def cases_reserved_bits():
    return [
        bad_frame("3.1", "text message with RSV = 1", 1, HELLO, rsv=1),
        echo_then_bad_frame("3.2", "text, text with RSV = 2, ping", 1, rsv=2, bad_payload=HELLO),
        echo_then_bad_frame("3.3", "text, text with RSV = 3, ping; frame-wise chops", 1, rsv=3,
                            bad_payload=HELLO, sync=True),
        echo_then_bad_frame("3.4", "text, text with RSV = 4, ping; octet-wise chops", 1, rsv=4,
                            bad_payload=HELLO, chop=1),
        bad_frame("3.5", "binary message with RSV = 5", 2, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff",
                  rsv=5),
        bad_frame("3.6", "binary frame with RSV = 6", 2, HELLO, rsv=6),
        bad_frame("3.7", "close frame with RSV = 7", 8, rsv=7),
    ]


def cases_opcodes():
    specs = []
    for sub, base, kind in ((1, 3, "non-control"), (2, 11, "control")):
        prefix = "4.%d." % sub
        specs += [
            bad_frame(prefix + "1", "reserved %s opcode %d" % (kind, base), base),
            bad_frame(prefix + "2", "reserved %s opcode %d with payload" % (kind, base + 1),
                      base + 1, b"reserved opcode payload"),
            echo_then_bad_frame(prefix + "3", "text, reserved opcode %d, ping" % (base + 2),
                                base + 2),
            echo_then_bad_frame(prefix + "4", "text, reserved opcode %d with payload, ping"
                                % (base + 3), base + 3, bad_payload=HELLO),
            echo_then_bad_frame(prefix + "5", "text, reserved opcode %d with payload, ping; "
                                "octet-wise chops" % (base + 4), base + 4, bad_payload=HELLO,
                                chop=1),
        ]
    return specs


# --- 5 fragmentation ------------------------------------------------------

CHOPS = {"": {}, "frame-wise chops": {"sync": True}, "octet-wise chops": {"chopsize": 1}}


def frames_case(cid, desc, frames, expected, close, chops="", timer=("kill", 1)):
    """Send (opcode, fin, payload) frames, then start the case's timer."""
    how = CHOPS[chops]

    def script(p):
        for opcode, fin, payload in frames:
            p.send_frame(opcode, payload, fin=fin, **how)
        (p.kill_after if timer[0] == "kill" else p.close_after)(timer[1])
    desc += "; " + chops if chops else ""
    return spec(cid, desc, expected=expected, close=close, script=script)


def fragments_with_pings(cid, desc, sync):
    """5.19/5.20: two fragments and a ping, a pause, then the rest."""
    fragments = [b"fragment%d" % i for i in range(1, 6)]
    pings = [b"pongme 1!", b"pongme 2!"]

    def part2(p):
        p.send_frame(0, fragments[2], fin=False, sync=sync)
        p.send_frame(0, fragments[3], fin=False, sync=sync)
        p.send_frame(9, pings[1], sync=sync)
        p.send_frame(0, fragments[4], fin=True, sync=sync)
        p.close_after(1)

    def script(p):
        p.send_frame(1, fragments[0], fin=False, sync=sync)
        p.send_frame(0, fragments[1], fin=False, sync=sync)
        p.send_frame(9, pings[0], sync=sync)
        p.continue_later(1, lambda: part2(p))
    expected = {OK: [pong(pings[0]), pong(pings[1]), msg(b"".join(fragments))]}
    return spec(cid, desc, expected=expected, script=script)


def cases_fragmentation():
    f1, f2, f3, f4 = b"fragment1", b"fragment2", b"fragment3", b"fragment4"
    whole = {OK: [msg(f1 + f2)]}
    with_pong = {OK: [pong(b"ping payload"), msg(f1 + f2)]}
    none = {OK: []}
    two_fragments = [(1, False, f1), (0, True, f2)]
    ping_between = [(1, False, f1), (9, True, b"ping payload"), (0, True, f2)]
    stray_fin = [(0, True, b"non-continuation payload"), (1, True, HELLO)]
    stray_nofin = [(0, False, b"non-continuation payload"), (1, True, HELLO)]
    specs = [
        frames_case("5.1", "ping fragmented into 2 fragments", [(9, False, f1), (0, True, f2)],
                    none, SERVER_FAILS),
        frames_case("5.2", "pong fragmented into 2 fragments", [(10, False, f1), (0, True, f2)],
                    none, SERVER_FAILS),
    ]
    for i, chops in enumerate(CHOPS):
        specs += [
            frames_case("5.%d" % (3 + i), "text fragmented into 2 fragments", two_fragments,
                        whole, CLEAN_NORMAL, chops, ("close", 1)),
            frames_case("5.%d" % (6 + i), "text in 2 fragments, ping in between", ping_between,
                        with_pong, CLEAN_NORMAL, chops, ("close", 1)),
            frames_case("5.%d" % (9 + i), "continuation (FIN) with nothing to continue, then text",
                        stray_fin, none, SERVER_FAILS, chops),
            frames_case("5.%d" % (12 + i), "continuation (no FIN) with nothing to continue, "
                        "then text", stray_nofin, none, SERVER_FAILS, chops),
        ]
    specs += [
        frames_case("5.15", "text in 2 fragments, then stray continuation, then text",
                    [(1, False, f1), (0, True, f2), (0, False, f3), (1, True, f4)],
                    {OK: [msg(f1 + f2)], NON_STRICT: []}, SERVER_FAILS),
        frames_case("5.16", "2x: stray continuation (no FIN), then text in 2 fragments",
                    [(0, False, f1), (1, False, f2), (0, True, f3)] * 2, none, SERVER_FAILS),
        frames_case("5.17", "2x: stray continuation (FIN), then text in 2 fragments",
                    [(0, True, f1), (1, False, f2), (0, True, f3)] * 2, none, SERVER_FAILS),
        frames_case("5.18", "text in 2 fragments, both with the text opcode",
                    [(1, False, f1), (1, True, f2)], none, SERVER_FAILS),
        fragments_with_pings("5.19", "text in 5 fragments, pings in between, 1 s pause", False),
        fragments_with_pings("5.20", "as 5.19, frame-wise chops", True),
    ]
    return specs


# --- 6 UTF-8 handling -------------------------------------------------------

UTF8_GREEK = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"  # "kosme" in Greek
UTF8_MIXED = "Hello-µ@ßöäüàá-UTF-8!!".encode("utf-8")
# Valid Greek, then an encoded UTF-16 surrogate (invalid), then "edited".
UTF8_BAD_SURROGATE = UTF8_GREEK + b"\xed\xa0\x80" + b"edited"
# Valid Greek, then U+110000 in UTF-8's integer scheme (invalid at octet 12).
UTF8_BAD_RANGE = UTF8_GREEK + b"\xf4\x90\x80\x80" + b"edited"


def text_echo(cid, desc, payload, fragment_size=None):
    def script(p):
        p.send_message(payload, fragment_size=fragment_size)
        p.close_after(1)
    return spec(cid, desc, expected={OK: [msg(payload)]}, script=script)


def text_invalid(cid, desc, payload, fragment_size=None):
    def script(p):
        p.send_message(payload, fragment_size=fragment_size)
        p.kill_after(1)
    return spec(cid, desc, expected={OK: []}, close=SERVER_FAILS_UTF8, script=script)


def frames_echo(cid, desc, frames, payload):
    def script(p):
        for opcode, fin, data in frames:
            p.send_frame(opcode, data, fin=fin)
        p.close_after(1)
    return spec(cid, desc, expected={OK: [msg(payload)]}, script=script)


def fail_fast(cid, desc, parts, streamed):
    """6.4.x: three parts, a pause after the first and the second. The
    server should fail on the second part (OK: one pause seen), at least on
    the complete message (NON-STRICT: both pauses seen)."""
    def send(p, part, first=False, last=False):
        if streamed:
            if first:
                p.begin_message()
                p.begin_message_frame(sum(map(len, parts)))
            p.send_message_frame_data(part)
            if last:
                p.end_message()
        else:
            p.send_frame(1 if first else 0, part, fin=last)

    def step(p, index, tag):
        if p.state != OPEN:
            return
        p.case.received.append(("timeout", tag))
        send(p, parts[index], last=index == 2)
        if index == 1:
            p.continue_later(1, lambda: step(p, 2, "B"))
        else:
            p.kill_after(1)

    def script(p):
        send(p, parts[0], first=True)
        p.continue_later(1, lambda: step(p, 1, "A"))
    expected = {OK: [("timeout", "A")], NON_STRICT: [("timeout", "A"), ("timeout", "B")]}
    return spec(cid, desc, expected=expected, close=SERVER_FAILS_UTF8, script=script)


def hexes(text):
    """Octet strings written as space-separated hex."""
    return [bytes.fromhex(item) for item in text.split()]


TRUNCATED = hexes("c0 e080 f08080 f8808080 fc80808080 df efbf f7bfbf fbbfbfbf fdbfbfbfbf")


def non_characters():
    """U+xFFFE and U+xFFFF of planes 1 to 16, in 4-octet UTF-8."""
    out = []
    for lead in b"\xf0\xf1\xf2\xf3\xf4":
        for second in (b"\x8f\x9f\xaf\xbf" if lead != 0xf4 else b"\x8f"):
            for last in b"\xbe\xbf":
                seq = bytes([lead, second, 0xbf, last])
                if seq not in (b"\xf0\x8f\xbf\xbe", b"\xf0\x8f\xbf\xbf"):  # overlong
                    out.append(seq)
    return out


def utf8_sequences():
    """The UTF-8 test sequences of 6.5 to 6.23 (after Markus Kuhn's
    UTF-8-test.txt), in Autobahn's groups and order. Validity is decided by
    Python's strict decoder, which agrees with Autobahn's validator."""
    ranges = ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb), (0xfc, 0xfd))
    lonely = [b"".join(bytes([c, 0x20]) for c in range(low, high)) for low, high in ranges]
    surrogates = hexes("eda080 edadbf edae80 edafbf edb080 edbe80 edbfbf")
    pairs = [high + low for high in surrogates[:4] for low in (surrogates[4], surrogates[6])]
    return [
        ("Some valid UTF-8 sequences",
         [b"hello$world", b"hello\xc2\xa2world", b"hello\xe2\x82\xacworld",
          b"hello\xf0\xa4\xad\xa2world", UTF8_GREEK]),
        ("All prefixes of a valid UTF-8 string with multi-octet code points",
         [UTF8_GREEK[:i] for i in range(1, len(UTF8_GREEK) + 1)]),
        ("First possible sequence of a certain length", hexes("00 c280 e0a080 f0908080")),
        ("First possible sequence length 5/6 (invalid code points)",
         hexes("f888808080 fc8480808080")),
        ("Last possible sequence of a certain length", hexes("7f dfbf efbfbf f48fbfbf")),
        ("Last possible sequence length 4/5/6 (invalid code points)",
         hexes("f7bfbfbf fbbfbfbfbf fdbfbfbfbfbf")),
        ("Other boundary conditions", hexes("ed9fbf ee8080 efbfbd f48fbfbf f4908080")),
        ("Unexpected continuation octets",
         hexes("80 bf 80bf 80bf80 80bf80bf 80bf80bf80 80bf80bf80bf") + [bytes(range(0x80, 0xbf))]),
        ("Lonely start octets", lonely),
        ("Sequences with last continuation octet missing", TRUNCATED),
        ("Concatenation of incomplete sequences", [b"".join(TRUNCATED)]),
        ("Impossible octets", hexes("fe ff fefeffff")),
        ("Overlong ASCII character", hexes("c0af e080af f08080af f8808080af fc80808080af")),
        ("Maximum overlong sequences", hexes("c1bf e09fbf f08fbfbf f887bfbfbf fc83bfbfbfbf")),
        ("Overlong NUL", hexes("c080 e08080 f0808080 f880808080 fc8080808080")),
        ("Single UTF-16 surrogates", surrogates),
        ("Paired UTF-16 surrogates", pairs),
        ("Non-character code points (valid UTF-8)", hexes("efbfbe efbfbf") + non_characters()),
        ("Unicode specials (e.g. the replacement character)",
         [b"\xef\xbf" + bytes([c]) for c in range(0xb9, 0xc0)]),
    ]


def cases_utf8():
    first, second = "Hello-µ@ßöä".encode("utf-8"), "üàá-UTF-8!!".encode("utf-8")
    empty, middle = b"", b"middle frame payload"
    fail_fast_parts = [UTF8_GREEK, b"\xf4\x90\x80\x80", b"edited"]
    one_octet_parts = [UTF8_BAD_RANGE[:12], UTF8_BAD_RANGE[12:13], UTF8_BAD_RANGE[13:]]
    specs = [
        frames_echo("6.1.1", "text message of length 0", [(1, True, empty)], empty),
        frames_echo("6.1.2", "text in 3 empty fragments",
                    [(1, False, empty), (0, False, empty), (0, True, empty)], empty),
        frames_echo("6.1.3", "text in 3 fragments, only the middle one not empty",
                    [(1, False, empty), (0, False, middle), (0, True, empty)], middle),
        text_echo("6.2.1", "valid UTF-8 text in one frame", UTF8_MIXED),
        frames_echo("6.2.2", "valid UTF-8 text in 2 frames split on a code point",
                    [(1, False, first), (0, True, second)], UTF8_MIXED),
        text_echo("6.2.3", "valid UTF-8 text in 1-octet frames", UTF8_MIXED, fragment_size=1),
        text_echo("6.2.4", "valid Greek UTF-8 text in 1-octet frames", UTF8_GREEK,
                  fragment_size=1),
        text_invalid("6.3.1", "invalid UTF-8 text in one frame", UTF8_BAD_SURROGATE),
        text_invalid("6.3.2", "invalid UTF-8 text in 1-octet frames", UTF8_BAD_SURROGATE,
                     fragment_size=1),
        fail_fast("6.4.1", "fail-fast: invalid UTF-8 in the 2nd of 3 frames", fail_fast_parts,
                  streamed=False),
        fail_fast("6.4.2", "fail-fast: 2nd frame is the one invalid octet", one_octet_parts,
                  streamed=False),
        fail_fast("6.4.3", "fail-fast: invalid UTF-8 in the 2nd of 3 chops of one frame",
                  fail_fast_parts, streamed=True),
        fail_fast("6.4.4", "fail-fast: 2nd chop of one frame is the one invalid octet",
                  one_octet_parts, streamed=True),
    ]
    for group, (title, payloads) in enumerate(utf8_sequences(), 5):
        for j, payload in enumerate(payloads, 1):
            specs.append(utf8_sequence_case("6.%d.%d" % (group, j), title, payload))
    return specs


def utf8_sequence_case(cid, title, payload):
    valid = is_valid_utf8(payload)
    desc = "%s: %s 0x%s" % (title, "valid" if valid else "invalid", payload.hex()[:40])

    def script(p):
        p.send_message(payload)
        p.kill_after(0.5)
    if valid:
        return spec(cid, desc, expected={OK: [msg(payload)]}, script=script)
    return spec(cid, desc, expected={OK: []}, close=SERVER_FAILS_UTF8, script=script)


# --- 7 close handling -------------------------------------------------------

def close_case(cid, desc, script, close=CLEAN_NORMAL, expected=None, hook=wrong_code_fails):
    def run(p):
        script(p)
        p.kill_after(1)
    return spec(cid, desc, expected=expected or {OK: []}, close=close, script=run,
                suppress_close=True, hook=hook)


def close_then(opcode, payload=b""):
    """Close 1000, then one more frame the server must ignore."""
    def script(p):
        p.send_close(NORMAL)
        p.send_frame(opcode, payload)
    return script


def cases_close():
    hello = b"Hello World!"
    bad_reason = UTF8_GREEK + b"\xed\xa0\x80" + b"edited"
    fails = expect_close(True, [PROTOCOL_ERROR], False)

    def echo_then_close(p):
        p.send_frame(1, hello)
        p.kill_after(1)

    def fragment_close_fragment(p):
        p.send_frame(1, b"fragment1", fin=False)
        p.send_close(NORMAL)
        p.send_frame(0, b"fragment2")

    def big_then_close(p):
        p.send_frame(1, b"BAsd7&jh23", payload_len=256 * 1024)
        p.send_frame(1, hello)
        p.send_close(NORMAL)
        p.send_frame(9)
    specs = [
        spec("7.1.1", "text message, then close", expected={OK: [msg(hello)]},
             script=echo_then_close, hook=wrong_code_fails),
        close_case("7.1.2", "two close frames", close_then(8)),
        close_case("7.1.3", "ping after close", close_then(9)),
        close_case("7.1.4", "text after close", close_then(1, hello)),
        close_case("7.1.5", "first fragment, close, last fragment", fragment_close_fragment),
        close_case("7.1.6", "256 KiB text, text, close, ping (informational)", big_then_close,
                   expected={OK: [msg(hello)], NON_STRICT: []}, hook=informational),
        close_case("7.3.1", "close with empty payload", lambda p: p.send_close_frame()),
        close_case("7.3.2", "close with 1-octet payload",
                   lambda p: p.send_close_frame(reason=b"a"), close=fails),
        close_case("7.3.3", "close with code 1000", lambda p: p.send_close(NORMAL)),
        close_case("7.3.4", "close with code and reason",
                   lambda p: p.send_close(NORMAL, "Hello World!")),
        close_case("7.3.5", "close with 123-octet reason",
                   lambda p: p.send_close(NORMAL, "*" * 123)),
        close_case("7.3.6", "close with 124-octet reason (too long)",
                   lambda p: p.send_close_frame(NORMAL, b"*" * 124), close=fails),
        close_case("7.5.1", "close with invalid UTF-8 reason",
                   lambda p: p.send_close_frame(NORMAL, bad_reason),
                   close=expect_close(True, [PROTOCOL_ERROR, INVALID_PAYLOAD], False)),
    ]
    valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
    for i, code in enumerate(valid, 1):
        specs.append(close_case("7.7.%d" % i, "close with valid code %d" % code,
                                lambda p, code=code: p.send_close_frame(code),
                                close=expect_close(True, [NORMAL, code], True)))
    # The current Autobahn list (1014 and 1015 were dropped from it).
    invalid = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]
    for i, code in enumerate(invalid, 1):
        specs.append(close_case("7.9.%d" % i, "close with invalid code %d" % code,
                                lambda p, code=code: p.send_close_frame(code), close=fails))
    for i, code in enumerate([5000, 65535], 1):
        specs.append(close_case("7.13.%d" % i, "close with code %d (informational)" % code,
                                lambda p, code=code: p.send_close_frame(code),
                                close=expect_close(True, [NORMAL, code, PROTOCOL_ERROR], False),
                                hook=informational))
    return specs


# --- 9 limits and performance, 10 auto-fragmentation ----------------------

class EchoSizeCase(Case):
    """9.1 to 9.6: one big message; OK when it comes back whole in time.
    (Autobahn checks type and length only; we also check the content.)"""

    def __init__(self, cid, desc, binary, make_payload, waitsecs, send):
        super().__init__(cid, desc)
        self.binary = binary
        self.payload = make_payload()
        self.waitsecs = waitsecs
        self.send = send

    def on_open(self):
        self.result = "Did not receive message within %d seconds." % self.waitsecs
        self.send(self.p, self.payload)
        self.p.close_after(self.waitsecs)

    def explain_unfinished(self):
        if self.behavior == FAILED and self.result.startswith("Did not receive"):
            self.result = ("No echo before the connection closed (server close code %s)."
                           % self.p.remote_close_code)

    def on_message(self, payload, binary):
        kind = "binary" if self.binary else "text"
        if binary != self.binary:
            self.result = "Expected %s message, got the other type." % kind
        elif len(payload) != len(self.payload):
            self.result = "Expected %s message of length %d, got %d." % (
                kind, len(self.payload), len(payload))
        elif payload != self.payload:
            self.result = "Echoed %s message of the right length differs from what was sent." % kind
        else:
            self.behavior = OK
            self.result = "Received %s message of length %d." % (kind, len(payload))
        self.p.send_close(NORMAL)


class RoundTripCase(Case):
    """9.7/9.8: COUNT messages, one at a time, each echoed before the next."""

    def __init__(self, cid, desc, binary, length, count, waitsecs):
        super().__init__(cid, desc)
        self.binary, self.length, self.count, self.waitsecs = binary, length, count, waitsecs
        self.sent = 0

    def on_open(self):
        self.result = "Case did not finish within %d seconds." % self.waitsecs
        self.p.close_after(self.waitsecs)
        self.send_one()

    def explain_unfinished(self):
        if self.behavior == FAILED and self.result.startswith("Case did not finish"):
            self.result = "%d of %d echoes before the connection closed (server close code %s)." % (
                max(0, self.sent - 1), self.count, self.p.remote_close_code)

    def send_one(self):
        if self.binary:
            self.p.send_frame(2, b"\xfe", payload_len=self.length)
        else:
            self.p.send_frame(1, b"*", payload_len=self.length)
        self.sent += 1

    def on_message(self, payload, binary):
        if binary != self.binary or len(payload) != self.length:
            self.result = "Echoed message type or length differs (binary %s, length %d)." % (
                binary, len(payload))
            self.p.send_close(NORMAL)
        elif self.sent < self.count:
            self.send_one()
        else:
            self.behavior = OK
            self.result = "Ok, received all echoed messages in time."
            self.p.send_close(NORMAL)


def size_spec(cid, desc, binary, make_payload, waitsecs, send):
    return Spec(cid, desc, lambda: EchoSizeCase(cid, desc, binary, make_payload, waitsecs, send))


KIB, MIB = 1024, 1024 * 1024


def cases_limits(quick):
    """9.x; --quick divides the sizes by 16 and sends 100 round trips."""
    scale = 16 if quick else 1
    return (big_message_specs(scale) + fragmented_specs(scale) + chopped_specs(scale)
            + round_trip_specs(100 if quick else 1000))


def big_message_specs(scale):
    specs = []
    sizes = [(64 * KIB, 10), (256 * KIB, 10), (MIB, 100), (4 * MIB, 100), (8 * MIB, 100),
             (16 * MIB, 100)]
    for sub, binary, pattern in ((1, False, b"BAsd7&jh23"), (2, True, b"\x00\xfe\x23\xfa\xf0")):
        for i, (size, wait) in enumerate(sizes, 1):
            size //= scale
            desc = "%s message of %s" % (kind(binary), octets(size))
            specs.append(size_spec("9.%d.%d" % (sub, i), desc, binary,
                                   lambda pattern=pattern, size=size: repeat_to(pattern, size),
                                   wait,
                                   lambda p, data, b=binary: p.send_frame(2 if b else 1, data)))
    return specs


def fragmented_specs(scale):
    specs = []
    total = 4 * MIB // scale
    frags = [64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB]
    for sub, binary, octet in ((3, False, b"*"), (4, True, b"\xfe")):
        for i, frag in enumerate(frags, 1):
            frag = max(4, frag // scale)
            desc = "%s message of %s in fragments of %s" % (kind(binary), octets(total),
                                                            octets(frag))
            specs.append(size_spec("9.%d.%d" % (sub, i), desc, binary,
                                   lambda octet=octet: octet * total, 100,
                                   lambda p, data, b=binary, f=frag:
                                   p.send_message(data, b, fragment_size=f)))
    return specs


def chopped_specs(scale):
    specs = []
    size = MIB // scale
    for sub, binary, pattern in ((5, False, b"BAsd7&jh23"), (6, True, b"\x00\xfe\x23\xfa\xf0")):
        for i, chop in enumerate([64, 128, 256, 512, 1024, 2048], 1):
            desc = "%s message of %s in %d-octet chops" % (kind(binary), octets(size), chop)
            specs.append(size_spec("9.%d.%d" % (sub, i), desc, binary,
                                   lambda pattern=pattern: repeat_to(pattern, size), 1000,
                                   lambda p, data, b=binary, c=chop:
                                   p.send_frame(2 if b else 1, data, chopsize=c)))
    return specs


def round_trip_specs(count):
    specs = []
    lengths = [(0, 60), (16, 60), (64, 60), (256, 120), (1024, 240), (4096, 480)]
    for sub, binary in ((7, False), (8, True)):
        for i, (length, wait) in enumerate(lengths, 1):
            cid = "9.%d.%d" % (sub, i)
            desc = "%d %s messages of %d octets, one at a time" % (count, kind(binary), length)
            specs.append(Spec(cid, desc, lambda cid=cid, desc=desc, b=binary, n=length, w=wait:
                              RoundTripCase(cid, desc, b, n, count, w)))
    return specs


def kind(binary):
    return "binary" if binary else "text"


def octets(n):
    for unit, size in (("MiB", MIB), ("KiB", KIB)):
        if n >= size and n % size == 0:
            return "%d %s" % (n // size, unit)
    return "%d octets" % n


def frame_count_hook(case):
    """10.1.1: the client must have auto-fragmented into the expected frames."""
    expected = {0: 65536 // 1300, 1: 1 if 65536 % 1300 else 0}
    got = {0: case.p.tx_frames[0], 1: case.p.tx_frames[1]}
    if got != expected:
        case.behavior = FAILED
        case.result = "Frames transmitted %s, expected %s." % (got, expected)


def cases_misc():
    payload = b"*" * 65536

    def script(p):
        p.auto_fragment_size = 1300
        p.send_message(payload)
        p.kill_after(10)
    return [spec("10.1.1", "text message of 64 KiB auto-fragmented into 1300-octet frames",
                 expected={OK: [msg(payload)]}, script=script, hook=frame_count_hook)]


# --- 12, 13 permessage-deflate --------------------------------------------

# (payload length, message count, Autobahn's timeout, auto-fragment size)
DEFLATE_SIZES = [
    (16, 1000, 60, 0), (64, 1000, 60, 0), (256, 1000, 120, 0), (1024, 1000, 240, 0),
    (4096, 1000, 480, 0), (8192, 1000, 480, 0), (16384, 1000, 480, 0), (32768, 1000, 480, 0),
    (65536, 1000, 480, 0), (131072, 1000, 480, 0),
    (8192, 1000, 480, 256), (16384, 1000, 480, 256), (32768, 1000, 480, 256),
    (65536, 1000, 480, 256), (131072, 1000, 480, 256),
    (131072, 1000, 480, 1024), (131072, 1000, 480, 4096), (131072, 1000, 480, 32768),
]


class DeflateCase(Case):
    """12.x/13.x: COUNT messages cut in turn from a test data set, each
    compressed, echoed, decompressed and compared by SHA-1."""

    def __init__(self, cid, desc, dataset, sizes, offers):
        super().__init__(cid, desc, offers=offers)
        self.data, self.binary = dataset
        self.length, self.count, self.waitsecs, self.autofrag = sizes
        self.cursor = 0
        self.sent = 0
        self.digest = None

    def on_open(self):
        p = self.p
        p.auto_fragment_size = self.autofrag
        if p.deflate is None:
            self.behavior = UNIMPLEMENTED
            self.result = "server did not accept permessage-deflate"
            p.send_close(NORMAL)
            return
        self.result = "Case did not finish within %d seconds." % self.waitsecs
        p.close_after(self.waitsecs)
        self.send_one()

    def explain_unfinished(self):
        if self.behavior == FAILED and self.result.startswith("Case did not finish"):
            self.result = "%d of %d echoes before the connection closed (server close code %s)." % (
                max(0, self.sent - 1), self.count, self.p.remote_close_code)

    def next_slice(self):
        """Autobahn's ring buffer over the data set."""
        start, end = self.cursor, (self.cursor + self.length) % len(self.data)
        self.cursor = end
        if end > start:
            return self.data[start:end]
        return self.data[start:] + self.data[:end]

    def send_one(self):
        message = self.next_slice()
        self.digest = hashlib.sha1(message).digest()
        self.p.send_message(message, self.binary)
        self.sent += 1

    def on_message(self, payload, binary):
        problem = self.check_echo(payload, binary)
        if problem is None and self.sent < self.count:
            self.send_one()
            return
        self.behavior = FAILED if problem else OK
        self.result = problem or "Ok, received all echoed messages in time."
        self.p.send_close(NORMAL)

    def check_echo(self, payload, binary):
        if binary != self.binary:
            return "Echoed message type differs (binary %s, expected %s)." % (binary, self.binary)
        if len(payload) != self.length:
            return "Echoed message length %d, expected %d." % (len(payload), self.length)
        if hashlib.sha1(payload).digest() != self.digest:
            return "Echoed message content differs from what was sent."
        return None


# The five data sets of 12.x in Autobahn's order (which is the iteration
# order of its Python 2 dict), with sizes near those of its files.
DATASETS = [
    ("json", "JSON text", 194237, False),
    ("bitmap", "512x512 greyscale bitmap", 263222, True),
    ("german", "German prose (sent as binary)", 222218, True),
    ("html", "HTML document", 263500, False),
    ("pdf", "PDF-like document", 1042328, True),
]

DEFLATE_OFFERS = [
    [Offer()],
    [Offer(True, 0)],
    [Offer(False, 8)],
    [Offer(False, 15)],
    [Offer(True, 8)],
    [Offer(True, 15)],
    [Offer(True, 8), Offer(True, 0), Offer()],
]


def cases_deflate(quick):
    specs = []
    for j, (name, title, size, binary) in enumerate(DATASETS, 1):
        specs += deflate_family("12.%d" % j, title, (name, size, binary), [Offer()], quick)
    json_set = DATASETS[0]
    for j, offers in enumerate(DEFLATE_OFFERS, 1):
        title = "JSON, offers " + ", ".join(o.describe() for o in offers)
        specs += deflate_family("13.%d" % j, title, (json_set[0], json_set[2], json_set[3]),
                                offers, quick)
    return specs


def deflate_family(prefix, title, data, offers, quick):
    """One sub-category: the 18 sizes of DEFLATE_SIZES on one data set."""
    name, size, binary = data
    specs = []
    for i, (length, count, wait, frag) in enumerate(DEFLATE_SIZES, 1):
        count = 10 if quick else count
        cid = "%s.%d" % (prefix, i)
        desc = "%s: %d messages of %s" % (title, count, octets(length))
        if frag:
            desc += ", fragments of %s" % octets(frag)
        sizes = (length, count, wait, frag)
        specs.append(Spec(cid, desc, lambda cid=cid, desc=desc, sizes=sizes:
                          DeflateCase(cid, desc, (dataset(name, size), binary), sizes, offers)))
    return specs


_DATA_CACHE = {}


def dataset(name, size):
    """Test data, the same on every run (seeded by name)."""
    if name not in _DATA_CACHE:
        rng = random.Random("sluice-conformance-" + name)
        _DATA_CACHE[name] = GENERATORS[name](size, rng)
    return _DATA_CACHE[name]


WORDS = ("socket frame server client message payload deflate window buffer stream close ping "
         "pong event queue handler request response header value token status error").split()
GERMAN = ("Habe nun, ach! Philosophie, Juristerei und Medizin, und leider auch Theologie "
          "durchaus studiert, mit heißem Bemühn. Da steh ich nun, ich armer Tor! und bin so "
          "klug als wie zuvor; heiße Magister, heiße Doktor gar. Mephistopheles: Ich bin der "
          "Geist, der stets verneint! Gretchen: Meine Ruh ist hin, mein Herz ist schwer. Über "
          "allen Gipfeln ist Ruh. Schön ist die Welt, die Nacht ist kühl, die Straße öde und "
          "die Tür verschlossen.").split()


def make_json(size, rng):
    """ASCII only, like Autobahn's: any slice of it is valid UTF-8."""
    records = []
    total = 0
    while total < size:
        record = ('{"id": %d, "name": "%s-%d", "score": %.5f, "active": %s, '
                  '"tags": ["%s", "%s"], "text": "%s"}' % (
                      len(records), rng.choice(WORDS), rng.randint(0, 99999), rng.random(),
                      rng.choice(("true", "false")), rng.choice(WORDS), rng.choice(WORDS),
                      " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))))
        records.append(record)
        total += len(record) + 4
    return ("[\r\n  " + ",\r\n  ".join(records) + "\r\n]\r\n").encode("ascii")[:size]


def make_html(size, rng):
    """ASCII only, like make_json."""
    rows = ['<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8" /><title>report</title>'
            '</head>\n<body>\n<table>\n']
    total = len(rows[0])
    while total < size:
        cells = "".join('<td class="%s">%s %d</td>' % (rng.choice(WORDS), rng.choice(WORDS),
                                                     rng.randint(0, 9999))
                        for _ in range(rng.randint(2, 6)))
        row = '   <tr class="row">%s</tr>\n' % cells
        rows.append(row)
        total += len(row)
    return "".join(rows).encode("ascii")[:size]


def make_german(size, rng):
    out = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(GERMAN) for _ in range(rng.randint(4, 14))) + "\r\n"
        out.append(line)
        total += len(line.encode("utf-8"))
    return "".join(out).encode("utf-8")[:size]


def make_bitmap(size, rng):
    """An 8-bit greyscale BMP: smooth shapes plus a little noise, so that
    it compresses the way a photo does."""
    width = height = 512
    palette = b"".join(bytes((g, g, g, 0)) for g in range(256))
    pixels = bytearray(width * height)
    for y in range(height):
        row = y * width
        for x in range(width):
            value = (128 + 60 * math.sin(x / 23.0) + 50 * math.cos(y / 31.0)
                     + 20 * math.sin((x + y) / 7.0))
            pixels[row + x] = max(0, min(255, int(value) + rng.randint(-6, 6)))
    header_size = 14 + 40 + len(palette)
    header = struct.pack("<2sIHHI", b"BM", header_size + len(pixels), 0, 0, header_size)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 0, len(pixels), 2835, 2835,
                       256, 0)
    return (header + info + palette + bytes(pixels))[:size]


def make_pdf(size, rng):
    """PDF-like: text objects between mostly incompressible streams."""
    parts = [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"]
    total = len(parts[0])
    number = 1
    while total < size:
        text = " ".join(rng.choice(WORDS) for _ in range(200)).encode("ascii")
        body = zlib.compress(text + rng.randbytes(rng.randint(2000, 20000)))
        obj = (b"%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % (number, len(body))
               + body + b"\nendstream\nendobj\n")
        parts.append(obj)
        total += len(obj)
        number += 1
    return b"".join(parts)[:size]


GENERATORS = {"json": make_json, "html": make_html, "german": make_german,
              "bitmap": make_bitmap, "pdf": make_pdf}


# --- the catalogue, selection and the run ------------------------------------

def catalogue(quick):
    builders = [cases_framing, cases_pings, cases_reserved_bits, cases_opcodes,
                cases_fragmentation, cases_utf8, cases_close, cases_misc]
    specs = [s for build in builders for s in build()]
    specs += cases_limits(quick) + cases_deflate(quick)
    return sorted(specs, key=lambda s: s.key)


def matcher(item):
    """A predicate on case ids for one --cases/--skip item."""
    item = item.strip()
    if re.fullmatch(r"\d+-\d+", item):
        low, high = map(int, item.split("-"))
        return lambda cid: low <= int(cid.split(".")[0]) <= high
    if "*" in item:
        pattern = re.compile("^" + re.escape(item).replace(r"\*", ".*") + "$")
        return lambda cid: bool(pattern.match(cid))
    if re.fullmatch(r"\d+(\.\d+)*", item):
        return lambda cid: cid == item or cid.startswith(item + ".")
    raise ValueError("bad case selector %r" % item)


def select(specs, cases, skip):
    include = [matcher(x) for x in cases.split(",") if x.strip()] if cases else None
    exclude = [matcher(x) for x in skip.split(",") if x.strip()]
    return [s for s in specs
            if (include is None or any(m(s.id) for m in include))
            and not any(m(s.id) for m in exclude)]


async def run_case(case_spec, target, pause_scale):
    """Run one case on its own connection; never longer than its bound."""
    case = case_spec.make()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    client = FuzzClient(case, target, done, pause_scale)
    started = time.monotonic()
    try:
        connect = loop.create_connection(lambda: client, target.host, target.port)
        await asyncio.wait_for(connect, CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as exc:
        case.judge()
        case.result = "could not connect: %s" % (exc or type(exc).__name__)
        return case, time.monotonic() - started
    while not done.done():
        left = client.deadline - loop.time()
        if left <= 0:
            client.on_guard_expired()
            await asyncio.wait([done], timeout=GUARD_MARGIN)
            if not done.done():  # the transport never reported its end
                case.judge()
            break
        await asyncio.wait([done], timeout=left)
    return case, time.monotonic() - (client.opened_at or started)


def describe_events(events):
    out = []
    for event in events:
        if event[0] == "message":
            out.append("message(%s, %d octets)" % (kind(event[2]), len(event[1])))
        elif event[0] == "pong":
            out.append("pong(%d octets)" % len(event[1]))
        else:
            out.append("%s %s" % event)
    return "[" + ", ".join(out) + "]"


def detail(case):
    """What the line after the verdict says: the events seen where they
    decided the verdict, otherwise the case's own explanation, and the
    close verdict whenever it is not OK."""
    parts = []
    unexpected = case.result.startswith("Actual events differ")
    if case.behavior == NON_STRICT or (case.behavior == FAILED and unexpected):
        parts.append("got %s" % describe_events(case.received))
    elif case.behavior == FAILED and case.result.startswith("Actual events match"):
        parts.append("the server did not fail the connection itself")
    elif case.behavior not in (OK, INFORMATIONAL):
        parts.append(case.result)
    if case.behavior_close not in (OK, INFORMATIONAL):
        p = case.p
        parts.append("close %s: %s (server code %s%s)" % (
            case.behavior_close, case.result_close, p.remote_close_code,
            ", " + p.was_not_clean_reason if p.was_not_clean_reason else ""))
    return "; ".join(parts)


def verdict(case, strict_close):
    bad_close = case.behavior_close in (FAILED, UNCLEAN, WRONG_CODE)
    if strict_close and case.behavior in (OK, NON_STRICT) and bad_close:
        return FAILED
    return case.behavior


def case_record(case, elapsed, result):
    p = case.p
    return {
        "id": case.id, "description": case.description, "result": result,
        "behavior": case.behavior, "behaviorClose": case.behavior_close,
        "detail": case.result, "detailClose": case.result_close,
        "duration_ms": int(elapsed * 1000),
        "received": describe_events(case.received),
        "expected": {k: describe_events(v) for k, v in case.expected.items()},
        "closedByMe": p.closed_by_me, "failedByMe": p.failed_by_me,
        "droppedByMe": p.dropped_by_me, "wasClean": p.was_clean,
        "wasNotCleanReason": p.was_not_clean_reason,
        "localCloseCode": p.local_close_code, "remoteCloseCode": p.remote_close_code,
        "remoteCloseReason": p.remote_close_reason, "extensions": p.response_extensions,
    }


def print_verbose(case):
    p = case.p
    print("    expected %s" % {k: describe_events(v) for k, v in case.expected.items()})
    print("    received %s" % describe_events(case.received))
    print("    close %s (%s): closedByMe=%s failedByMe=%s droppedByMe=%s wasClean=%s" % (
        case.behavior_close, case.result_close, p.closed_by_me, p.failed_by_me,
        p.dropped_by_me, p.was_clean))
    print("    close codes: sent %s, received %s %r" % (
        p.local_close_code, p.remote_close_code, p.remote_close_reason))
    if p.response_extensions:
        print("    extensions: %s" % p.response_extensions)


async def run_all(specs, target, args):
    pause_scale = 0.2 if args.quick else 1.0
    counts = collections.Counter()
    close_counts = collections.Counter()
    records = []
    started = time.monotonic()
    for case_spec in specs:
        case, elapsed = await run_case(case_spec, target, pause_scale)
        result = verdict(case, args.strict_close)
        counts[result] += 1
        close_counts[case.behavior_close] += 1
        text = detail(case)
        print("%s %s %s%s" % (case.id, result, case.description, ": " + text if text else ""),
              flush=True)
        if args.verbose and result != OK:
            print_verbose(case)
        records.append(case_record(case, elapsed, result))
    total = time.monotonic() - started
    print("%d cases: %s" % (len(specs), ", ".join("%d %s" % (counts[r], r) for r in RESULTS)))
    closes = ", ".join("%d %s" % (n, k) for k, n in sorted(close_counts.items()))
    print("close behaviour: %s; %.1f s" % (closes, total))
    if args.json_out:
        write_json(args, records, counts, total)
    return 1 if counts[FAILED] or counts[UNIMPLEMENTED] else 0


def write_json(args, records, counts, total):
    with open(args.json_out, "w") as out:
        json.dump({"url": args.url, "quick": args.quick, "strictClose": args.strict_close,
                   "seconds": round(total, 1), "summary": {r: counts[r] for r in RESULTS},
                   "cases": records}, out, indent=1)


def parse_args():
    parser = argparse.ArgumentParser(
        description="Autobahn-style WebSocket conformance client (cases 1-13).")
    parser.add_argument("url", help="ws:// URL of an echo endpoint")
    parser.add_argument("--cases", default="",
                        help="cases to run, e.g. 1-10,12.1.*,6.4 (default: all)")
    parser.add_argument("--skip", default="", help="cases to leave out, same syntax")
    parser.add_argument("--json-out", help="write per-case results to this file")
    parser.add_argument("--quick", action="store_true",
                        help="fewer messages, smaller sizes, shorter pauses")
    parser.add_argument("--strict-close", action="store_true",
                        help="also fail OK/NON-STRICT cases whose closing Autobahn judges "
                             "FAILED, UNCLEAN or WRONG CODE")
    parser.add_argument("--list", action="store_true", help="list the selected cases and exit")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show events and close details of cases that are not OK")
    return parser, parser.parse_args()


def main():
    parser, args = parse_args()
    try:
        target = Target(args.url)
        specs = select(catalogue(args.quick), args.cases, args.skip)
    except ValueError as exc:
        parser.error(str(exc))
    if not specs:
        parser.error("no case selected")
    if args.list:
        for case_spec in specs:
            print(case_spec.id, case_spec.description)
        print("%d cases" % len(specs))
        return 0
    return asyncio.run(run_all(specs, target, args))


if __name__ == "__main__":
    sys.exit(main())
