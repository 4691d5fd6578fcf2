#!/usr/bin/python3
"""End-to-end checks of sluice::ProcessHandler (the exec handler, as
websocketd does) with a client we did not write: Debian's python3-websockets
(10.x, asyncio API).

Usage: e2e_exec.py PATH/TO/execserver

The server maps ws:/cat to cat and ws:/exit/<code> to a script that answers
one line and exits with <code>. Prints PASS/FAIL per check and
"N passed, M failed", exits non-zero on any failure, and stops the server
whatever happens.
"""

import asyncio
import os
import sys

import websockets
import websockets.exceptions

# harness.py sits next to this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

CHECK_TIMEOUT = 30  # seconds for any one check
TOTAL_TIMEOUT = 240  # seconds for all of them
REPLY_TIMEOUT = 5  # seconds for one expected message
QUIET = 0.5  # seconds of silence that prove "received nothing"


async def recv(ws, timeout=REPLY_TIMEOUT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def closed(ws):
    """The close code and reason the server sent, once the socket is closed."""
    await asyncio.wait_for(ws.wait_closed(), REPLY_TIMEOUT)
    return ws.close_code, ws.close_reason


class Checks(harness.Checks):
    def __init__(self, port):
        super().__init__(timeout=CHECK_TIMEOUT)
        self.base = f"ws://127.0.0.1:{port}"

    def connect(self, path):
        return websockets.connect(self.base + path, open_timeout=10, close_timeout=5,
                                  ping_interval=None)

    async def cat_round_trip(self):
        async with self.connect("/cat") as ws:
            lines = ["hello", "h\u00e9llo w\u00f6rld \u2603 \U0001f600", "", "x" * 10000]
            for line in lines:
                await ws.send(line)
                reply = await recv(ws)
                assert isinstance(reply, str), f"reply is {type(reply).__name__}"
                assert reply == line, f"{line[:20]!r} came back as {reply[:20]!r}"
            # All at once: one message per line, in order.
            for n in range(50):
                await ws.send(f"line {n}")
            for n in range(50):
                reply = await recv(ws)
                assert reply == f"line {n}", f"expected line {n}, got {reply!r}"
            try:
                extra = await asyncio.wait_for(ws.recv(), QUIET)
            except asyncio.TimeoutError:
                pass
            else:
                raise AssertionError(f"unexpected message {extra!r:.60}")

    async def cat_clients_apart(self):
        async with self.connect("/cat") as a, self.connect("/cat") as b:
            await a.send("from a")
            await b.send("from b")
            assert await recv(a) == "from a"
            assert await recv(b) == "from b"

    async def exit_code(self, code, expected_code, expected_reason):
        async with self.connect(f"/exit/{code}") as ws:
            await ws.send("ping")
            reply = await recv(ws)
            assert reply == f"ping, exiting with {code}", f"got {reply!r}"
            got = await closed(ws)
            assert got == (expected_code, expected_reason), f"closed with {got!r}"


async def main(checks):
    await checks.run("cat: lines round trip", checks.cat_round_trip())
    await checks.run("cat: one process per client", checks.cat_clients_apart())
    await checks.run("exit 0 closes with 1000", checks.exit_code(0, 1000, ""))
    await checks.run("exit 3 closes with 1011 'exit status 3'",
                     checks.exit_code(3, 1011, "exit status 3"))
    await checks.run("exit 42 closes with 1011 'exit status 42'",
                     checks.exit_code(42, 1011, "exit status 42"))


def run():
    return harness.run_async("e2e_exec.py", Checks, main, TOTAL_TIMEOUT)


if __name__ == "__main__":
    sys.exit(run())
