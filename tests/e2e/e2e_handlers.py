#!/usr/bin/python3
"""End-to-end checks of Sluice's built-in WebSocket handlers (echo,
contentType, BroadcastRooms) with a client we did not write: Debian's
python3-websockets (10.x, asyncio API).

Usage: e2e_handlers.py PATH/TO/handlerserver

Starts the server on a free loopback port, runs every check with a time
bound, prints PASS/FAIL per check and "N passed, M failed", exits non-zero
on any failure, and stops the server whatever happens.
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


def js_glob_type():
    """The type that shared-mime-info, the database Qt reads, gives *.js."""
    js_type = harness.js_type_from_shared_mime_info()
    if js_type is None:
        raise RuntimeError(f"no *.js glob in {harness.MIME_PACKAGE}")
    return js_type


async def recv(ws, timeout=REPLY_TIMEOUT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def assert_quiet(ws, who):
    """Nothing arrives on ws within QUIET seconds."""
    try:
        message = await asyncio.wait_for(ws.recv(), QUIET)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"{who} received {message!r:.60} but should have received nothing")


class Checks(harness.Checks):
    def __init__(self, port):
        super().__init__(timeout=CHECK_TIMEOUT)
        self.base = f"ws://127.0.0.1:{port}"

    def connect(self, path):
        return websockets.connect(
            self.base + path,
            open_timeout=10,
            close_timeout=5,
            max_size=4 * 1024 * 1024,
            # Pings from the library would only add traffic to count around.
            ping_interval=None,
        )

    # --- echo ---------------------------------------------------------

    async def echo_text(self):
        async with self.connect("/echo") as ws:
            for message in ["hello", "", "h\u00e9llo w\u00f6rld \u2603 \U0001f600", "y" * 70000]:
                await ws.send(message)
                reply = await recv(ws)
                assert isinstance(reply, str), f"text came back as {type(reply).__name__}"
                assert reply == message, f"{message[:20]!r} came back as {reply[:20]!r}"
            await assert_quiet(ws, "echo client after its replies")

    async def echo_binary(self):
        async with self.connect("/echo") as ws:
            for message in [b"\x00\x01\xfe\xff", b"", bytes(range(256)), b"\xc3\x28 not utf-8"]:
                await ws.send(message)
                reply = await recv(ws)
                assert isinstance(reply, bytes), f"binary came back as {type(reply).__name__}"
                assert reply == message, f"{message[:20]!r} came back as {reply[:20]!r}"
            # The same content as text and as binary: only the kind differs.
            await ws.send("same")
            await ws.send(b"same")
            first, second = await recv(ws), await recv(ws)
            assert first == "same" and second == b"same", (first, second)

    async def echo_one_mebibyte(self):
        payload = os.urandom(1024 * 1024)
        async with self.connect("/echo") as ws:
            await ws.send(payload)
            reply = await recv(ws, 20)
            assert isinstance(reply, bytes), type(reply).__name__
            assert len(reply) == len(payload), f"{len(reply)} bytes came back"
            assert reply == payload, "the bytes differ"

    # --- contentType --------------------------------------------------

    async def content_type(self, extension, expected):
        async with self.connect("/contentType") as ws:
            await ws.send(extension)
            reply = await recv(ws)
            assert isinstance(reply, str), f"reply is {type(reply).__name__}"
            assert reply == expected, f"{extension!r} -> {reply!r}, expected {expected!r}"

    async def content_type_several(self, expectations):
        async with self.connect("/contentType") as ws:
            for extension, expected in expectations:
                await ws.send(extension)
                reply = await recv(ws)
                assert reply == expected, f"{extension!r} -> {reply!r}"
            # All at once: the answers keep the order of the questions.
            for extension, _ in expectations:
                await ws.send(extension)
            for extension, expected in expectations:
                reply = await recv(ws)
                assert reply == expected, f"burst {extension!r} -> {reply!r}"
            await assert_quiet(ws, "contentType client after its answers")

    # --- BroadcastRooms -----------------------------------------------

    async def lobby(self):
        async with self.connect("/chat/lobby") as a, self.connect(
            "/chat/lobby"
        ) as b, self.connect("/chat/lobby") as c, self.connect("/chat/other") as other:
            lobby = {"a": a, "b": b, "c": c}
            for name, sender in lobby.items():
                message = f"hello from {name} \u2603"
                await sender.send(message)
                for peer_name, peer in lobby.items():
                    if peer is sender:
                        continue
                    got = await recv(peer)
                    assert got == message, f"{peer_name} got {got!r} instead of {message!r}"
                await assert_quiet(sender, f"{name} (the sender)")
            # Binary is relayed as binary.
            await b.send(b"\x00\xffbinary")
            for peer_name, peer in (("a", a), ("c", c)):
                got = await recv(peer)
                assert got == b"\x00\xffbinary", f"{peer_name} got {got!r}"
            # Exactly once: nothing more for anyone in the lobby, nothing at
            # all in the other room.
            await asyncio.gather(
                *(assert_quiet(ws, name) for name, ws in lobby.items()),
                assert_quiet(other, "the client in room 'other'"),
            )
            # And the other room's lone member talks to nobody.
            await other.send("anyone?")
            await asyncio.gather(
                *(assert_quiet(ws, name) for name, ws in lobby.items()),
                assert_quiet(other, "the client in room 'other' (its own message)"),
            )

    async def leaving(self):
        a = await self.connect("/chat/leaving")
        b = await self.connect("/chat/leaving")
        c = await self.connect("/chat/leaving")
        d = None
        try:
            await c.close()
            await a.send("after c left")
            assert await recv(b) == "after c left"
            await b.send("b still here")
            assert await recv(a) == "b still here"
            await assert_quiet(a, "a")

            # A member that vanishes without a close handshake.
            d = await self.connect("/chat/leaving")
            b.transport.abort()
            await asyncio.wait_for(b.wait_closed(), REPLY_TIMEOUT)
            await a.send("after b vanished")
            assert await recv(d) == "after b vanished"
            await d.send("d answers")
            assert await recv(a) == "d answers"
            await asyncio.gather(assert_quiet(a, "a"), assert_quiet(d, "d"))
        finally:
            for ws in (a, b, c, d):
                if ws is not None:
                    await ws.close()

    async def crowd(self, clients, messages):
        sockets = []
        try:
            for _ in range(clients):
                sockets.append(await self.connect("/chat/crowd"))

            async def talk_and_listen(index, ws):
                for n in range(messages):
                    await ws.send(f"{index}:{n}")
                expected = (clients - 1) * messages
                next_from = {}
                for count in range(expected):
                    try:
                        message = await recv(ws, 10)
                    except asyncio.TimeoutError:
                        raise AssertionError(
                            f"client {index} got {count} of {expected} messages"
                        ) from None
                    sender, number = (int(part) for part in message.split(":"))
                    assert sender != index, f"client {index} heard itself"
                    want = next_from.get(sender, 0)
                    assert (
                        number == want
                    ), f"client {index}: from {sender} got {number}, expected {want}"
                    next_from[sender] = number + 1
                assert len(next_from) == clients - 1, f"client {index} heard {sorted(next_from)}"
                assert all(n == messages for n in next_from.values()), next_from

            await asyncio.gather(*(talk_and_listen(i, ws) for i, ws in enumerate(sockets)))
            await asyncio.gather(
                *(assert_quiet(ws, f"crowd client {i}") for i, ws in enumerate(sockets))
            )
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def main(checks):
    js_type = js_glob_type()
    print(f"# *.js in shared-mime-info: {js_type}")
    await checks.run("echo text", checks.echo_text())
    await checks.run("echo binary", checks.echo_binary())
    await checks.run("echo 1 MiB binary", checks.echo_one_mebibyte())
    expectations = [
        ("js", js_type),
        ("html", "text/html"),
        ("css", "text/css"),
        ("png", "image/png"),
        ("zzzunknown", "application/octet-stream"),
    ]
    for extension, expected in expectations:
        await checks.run(f"contentType {extension}", checks.content_type(extension, expected))
    await checks.run(
        "contentType several on one connection", checks.content_type_several(expectations)
    )
    await checks.run("broadcast lobby: others only, exactly once", checks.lobby())
    await checks.run("broadcast: leaving members do not stop the rest", checks.leaving())
    await checks.run("broadcast: 10 clients x 20 messages", checks.crowd(10, 20))


def run():
    return harness.run_async("e2e_handlers.py", Checks, main, TOTAL_TIMEOUT)


if __name__ == "__main__":
    sys.exit(run())
