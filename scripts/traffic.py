#!/usr/bin/python3
"""Traffic for a running sluice (the default config): a few WebSocket
clients on ws:/echo, ws:/contentType and a chat room, and HTTP requests,
for DURATION seconds. Used for the README screenshot and to look at the
monitor window by hand:

    /usr/bin/python3 scripts/traffic.py 127.0.0.1:8080 30
"""
import asyncio
import json
import random
import sys
import urllib.request

import websockets


async def echo(base, name, stop):
    async with websockets.connect(f"ws://{base}/echo", ping_interval=None) as ws:
        n = 0
        while not stop.is_set():
            n += 1
            if n % 3 == 0:
                await ws.send(json.dumps({"client": name, "seq": n,
                                          "reading": {"temp": round(random.uniform(18, 24), 1),
                                                      "ok": True}}))
            elif n % 7 == 0:
                await ws.send(bytes(random.randrange(256) for _ in range(24)))
            else:
                await ws.send(f"{name}: message {n}")
            await ws.recv()
            await asyncio.sleep(random.uniform(0.05, 0.3))
        await ws.close(1000, "done")


async def content_type(base, stop):
    async with websockets.connect(f"ws://{base}/contentType", ping_interval=None) as ws:
        kinds = ["js", "png", "html", "css", "json", "svg"]
        while not stop.is_set():
            await ws.send(random.choice(kinds))
            await ws.recv()
            await asyncio.sleep(random.uniform(0.3, 0.8))


async def chat(base, room, name, stop):
    async with websockets.connect(f"ws://{base}/chat/{room}", ping_interval=None) as ws:
        n = 0
        while not stop.is_set():
            n += 1
            await ws.send(json.dumps({"from": name, "text": f"hello #{n}"}))
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), random.uniform(0.4, 1.2))
            except asyncio.TimeoutError:
                pass


async def http(base, stop):
    paths = ["/", "/hello/sluice", "/echo.html", "/missing", "/contentType.html"]
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        path = random.choice(paths)

        def fetch():
            try:
                with urllib.request.urlopen(f"http://{base}{path}", timeout=5) as reply:
                    reply.read()
            except Exception:
                pass

        await loop.run_in_executor(None, fetch)
        await asyncio.sleep(random.uniform(0.2, 0.6))


async def main(base, duration):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(t) for t in (
        echo(base, "alice", stop), echo(base, "bob", stop), echo(base, "carol", stop),
        content_type(base, stop), chat(base, "lobby", "dave", stop),
        chat(base, "lobby", "erin", stop), http(base, stop))]
    await asyncio.sleep(duration)
    stop.set()
    await asyncio.wait(tasks, timeout=5)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 30))
