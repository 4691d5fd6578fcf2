#!/usr/bin/python3
"""End-to-end checks of Sluice's WebSocket side with a client we did not
write: Debian's python3-websockets (10.x, asyncio API).

Usage: e2e_websockets.py PATH/TO/wsserver

Starts the server on a free loopback port, runs every check with a time
bound, prints PASS/FAIL per check and "N passed, M failed", and stops the
server whatever happens.
"""

import asyncio
import json
import os
import sys

import websockets
import websockets.exceptions

# harness.py sits next to this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness

STEP_TIMEOUT = 20  # seconds for any one check


class Checks(harness.Checks):
    def __init__(self, port):
        super().__init__(timeout=STEP_TIMEOUT)
        self.base = f"ws://127.0.0.1:{port}"

    def connect(self, path, **kwargs):
        kwargs.setdefault("open_timeout", 10)
        kwargs.setdefault("close_timeout", 10)
        kwargs.setdefault("max_size", 4 * 1024 * 1024)
        # Keepalive pings would only add noise to short checks.
        kwargs.setdefault("ping_interval", None)
        return websockets.connect(self.base + path, **kwargs)

    # --- the checks ---------------------------------------------------

    async def content_type(self, extension, expect):
        async with self.connect("/contentType") as ws:
            await ws.send(extension)
            reply = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(reply, str), f"reply is {type(reply).__name__}"
            if callable(expect):
                assert expect(reply), f"{extension!r} -> {reply!r}"
            else:
                assert reply == expect, f"{extension!r} -> {reply!r}, expected {expect!r}"

    async def several_queries(self, expectations):
        async with self.connect("/contentType") as ws:
            for extension, expect in expectations:
                await ws.send(extension)
                reply = await asyncio.wait_for(ws.recv(), 5)
                assert expect(reply), f"{extension!r} -> {reply!r}"
            # And a burst: the answers keep the order of the queries.
            for extension, _ in expectations:
                await ws.send(extension)
            for extension, expect in expectations:
                reply = await asyncio.wait_for(ws.recv(), 5)
                assert expect(reply), f"burst {extension!r} -> {reply!r}"
            assert ws.open

    async def echo_text_and_binary(self):
        async with self.connect("/echo") as ws:
            for message in ["hello", "", "h\u00e9llo w\u00f6rld \u2603", "x" * 70000]:
                await ws.send(message)
                reply = await asyncio.wait_for(ws.recv(), 5)
                assert isinstance(reply, str) and reply == message, f"text {message[:20]!r}"
            for message in [b"\x00\x01\x02\xff", b"", bytes(range(256)) * 300]:
                await ws.send(message)
                reply = await asyncio.wait_for(ws.recv(), 5)
                assert isinstance(reply, bytes) and reply == message, f"binary {len(message)}"

    async def echo_length_boundaries(self):
        # Where a frame's length field changes size: 7 bits, 16 bits, 64 bits.
        async with self.connect("/echo") as ws:
            for size in [0, 1, 125, 126, 127, 65535, 65536, 65537]:
                text = "".join(chr(ord("a") + i % 26) for i in range(size))
                await ws.send(text)
                reply = await asyncio.wait_for(ws.recv(), 5)
                assert isinstance(reply, str) and reply == text, f"text of {size}"
                data = os.urandom(size)
                await ws.send(data)
                reply = await asyncio.wait_for(ws.recv(), 5)
                assert isinstance(reply, bytes) and reply == data, f"binary of {size}"

    async def burst_in_order(self, count):
        # Everything is sent before anything is read: answers to messages
        # that arrive together must keep their order.
        async with self.connect("/echo") as ws:
            sent = [f"{i}:" + "q" * (i % 300) for i in range(count)]
            for message in sent:
                await ws.send(message)
            got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(count)]
            assert got == sent, next(
                f"reply {i} is {g[:20]!r}, sent {m[:20]!r}" for i, (g, m) in
                enumerate(zip(got, sent)) if g != m)

    async def echo_one_megabyte(self):
        payload = os.urandom(1024 * 1024)
        async with self.connect("/echo") as ws:
            await ws.send(payload)
            reply = await asyncio.wait_for(ws.recv(), 15)
            assert isinstance(reply, bytes), type(reply).__name__
            assert len(reply) == len(payload), f"{len(reply)} bytes back"
            assert reply == payload, "payload differs"

    async def path_params(self):
        async with self.connect("/rooms/lobby/alice_2") as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert first == {"room": "lobby", "user": "alice_2"}, first
            await ws.send("after params")
            assert await asyncio.wait_for(ws.recv(), 5) == "after params"

    async def server_close_code(self, code):
        async with self.connect(f"/close/{code}") as ws:
            await ws.send("close please")
            try:
                extra = await asyncio.wait_for(ws.recv(), 5)
            except websockets.exceptions.ConnectionClosed as closed:
                assert closed.rcvd is not None, "no close frame received"
                assert closed.rcvd.code == code, closed.rcvd.code
            else:
                raise AssertionError(f"got a message instead of a close: {extra!r}")
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == code, ws.close_code
            assert ws.close_reason == "bye", ws.close_reason

    async def client_close_normal(self):
        ws = await self.connect("/echo")
        await ws.send("one")
        assert await asyncio.wait_for(ws.recv(), 5) == "one"
        await ws.close(code=1000, reason="done")
        await asyncio.wait_for(ws.wait_closed(), 5)
        # The server answered the close frame with 1000 and hung up cleanly.
        assert ws.close_code == 1000, ws.close_code
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosedOK:
            pass
        else:
            raise AssertionError("recv after close did not raise ConnectionClosedOK")

    async def subprotocol(self, offered, expected):
        async with self.connect("/proto", subprotocols=offered) as ws:
            assert ws.subprotocol == expected, f"negotiated {ws.subprotocol!r}"
            told = await asyncio.wait_for(ws.recv(), 5)
            assert told == (expected or "none"), f"server says {told!r}"

    async def guarded_refused(self):
        try:
            async with self.connect("/guarded"):
                pass
        except websockets.exceptions.InvalidStatusCode as error:
            assert error.status_code == 403, error.status_code
        else:
            raise AssertionError("handshake without the token was accepted")

    async def guarded_with_token(self):
        async with self.connect("/guarded", extra_headers={"X-Token": "secret"}) as ws:
            await ws.send("let me in")
            assert await asyncio.wait_for(ws.recv(), 5) == "let me in"

    async def concurrent(self, clients, messages):
        async def one(index):
            async with self.connect("/echo") as ws:
                sent = [f"{index}:{n}" for n in range(messages)]
                for message in sent:
                    await ws.send(message)
                got = [await asyncio.wait_for(ws.recv(), 10) for _ in sent]
                assert got == sent, f"client {index} got {got[:3]}..."

        await asyncio.gather(*(one(i) for i in range(clients)))


async def main(checks):
    js_type = harness.js_type_from_shared_mime_info()
    if js_type:
        js_expect = js_type
        print(f"# *.js in shared-mime-info: {js_type}")
    else:
        print("# no shared-mime-info package file; accepting any JavaScript type for js")
        js_expect = lambda reply: "javascript" in reply  # noqa: E731

    def matches(expect):
        return expect if callable(expect) else (lambda reply: reply == expect)

    expectations = [
        ("js", js_expect),
        ("html", "text/html"),
        ("css", "text/css"),
        ("png", "image/png"),
        ("zzzunknown", "application/octet-stream"),
    ]
    for extension, expect in expectations:
        await checks.run(f"contentType {extension}", checks.content_type(extension, expect))
    await checks.run(
        "contentType several queries on one connection",
        checks.several_queries([(e, matches(x)) for e, x in expectations]),
    )
    await checks.run("echo text and binary", checks.echo_text_and_binary())
    await checks.run("echo at frame-length boundaries", checks.echo_length_boundaries())
    await checks.run("1000 messages sent before reading", checks.burst_in_order(1000))
    await checks.run("echo 1 MB binary", checks.echo_one_megabyte())
    await checks.run("path parameters", checks.path_params())
    await checks.run("server close code 4003", checks.server_close_code(4003))
    await checks.run("server close code 4999", checks.server_close_code(4999))
    await checks.run("client close 1000", checks.client_close_normal())
    await checks.run("subprotocol chat.v1", checks.subprotocol(["chat.v1"], "chat.v1"))
    await checks.run(
        "subprotocol client order", checks.subprotocol(["chat.v1", "chat.v2"], "chat.v1")
    )
    await checks.run("subprotocol none matching", checks.subprotocol(["other"], None))
    await checks.run("guarded without token -> 403", checks.guarded_refused())
    await checks.run("guarded with token", checks.guarded_with_token())
    await checks.run("20 clients x 50 messages", checks.concurrent(20, 50))


def run():
    if len(sys.argv) < 2:
        print("usage: e2e_websockets.py PATH/TO/wsserver", file=sys.stderr)
        return 2
    print(f"# websockets {websockets.__version__}")
    checks = None
    try:
        with harness.Server([sys.argv[1], "0"]) as server:
            checks = Checks(server.port)
            asyncio.run(asyncio.wait_for(main(checks), 300))
            if not server.running():
                checks.check("server still running", False,
                             f"exited with {server.returncode}")
    except Exception as error:  # noqa: BLE001 - setup failures count as a failure
        if checks is None:
            checks = harness.Checks()
        checks.check("setup", False, f"{type(error).__name__}: {error}")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(run())
