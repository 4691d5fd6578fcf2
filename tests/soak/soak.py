#!/usr/bin/python3
"""Soak test: hundreds of WebSocket clients through `echo` and `broadcast` on a
real `sluice --headless`, some of them dropping and reconnecting at random,
with every message checked and the server's memory measured.

Usage: soak.py PATH/TO/sluice [--clients 300] [--duration 75] [--rooms 10] ...
       (soak.py --help lists every flag; the defaults are the CI-sized run)

The server runs with tests/soak/soak.json (ws:/echo -> echo,
ws:/chat/(?<room>\\w+) -> broadcast, the default limits, four worker threads,
so that every room spans threads) on 127.0.0.1, port 0,
with its access log as JSON in a temporary file. The clients are Debian's
python3-websockets (asyncio), spread over source addresses 127.0.0.2... (at most
100 per address, under the default per-address cap). A share of the clients
(--echo-fraction) talk to /echo, the others are members of --rooms chat rooms.
A share of the clients (--drop-fraction) drop at random (on average once every
--mean-life seconds): cleanly (close 1000), abruptly (transport aborted, no
close frame) or with a TCP reset (SO_LINGER 0), then reconnect after up to
--reconnect-max seconds. Every message is "cid.gen.seq|padding": the client,
its connection generation, a sequence number per connection, and padding whose
length and letter follow from the three (1 to --max-pad bytes, every 97th
message 4 KiB more), so a corrupted payload is seen.

A round: the chaos phase (--duration seconds: sending at --rate messages per
second per client, drops, reconnects); then every client reconnects if it has
to, and when all are connected each sends --final-messages more; then the run
waits until everything expected has arrived (or --drain-timeout), and every
client closes with 1000. A warm-up round (--warmup seconds) runs first; the
memory baseline is taken after it.

What is checked (any failure is a violation; the script exits 1 if there is
one). "Accepted" is what the server says it received on that connection: the
`messagesIn` of the connection's `ws_close` line in the access log, matched to
the client's connection by its target (`?c=<client>&g=<generation>`).

Echo, per connection:
  E1  the echoes arrive exactly once, in order, unaltered: the k-th message
      received is the k-th sent, byte for byte.
  E2  on a connection we did not drop, or dropped cleanly (close 1000), every
      message sent came back, and sent = accepted = echoed by the server
      (`messagesOut`) = received.
  E3  after an abrupt drop (abort or reset): received <= echoed <= accepted
      <= sent. The messages sent but not echoed back are counted separately
      ("unconfirmed"), split into not accepted and accepted but undelivered
      (the client had gone).
Broadcast, for every receiving connection B and every sending connection A in
the same room (A != B; earlier connections of B's own client included):
  B1  the sequence numbers B gets from A are contiguous: strictly increasing by
      exactly 1 (no duplicate, no reordering, no gap), payloads unaltered;
      nothing from B itself or from another room.
  B2  if B stayed open until the end (closed by us after the drain): B got
      every message A sent after B's handshake had completed and that the
      server accepted, up to A's last accepted one. (A client that sees its
      handshake complete is in the room: the server joins it before the
      handshake answer can reach it.)
  B3  a connection closed cleanly received exactly what the server sent it
      (`messagesOut`); a broadcast sender closed cleanly had every message
      accepted (sent = accepted).
Server:
  S1  the server never closes a client: every close a client sees is one it
      started, and a client's clean close is answered with 1000.
  S2  every connection a client opened appears in the access log as opened and
      closed, no other WebSocket does, and after each round the number of open
      WebSockets (opens - closes) is back to 0; the log reports no monitor
      events dropped; connecting never fails.
  S3  the server exits 0 on SIGTERM at the end.
Memory (VmRSS and VmHWM from /proc/PID/status):
  M1  baseline after the warm-up round once its clients have left; after the
      soak round, once its clients have left and --settle seconds passed, VmRSS
      must be within max(--rss-tolerance-pct % of the baseline,
      --rss-tolerance-mib MiB) of it. Under AddressSanitizer (its quarantine
      holds freed memory) the figures are printed but not checked.

Diagnosis when RSS does not come back: --gdb-malloc reads glibc's own count
of the heap in use (malloc_stats() called through gdb) at the baseline and at
the end, then calls malloc_trim(0) and reads RSS again: heap in use back at
its baseline while RSS is not means glibc keeps freed memory, not a leak.
--wrap "heaptrack -o FILE" runs the server under heaptrack.

A watchdog kills the server and exits 3 at --deadline seconds (default: the
rounds plus 150 s). Prints one summary line ("soak: ...") and, with --json FILE,
writes every figure there.
"""

import argparse
import array
import asyncio
import bisect
import json
import os
import random
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import websockets
import websockets.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
START_SECONDS = 15
STOP_SECONDS = 20
CONNECT_TIMEOUT = 15
MAX_REPORTED = 25  # violations printed in full; the rest are only counted
WINDOW = 16  # echo messages in flight per connection


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sluice", help="path to the sluice executable")
    p.add_argument("--clients", type=int, default=300)
    p.add_argument("--duration", type=float, default=75, help="seconds of the soak round's chaos phase")
    p.add_argument("--warmup", type=float, default=10, help="seconds of the warm-up round's chaos phase")
    p.add_argument("--rooms", type=int, default=10)
    p.add_argument("--echo-fraction", type=float, default=0.5)
    p.add_argument("--drop-fraction", type=float, default=0.5, help="share of clients that drop at random")
    p.add_argument("--mean-life", type=float, default=12, help="mean seconds between a dropper's drops")
    p.add_argument("--reconnect-max", type=float, default=1.0)
    p.add_argument("--rate", type=float, default=4, help="messages per second per client")
    p.add_argument("--max-pad", type=int, default=200)
    p.add_argument("--final-messages", type=int, default=5)
    p.add_argument("--drain-timeout", type=float, default=30)
    p.add_argument("--settle", type=float, default=3, help="seconds after the clients left before reading RSS")
    p.add_argument("--rss-tolerance-pct", type=float, default=10)
    p.add_argument("--rss-tolerance-mib", type=float, default=8)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--deadline", type=float, default=None, help="hard limit in seconds for the whole run")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--gdb-malloc", action="store_true",
                   help="diagnosis: read glibc's heap in use (malloc_stats via gdb) at the baseline and at the "
                        "end, then malloc_trim(0) and read RSS again")
    p.add_argument("--wrap", default="", help='run sluice under this command, e.g. "heaptrack -o /tmp/soak"')
    args = p.parse_args()
    if args.clients < 2 or args.rooms < 1 or args.rate <= 0 or args.duration <= 0 or args.warmup <= 0:
        p.error("--clients >= 2, --rooms >= 1, --rate, --duration and --warmup > 0")
    if not 0 <= args.echo_fraction <= 1 or not 0 <= args.drop_fraction <= 1:
        p.error("--echo-fraction and --drop-fraction are between 0 and 1")
    if args.deadline is None:
        args.deadline = args.warmup + args.duration + 2 * args.drain_timeout + 150
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    return args


def payload(cid, gen, seq, max_pad):
    n = 1 + (cid * 7919 + gen * 104729 + seq * 31) % max_pad
    if seq % 97 == 0:
        n += 4096
    return "%d.%d.%d|%s" % (cid, gen, seq, chr(97 + (cid + gen + seq) % 26) * n)


def memory(pid):
    """(VmRSS, VmHWM) in KiB."""
    values = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def descendant(pid, binary):
    """The process running `binary` among pid's descendants (or pid)."""
    target = os.path.realpath(binary)
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    todo = [pid]
    while todo:
        candidate = todo.pop()
        try:
            if os.path.realpath("/proc/%d/exe" % candidate) == target:
                return candidate
        except OSError:
            pass
        todo.extend(children.get(candidate, []))
    return pid


def mib(kib):
    return "%.1f MiB" % (kib / 1024)


class Server:
    """`sluice --headless --config soak.json` with its access log as JSON lines."""

    def __init__(self, binary, log_path, wrapper=()):
        self.log_path = log_path
        self.process = subprocess.Popen(
            list(wrapper) + [binary, "--headless", "--config", os.path.join(HERE, "soak.json"), "--port", "0",
             "--log", log_path, "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")})
        self.lines = []
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()
        deadline = time.monotonic() + START_SECONDS
        self.port = None
        while self.port is None and time.monotonic() < deadline and self.process.poll() is None:
            for line in list(self.lines):
                m = re.search(r"Listening on http://127\.0\.0\.1:(\d+)/", line)
                if m:
                    self.port = int(m.group(1))
            time.sleep(0.05)
        if self.port is None:
            self.kill()
            raise RuntimeError("sluice did not start: %r" % self.lines[-5:])
        # Under a wrapper (heaptrack, valgrind): the sluice process below it.
        self.pid = self.process.pid if not wrapper else descendant(self.process.pid, binary)
        # AddressSanitizer, linked dynamically (gcc) or statically (clang).
        with open("/proc/%d/maps" % self.pid) as f:
            self.sanitized = "libasan" in f.read()
        with open(binary, "rb") as f:
            self.sanitized = self.sanitized or b"__asan_init" in f.read()
        self.offset = 0
        self.partial = b""
        self.opened = {}  # target -> ws_open record
        self.closed = {}  # target -> ws_close record
        self.problems = []  # error / dropped / warning records

    def _drain(self, stream):
        for raw in iter(stream.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def read_log(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        for raw in complete:
            if not raw.strip():
                continue
            record = json.loads(raw)
            event = record.get("event")
            if event == "ws_open":
                self.opened.setdefault(record["target"], []).append(record)
            elif event == "ws_close":
                self.closed.setdefault(record["target"], []).append(record)
            elif event in ("error", "dropped") or (event == "log" and record.get("level") != "info"
                                                   and record.get("level") != "debug"):
                self.problems.append(record)

    def open_count(self):
        return sum(map(len, self.opened.values())) - sum(map(len, self.closed.values()))

    def memory(self):
        return memory(self.pid)

    def malloc_stats(self, trim):
        """Diagnosis (--gdb-malloc): glibc's own count of the heap in use, read
        by calling malloc_stats() in the server through gdb; with trim, also
        malloc_trim(0). Returns (in-use bytes of all arenas, RSS KiB after)."""
        before = len(self.lines)
        calls = ["-ex", "call (void)malloc_stats()"]
        if trim:
            calls += ["-ex", "call (int)malloc_trim(0)"]
        subprocess.run(["gdb", "-p", str(self.pid), "-batch", "-nx"] + calls, capture_output=True, timeout=60)
        in_use = None
        deadline = time.monotonic() + 5
        while in_use is None and time.monotonic() < deadline:
            for line in self.lines[before:]:
                m = re.match(r"Total \(incl. mmap\):$", line)
                if m:
                    idx = self.lines.index(line, before)
                    for follow in self.lines[idx:idx + 4]:
                        m2 = re.search(r"in use bytes\s*=\s*(\d+)", follow)
                        if m2:
                            in_use = int(m2.group(1))
                            break
            time.sleep(0.1)
        self.malloc_report = [line for line in self.lines[before:] if re.search(r"Arena|bytes|Total", line)]
        return in_use, self.memory()[0]

    def stop(self):
        """SIGTERM; the exit code, or None if it had to be killed."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Conn:
    """One WebSocket connection of one client (one generation)."""

    __slots__ = ("client", "gen", "target", "connect_at", "open_at", "ws", "reader", "sent",
                 "send_times", "received", "senders", "end", "close_code")

    def __init__(self, client, gen):
        self.client = client
        self.gen = gen
        self.target = "%s?c=%d&g=%d" % (client.path, client.cid, gen)
        self.connect_at = self.open_at = None
        self.ws = self.reader = None
        self.sent = 0
        self.send_times = array.array("d")  # broadcast senders: loop time before each send
        self.received = 0
        self.senders = {}  # broadcast: (cid, gen) -> [first seq, last seq]
        # None while open; then "final" (closed by us at the end), "clean",
        # "abort", "rst" (our drops), "server" (closed by the server), "failed".
        self.end = None
        self.close_code = None

    @property
    def name(self):
        return "%s c%d g%d" % (self.client.kind, self.client.cid, self.gen)


class Client:
    def __init__(self, cid, kind, room, drops, source):
        self.cid = cid
        self.kind = kind
        self.room = room
        self.drops = drops
        self.source = source
        self.path = "/echo" if kind == "echo" else "/chat/r%d" % room
        self.gen = 0
        self.conn = None


class Soak:
    CHAOS, SETTLE, FINAL, CLOSE = range(4)

    def __init__(self, args, server):
        self.args = args
        self.server = server
        self.rng = random.Random(args.seed)
        self.violations = []
        self.violation_count = {}
        self.conns = {}  # (cid, gen) -> Conn
        self.stats = {"drops": {"clean": 0, "abort": 0, "rst": 0}, "reconnects": 0}
        addresses = max(1, (args.clients + 99) // 100)
        n_echo = round(args.clients * args.echo_fraction)
        self.clients = []
        for cid in range(args.clients):
            kind = "echo" if cid < n_echo else "chat"
            room = (cid - n_echo) % args.rooms
            drops = self.rng.random() < args.drop_fraction
            self.clients.append(Client(cid, kind, room, drops, "127.0.0.%d" % (2 + cid % addresses)))

    def violation(self, kind, detail):
        self.violation_count[kind] = self.violation_count.get(kind, 0) + 1
        if len(self.violations) < MAX_REPORTED:
            self.violations.append("%s: %s" % (kind, detail))

    # --- connections

    async def connect(self, client):
        client.gen += 1
        conn = Conn(client, client.gen)
        self.conns[(client.cid, conn.gen)] = conn
        loop = asyncio.get_running_loop()
        conn.connect_at = loop.time()
        url = "ws://127.0.0.1:%d%s" % (self.server.port, conn.target)
        try:
            conn.ws = await asyncio.wait_for(
                websockets.connect(url, local_addr=(client.source, 0), compression=None,
                                   ping_interval=None, close_timeout=10, max_size=1 << 20,
                                   open_timeout=None),
                CONNECT_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - any failure to connect is reported
            conn.end = "failed"
            self.violation("S2 connect failed", "%s: %r" % (conn.name, e))
            return None
        conn.open_at = loop.time()
        conn.reader = asyncio.create_task(self.read(conn))
        if client.conn is not None:
            self.stats["reconnects"] += 1
        client.conn = conn
        return conn

    async def read(self, conn):
        handle = self.on_echo if conn.client.kind == "echo" else self.on_chat
        try:
            async for message in conn.ws:
                handle(conn, message)
        except websockets.exceptions.ConnectionClosed:
            pass
        conn.close_code = conn.ws.close_code
        if conn.end is None:
            conn.end = "server"
            self.violation("S1 server closed a client",
                           "%s: close %s %r" % (conn.name, conn.ws.close_code, conn.ws.close_reason))

    def on_echo(self, conn, message):
        try:
            head = message.partition("|")[0]
            cid, gen, seq = map(int, head.split("."))
        except (ValueError, TypeError, AttributeError):
            self.violation("E1 bad echo", "%s: %r" % (conn.name, message[:60]))
            return
        expected = conn.received + 1
        if (cid, gen) != (conn.client.cid, conn.gen) or seq != expected:
            self.violation("E1 echo out of order", "%s: expected seq %d, got %s" % (conn.name, expected, head))
            if (cid, gen) == (conn.client.cid, conn.gen) and seq > conn.received:
                conn.received = seq
            return
        if message != payload(cid, gen, seq, self.args.max_pad):
            self.violation("E1 echo altered", "%s seq %d (%d bytes)" % (conn.name, seq, len(message)))
        conn.received = seq

    def on_chat(self, conn, message):
        try:
            head = message.partition("|")[0]
            cid, gen, seq = map(int, head.split("."))
        except (ValueError, TypeError, AttributeError):
            self.violation("B1 bad message", "%s: %r" % (conn.name, message[:60]))
            return
        conn.received += 1
        sender = self.conns.get((cid, gen))
        if sender is None or sender is conn or sender.client.path != conn.client.path:
            self.violation("B1 not from a room mate", "%s got %s" % (conn.name, head))
            return
        if message != payload(cid, gen, seq, self.args.max_pad):
            self.violation("B1 altered", "%s got %s (%d bytes)" % (conn.name, head, len(message)))
        run = conn.senders.get((cid, gen))
        if run is None:
            conn.senders[(cid, gen)] = [seq, seq]
        elif seq == run[1] + 1:
            run[1] = seq
        else:
            what = "duplicate or reordered" if seq <= run[1] else "gap"
            self.violation("B1 " + what, "%s from c%d g%d: after seq %d got %d" % (conn.name, cid, gen, run[1], seq))
            run[1] = max(run[1], seq)

    async def send_next(self, conn):
        seq = conn.sent + 1
        if conn.client.kind == "chat":
            conn.send_times.append(asyncio.get_running_loop().time())
        try:
            await conn.ws.send(payload(conn.client.cid, conn.gen, seq, self.args.max_pad))
        except websockets.exceptions.ConnectionClosed:
            if conn.client.kind == "chat":
                conn.send_times.pop()
            return False
        conn.sent = seq
        return True

    async def drop(self, conn, how):
        conn.end = how
        self.stats["drops"][how] += 1
        if how == "clean":
            await conn.ws.close(1000)
        else:
            if how == "rst":
                sock = conn.ws.transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.ws.transport.abort()
        await conn.reader
        if how == "clean" and conn.close_code != 1000:
            self.violation("S1 clean close not answered with 1000", "%s: %s" % (conn.name, conn.close_code))

    # --- one client through a round

    async def chaos(self, conn):
        """Sends until the phase ends (False) or the connection drops (True)."""
        interval = 1.0 / self.args.rate
        p_drop = interval / self.args.mean_life
        rng = self.rng
        while self.phase == self.CHAOS:
            await asyncio.sleep(interval * rng.uniform(0.5, 1.5))
            if conn.end is not None:
                return True
            if self.phase != self.CHAOS:
                break
            if conn.client.drops and rng.random() < p_drop:
                # Usually with messages still in flight: they are what a drop can lose.
                for _ in range(rng.randint(0, 3)):
                    if conn.client.kind == "echo" and conn.sent - conn.received >= WINDOW:
                        break
                    if not await self.send_next(conn):
                        return True
                await self.drop(conn, rng.choice(("clean", "abort", "rst")))
                return True
            if conn.client.kind == "echo" and conn.sent - conn.received >= WINDOW:
                continue
            if not await self.send_next(conn):
                return True
        return False

    async def run_client(self, client, ramp):
        rng = self.rng
        await asyncio.sleep(rng.uniform(0, ramp))
        while self.phase == self.CHAOS:
            conn = await self.connect(client)
            if conn is None:
                await asyncio.sleep(0.5)
                continue
            if await self.chaos(conn) and self.phase == self.CHAOS:
                await asyncio.sleep(rng.uniform(0, self.args.reconnect_max))
        while client.conn is None or client.conn.end is not None:
            if self.phase == self.CLOSE or await self.connect(client) is None:
                await asyncio.sleep(0.5)
            if self.phase == self.CLOSE:
                return
        conn = client.conn
        self.ready += 1
        if self.ready == len(self.clients):
            self.all_ready.set()
        await self.final_go.wait()
        for _ in range(self.args.final_messages):
            while client.kind == "echo" and conn.sent - conn.received >= WINDOW and conn.end is None:
                await asyncio.sleep(0.01)
            if conn.end is not None or not await self.send_next(conn):
                break
            await asyncio.sleep(0.01)
        await self.close_go.wait()
        if conn.end is None:
            conn.end = "final"
            await conn.ws.close(1000)
            await conn.reader
            if conn.close_code != 1000:
                self.violation("S1 clean close not answered with 1000", "%s: %s" % (conn.name, conn.close_code))

    def drained(self):
        """True when every echo came back and every survivor heard every other."""
        for client in self.clients:
            conn = client.conn
            if conn is None or conn.end is not None:
                continue
            if client.kind == "echo":
                if conn.received < conn.sent:
                    return False
        for members in self.rooms.values():
            alive = [c.conn for c in members if c.conn is not None and c.conn.end is None]
            for b in alive:
                for a in alive:
                    if a is not b and a.sent:
                        run = b.senders.get((a.client.cid, a.gen))
                        if run is None or run[1] < a.sent:
                            return False
        return True

    async def round(self, name, duration):
        loop = asyncio.get_running_loop()
        self.phase = self.CHAOS
        self.ready = 0
        self.all_ready = asyncio.Event()
        self.final_go = asyncio.Event()
        self.close_go = asyncio.Event()
        for client in self.clients:
            client.conn = None
        self.rooms = {}
        for client in self.clients:
            if client.kind == "chat":
                self.rooms.setdefault(client.room, []).append(client)
        first = set(self.conns)
        started = loop.time()
        ramp = min(2.0, duration / 4)
        tasks = [asyncio.create_task(self.run_client(c, ramp)) for c in self.clients]
        peak = [0]
        timeline = []  # [seconds, RSS MiB] every 30 s: a plateau or a slope

        async def sample():
            while True:
                rss = self.server.memory()[0]
                peak[0] = max(peak[0], rss)
                if not timeline or loop.time() - started >= timeline[-1][0] + 30:
                    timeline.append([round(loop.time() - started), round(rss / 1024, 1)])
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        await asyncio.sleep(duration)
        self.phase = self.SETTLE
        try:
            await asyncio.wait_for(self.all_ready.wait(), 30)
        except asyncio.TimeoutError:
            self.violation("S2 not every client could reconnect", "%d of %d ready" % (self.ready, len(self.clients)))
        self.phase = self.FINAL
        self.final_go.set()
        drain_start = loop.time()
        quiet_since, last_total = loop.time(), -1
        while loop.time() - drain_start < self.args.drain_timeout:
            await asyncio.sleep(0.2)
            total = sum(c.received for c in self.conns.values())
            if total != last_total:
                quiet_since, last_total = loop.time(), total
            if self.drained() and loop.time() - quiet_since >= 1.0:
                break
        drain_seconds = loop.time() - drain_start
        self.phase = self.CLOSE
        self.close_go.set()
        done, pending = await asyncio.wait(tasks, timeout=30)
        for task in pending:
            task.cancel()
        if pending:
            self.violation("S1 clients did not finish closing", "%d left" % len(pending))
        for task in done:
            if task.exception() is not None:
                self.violation("client error", repr(task.exception()))
        sampler.cancel()
        conns = [c for key, c in self.conns.items() if key not in first]
        # Until the server logged every close: its count of open WebSockets.
        deadline = loop.time() + 15
        while True:
            self.server.read_log()
            missing = [c for c in conns if c.end != "failed" and c.target not in self.server.closed]
            if not missing and self.server.open_count() == 0 or loop.time() > deadline:
                break
            await asyncio.sleep(0.2)
        left_seconds = loop.time() - started
        return conns, {"round": name, "seconds": round(left_seconds, 1), "drain_seconds": round(drain_seconds, 1),
                       "rss_peak_sampled_kib": peak[0], "rss_timeline_mib": timeline}

    # --- after a round: the checks against the server's log

    def check(self, conns):
        f = {"connections": len(conns), "echo_sent": 0, "echo_received": 0, "chat_sent": 0,
             "chat_delivered": 0, "unconfirmed_echo_not_accepted": 0,
             "unconfirmed_echo_accepted_undelivered": 0, "chat_not_accepted": 0,
             "drops": {"clean": 0, "abort": 0, "rst": 0}, "server_close_codes": {}}
        accepted = {}
        for conn in conns:
            opened = self.server.opened.get(conn.target, [])
            closed = self.server.closed.get(conn.target, [])
            if conn.end == "failed":
                continue
            if len(opened) != 1 or len(closed) != 1:
                self.violation("S2 access log", "%s: %d opens, %d closes logged" % (conn.name, len(opened), len(closed)))
                continue
            record = closed[0]
            codes = f["server_close_codes"].setdefault(conn.end, {})
            code = str(record.get("closeCode"))
            codes[code] = codes.get(code, 0) + 1
            accepted[conn] = (record["messagesIn"], record["messagesOut"])
        for conn in conns:
            if conn.end in f["drops"]:
                f["drops"][conn.end] += 1
            if conn not in accepted:
                continue
            into, out = accepted[conn]
            clean = conn.end in ("final", "clean")
            if conn.client.kind == "echo":
                f["echo_sent"] += conn.sent
                f["echo_received"] += conn.received
                if clean and not conn.sent == into == out == conn.received:
                    self.violation("E2 echo lost", "%s (%s): sent %d, accepted %d, echoed %d, received %d"
                                   % (conn.name, conn.end, conn.sent, into, out, conn.received))
                elif not clean and not conn.received <= out <= into <= conn.sent:
                    self.violation("E3 echo counts", "%s (%s): sent %d, accepted %d, echoed %d, received %d"
                                   % (conn.name, conn.end, conn.sent, into, out, conn.received))
                elif not clean:
                    f["unconfirmed_echo_not_accepted"] += conn.sent - into
                    f["unconfirmed_echo_accepted_undelivered"] += into - conn.received
            else:
                f["chat_sent"] += conn.sent
                f["chat_delivered"] += conn.received
                if clean and (into != conn.sent or out != conn.received):
                    self.violation("B3 counts", "%s (%s): sent %d, accepted %d; server sent it %d, it got %d"
                                   % (conn.name, conn.end, conn.sent, into, out, conn.received))
                elif not clean and (into > conn.sent or conn.received > out):
                    self.violation("B3 counts", "%s (%s): sent %d, accepted %d; server sent it %d, it got %d"
                                   % (conn.name, conn.end, conn.sent, into, out, conn.received))
                elif not clean:
                    f["chat_not_accepted"] += conn.sent - into
        # B2: what a member that stayed to the end must have got.
        by_room = {}
        for conn in conns:
            if conn.client.kind == "chat" and conn in accepted:
                by_room.setdefault(conn.client.path, []).append(conn)
        pairs = 0
        for members in by_room.values():
            for b in members:
                if b.end != "final":
                    continue
                for a in members:
                    if a is b:
                        continue
                    pairs += 1
                    last = accepted[a][0]
                    must_from = bisect.bisect_right(a.send_times, b.open_at) + 1
                    run = b.senders.get((a.client.cid, a.gen))
                    if run is None:
                        if must_from <= last:
                            self.violation("B2 missing", "%s got nothing from %s, which sent seq %d..%d after it joined"
                                           % (b.name, a.name, must_from, last))
                    elif run[1] != last or (must_from <= last and run[0] > must_from):
                        self.violation("B2 missing", "%s got seq %d..%d from %s; expected %d..%d"
                                       % (b.name, run[0], run[1], a.name, min(must_from, run[0]), last))
        f["room_pairs_checked"] = pairs
        return f


async def main_async(args, server):
    soak = Soak(args, server)
    figures = {"clients": args.clients, "echo_clients": sum(c.kind == "echo" for c in soak.clients),
               "rooms": args.rooms, "droppers": sum(c.drops for c in soak.clients), "seed": args.seed,
               "rate": args.rate, "duration": args.duration, "warmup": args.warmup, "rounds": []}
    rss_start = server.memory()[0]
    figures["rss_start_kib"] = rss_start

    conns, info = await soak.round("warmup", args.warmup)
    info.update(soak.check(conns))
    await asyncio.sleep(args.settle)
    baseline = server.memory()[0]
    info["rss_after_kib"] = baseline
    if args.gdb_malloc:
        figures["heap_in_use_baseline"], figures["rss_baseline_trim_kib"] = server.malloc_stats(trim=True)
        print("gdb: malloc_stats at the baseline: %s" % " | ".join(server.malloc_report))
    figures["rounds"].append(info)
    print("warm-up: %d connections, RSS start %s, baseline %s" % (info["connections"], mib(rss_start), mib(baseline)),
          flush=True)

    conns, info = await soak.round("soak", args.duration)
    info.update(soak.check(conns))
    tolerance = max(baseline * args.rss_tolerance_pct / 100, args.rss_tolerance_mib * 1024)
    await asyncio.sleep(args.settle)
    after, hwm = server.memory()
    waited = 0
    while after > baseline + tolerance and waited < 10:  # give deferred deletes a chance
        await asyncio.sleep(1)
        waited += 1
        after, hwm = server.memory()
    info["rss_after_kib"] = after
    figures["rounds"].append(info)
    figures.update(rss_baseline_kib=baseline, rss_after_kib=after, rss_hwm_kib=hwm,
                   rss_tolerance_kib=round(tolerance), sanitized=server.sanitized,
                   open_websockets_at_end=server.open_count())
    if args.gdb_malloc:
        figures["heap_in_use_after"], figures["rss_after_trim_kib"] = server.malloc_stats(trim=True)
        print("gdb: malloc_stats at the end: %s" % " | ".join(server.malloc_report))
        print("gdb: glibc heap in use: baseline %s, after %s bytes; RSS after malloc_trim(0): baseline %s, after %s"
              % (figures["heap_in_use_baseline"], figures["heap_in_use_after"],
                 mib(figures["rss_baseline_trim_kib"]), mib(figures["rss_after_trim_kib"])))
    if after > baseline + tolerance:
        if server.sanitized:
            print("note: RSS did not return to the baseline, not checked under AddressSanitizer")
        else:
            soak.violation("M1 memory", "RSS %s after, baseline %s, tolerance %s"
                           % (mib(after), mib(baseline), mib(tolerance)))
    if server.open_count() != 0:
        soak.violation("S2 open WebSockets at the end", str(server.open_count()))
    for record in server.problems:
        if record.get("event") == "dropped":
            soak.violation("S2 monitor dropped events", json.dumps(record))
    figures["server_problems"] = server.problems[:20]
    figures["violations"] = soak.violation_count
    return soak, figures


def summary(figures, exit_code):
    s = figures["rounds"][-1]
    total_conns = sum(r["connections"] for r in figures["rounds"])
    drops = {k: sum(r["drops"][k] for r in figures["rounds"]) for k in ("clean", "abort", "rst")}
    violations = sum(figures["violations"].values())
    return ("soak: %d clients (%d echo, %d in %d rooms, %d dropping), %.0f s soak + %.0f s warm-up; "
            "connections %d (soak round %d); drops %d (clean %d, abort %d, rst %d), reconnects %d; "
            "soak round messages: echo sent %d, echoed %d; broadcast sent %d, delivered %d; "
            "unconfirmed after our abrupt drops: echo %d not accepted + %d accepted but undelivered, broadcast %d not accepted; "
            "close codes in the access log by how the client ended %s; open WebSockets at end %d; violations %d; "
            "RSS start %s, baseline %s, peak %s (HWM), after %s (%+.1f MiB, tolerance %s)%s; server exit %s"
            % (figures["clients"], figures["echo_clients"], figures["clients"] - figures["echo_clients"],
               figures["rooms"], figures["droppers"], figures["duration"], figures["warmup"],
               total_conns, s["connections"], sum(drops.values()), drops["clean"], drops["abort"], drops["rst"],
               figures["reconnects"], s["echo_sent"], s["echo_received"], s["chat_sent"], s["chat_delivered"],
               s["unconfirmed_echo_not_accepted"], s["unconfirmed_echo_accepted_undelivered"], s["chat_not_accepted"],
               json.dumps(s["server_close_codes"], sort_keys=True), figures["open_websockets_at_end"], violations,
               mib(figures["rss_start_kib"]), mib(figures["rss_baseline_kib"]), mib(figures["rss_hwm_kib"]),
               mib(figures["rss_after_kib"]), (figures["rss_after_kib"] - figures["rss_baseline_kib"]) / 1024,
               mib(figures["rss_tolerance_kib"]), " (ASan: not checked)" if figures["sanitized"] else "",
               exit_code))


def main():
    args = parse_args()
    log_dir = tempfile.mkdtemp(prefix="sluice-soak-")
    log_path = os.path.join(log_dir, "access.jsonl")
    server = Server(args.sluice, log_path, shlex.split(args.wrap))

    def watchdog():
        print("soak: FAIL: deadline of %.0f s passed; killing sluice" % args.deadline, flush=True)
        server.kill()
        os._exit(3)

    timer = threading.Timer(args.deadline, watchdog)
    timer.daemon = True
    timer.start()
    print("soak: sluice pid %d port %d, seed %d, log %s" % (server.pid, server.port, args.seed, log_path), flush=True)
    started = time.monotonic()
    try:
        soak, figures = asyncio.run(main_async(args, server))
    finally:
        exit_code = server.stop()
    figures["reconnects"] = soak.stats["reconnects"]
    figures["server_exit"] = exit_code
    figures["seconds"] = round(time.monotonic() - started, 1)
    if exit_code != 0:
        soak.violation("S3 server exit", "exit code %s after SIGTERM; stderr %r" % (exit_code, server.lines[-5:]))
        figures["violations"] = soak.violation_count
    timer.cancel()
    for round_figures in figures["rounds"]:
        print("round %s: %s" % (round_figures["round"], json.dumps(round_figures, sort_keys=True)))
    for record in figures["server_problems"]:
        print("server log: %s" % json.dumps(record))
    for line in soak.violations:
        print("VIOLATION %s" % line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1, sort_keys=True)
    print(summary(figures, exit_code))
    failed = sum(soak.violation_count.values())
    print("soak: %s (%.0f s)" % ("PASS" if not failed else "FAIL: %d violations %s" % (failed, json.dumps(soak.violation_count)),
                                 figures["seconds"]))
    if not failed:
        os.unlink(log_path)
        os.rmdir(log_dir)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
