#!/usr/bin/python3
"""End-to-end checks of Sluice's WebSocket limits and timeouts with a client
we did not write (Debian's python3-websockets 10.x, asyncio API) and with raw
sockets for the clients that misbehave on purpose.

Usage: e2e_wslimits.py PATH/TO/wslimitsserver

The server (tests/e2e/wslimitsserver.cpp) allows frames of 4096 bytes and
messages of 16384, pings after 500 ms of silence and waits 500 ms for the
pong, and closes a client that lets more than 256 KiB wait with 1008.
Prints PASS/FAIL per check and "N passed, M failed".
"""

import asyncio
import base64
import json
import os
import sys
import time
import urllib.request

import websockets
import websockets.client
import websockets.exceptions

# harness.py sits next to this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

STEP_TIMEOUT = 30  # seconds for any one check
TOTAL_TIMEOUT = 240
FRAME_LIMIT = 4096
MESSAGE_LIMIT = 16384
PING_INTERVAL = 0.5
PONG_TIMEOUT = 0.5
# Slack for timers on a loaded 2-core machine.
LATE = 1.5


class CountingProtocol(websockets.client.WebSocketClientProtocol):
    """A client protocol that counts the pings it answers (the library
    answers every ping by itself, through pong())."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pings_answered = 0

    async def pong(self, data=b""):
        self.pings_answered += 1
        await super().pong(data)


class Checks(harness.Checks):
    def __init__(self, port):
        super().__init__(timeout=STEP_TIMEOUT)
        self.port = port
        self.base = f"ws://127.0.0.1:{port}"

    def connect(self, path, **kwargs):
        kwargs.setdefault("open_timeout", 10)
        kwargs.setdefault("close_timeout", 10)
        # The library's own keepalive pings would hide the server's.
        kwargs.setdefault("ping_interval", None)
        return websockets.connect(self.base + path, **kwargs)

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as reply:
            return json.loads(reply.read())

    async def closed_with(self, ws, what):
        """Waits for the server to close ws; returns the code it sent."""
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except websockets.exceptions.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except asyncio.TimeoutError:
            raise AssertionError(f"{what}: still open 10 s later") from None

    # --- sizes ----------------------------------------------------------

    async def under_limits_echo(self):
        async with self.connect("/echo") as ws:
            one_frame = os.urandom(FRAME_LIMIT)
            await ws.send(one_frame)
            assert await asyncio.wait_for(ws.recv(), 5) == one_frame, "one full frame"
            # A whole message at the limit, as four fragments at the frame limit.
            parts = [bytes([i]) * FRAME_LIMIT for i in range(MESSAGE_LIMIT // FRAME_LIMIT)]
            await ws.send(parts)
            assert await asyncio.wait_for(ws.recv(), 5) == b"".join(parts), "fragmented message"
            text_parts = ["\u00e9" * (FRAME_LIMIT // 2)] * 4  # 2-byte UTF-8: 4096 bytes each
            await ws.send(text_parts)
            assert await asyncio.wait_for(ws.recv(), 5) == "".join(text_parts), "fragmented text"

    async def message_over_limit(self):
        async with self.connect("/echo") as ws:
            # Every frame within the frame limit; the message one byte over its limit.
            parts = [b"m" * FRAME_LIMIT] * (MESSAGE_LIMIT // FRAME_LIMIT) + [b"!"]
            await ws.send(parts)
            code = await self.closed_with(ws, "message over the limit")
            assert code == 1009, f"close code {code}"

    async def frame_over_limit(self):
        async with self.connect("/echo") as ws:
            # Within the message limit, but one frame of 4097 bytes.
            await ws.send(b"f" * (FRAME_LIMIT + 1))
            code = await self.closed_with(ws, "frame over the limit")
            assert code == 1009, f"close code {code}"

    # --- ping/pong keep-alive ------------------------------------------

    async def answering_client_stays_open(self):
        async with self.connect("/echo", create_protocol=CountingProtocol) as ws:
            # Several intervals of silence from our side.
            await asyncio.sleep(3.0)
            assert ws.open, f"closed with {ws.close_code}"
            assert ws.pings_answered >= 2, f"{ws.pings_answered} pings in 3 s"
            await ws.send("still here")
            assert await asyncio.wait_for(ws.recv(), 5) == "still here"

    async def silent_raw_client_is_closed(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 101"), head
            opened = time.monotonic()
            # Read everything, answer nothing.
            pings = []
            data = b""
            while True:
                # The server cuts a dead peer with a TCP reset (so that the
                # kernel frees what it holds), which reads as an EOF or a reset.
                try:
                    chunk = await asyncio.wait_for(reader.read(4096), 10)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    break
                data += chunk
                while len(data) >= 2 and len(data) >= 2 + (data[1] & 0x7F):
                    opcode, size = data[0] & 0x0F, data[1] & 0x7F
                    if opcode == 0x9:
                        pings.append(time.monotonic() - opened)
                    data = data[2 + size:]
            ended = time.monotonic() - opened
            print(f"# raw client: pings at {[round(p, 3) for p in pings]} s, EOF at {ended:.3f} s")
            assert pings, "no ping on the wire"
            assert PING_INTERVAL - 0.1 <= pings[0] <= PING_INTERVAL + LATE, f"first ping {pings[0]}"
            expected = PING_INTERVAL + PONG_TIMEOUT
            assert expected - 0.1 <= ended <= expected + LATE, f"EOF at {ended:.3f} s"
        finally:
            writer.close()

    # --- origin ----------------------------------------------------------

    async def refused_origin(self):
        try:
            async with self.connect("/origin", origin="https://evil.example"):
                raise AssertionError("upgraded with a refused origin")
        except websockets.exceptions.InvalidStatusCode as refused:
            assert refused.status_code == 403, refused.status_code

    async def allowed_origin(self):
        async with self.connect("/origin", origin="https://good.example") as ws:
            await ws.send("welcome")
            assert await asyncio.wait_for(ws.recv(), 5) == "welcome"

    # --- backpressure ----------------------------------------------------

    async def slow_reader_closed_1008(self):
        before = len(self.stats()["floodCloses"])
        # With one message queued and a small read buffer the library stops
        # reading from the socket: a client that does not keep up.
        async with self.connect("/flood", max_queue=1, read_limit=4096, max_size=2**20) as ws:
            deadline = time.monotonic() + 20
            closes = []
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                closes = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: self.stats()["floodCloses"])
                if len(closes) > before:
                    break
            assert len(closes) > before, "the server never closed the slow reader"
            assert closes[before] == 1008, f"server closed it with {closes[before]}"
            # Reading again, we get what was in flight, then the end.
            received = 0
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
                    received += 1
            except websockets.exceptions.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                print(f"# slow reader: {received} messages, then closed with {code}")
                assert code in (1008, None), f"client saw close code {code}"

    async def connections_back_to_one(self):
        # Only the /stats request's own connection is left.
        deadline = time.monotonic() + 10
        count = None
        while time.monotonic() < deadline:
            count = self.stats()["connections"]
            if count == 1:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{count} connections left")


async def main(checks):
    await checks.run("echo within frame and message limits", checks.under_limits_echo())
    await checks.run("message over the limit: 1009", checks.message_over_limit())
    await checks.run("frame over the limit: 1009", checks.frame_over_limit())
    await checks.run("websockets answers pings and stays open",
                     checks.answering_client_stays_open())
    await checks.run("raw client that never answers pings is closed",
                     checks.silent_raw_client_is_closed())
    await checks.run("refused origin: 403", checks.refused_origin())
    await checks.run("allowed origin: upgraded", checks.allowed_origin())
    await checks.run("slow reader closed with 1008", checks.slow_reader_closed_1008())
    await checks.run("every connection closed", checks.connections_back_to_one())


def run():
    return harness.run_async("e2e_wslimits.py", Checks, main, TOTAL_TIMEOUT)


if __name__ == "__main__":
    sys.exit(run())
