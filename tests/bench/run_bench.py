#!/usr/bin/python3
"""Sluice side by side with its peers, on one machine, in one run.

Sluice is the app as users run it (build-bench/app/sluice --headless, its
default config, one worker, its access log to a file); sluice-qt is the same
app on the QtWebSockets engine ("webSocketEngine": "qt"); sluice-takeover
the app with permessage-deflate context takeover both ways.

WebSocket echo: sluice, sluice-qt, the plain Qt floor (sluice-floor: a
QWebSocketServer echo), Node's ws, libwebsockets and uWebSockets.js, each
driven by sluice-loadclient at 1 connection x 1 in flight, 200 x 1 and
50 x 10, with 32-byte and 16 KiB messages. Reported: messages/s, RTT p50 and
p99, the server's CPU time per message (utime + stime of all its threads
over exactly the measured window), the client's CPU use, and the ratios.

HTTP: wrk on /hello/NAME (a small handler response) and /1k.bin (a static
file) against Sluice, nginx (one worker) and the Qt floor's minimal
responder; Sluice and nginx both write an access log.

Memory: N idle WebSocket connections (10,000 by default) held open against
each echo server, the client offering permessage-deflate to those that can
negotiate it; the server's RSS before and after, per connection. Then the
same after one compressed message each way (2,000 connections by default,
each sending the chat trace's first message and getting its echo back
before the RSS is read) for the servers that agree to permessage-deflate:
with context takeover a server makes its zlib state only then.

Compression: a JSON chat trace (chattrace.py) echoed with permessage-deflate
by Sluice (no context takeover, its default), Sluice with context takeover,
Node ws (its defaults, and threshold 0) and uWS (its shared compressor), and
by Sluice without compression; messages/s, CPU per message and the bytes on
the wire both ways.

Every server runs pinned to one core (taskset -c 1), every client to the
other (taskset -c 0). A client over 90% of its core measures itself rather
than the server: such runs are flagged.

Prints Markdown tables and writes them (--markdown-out) with every figure
as JSON (--json-out). Exit status: 0, or 1 when a tool failed (a server that
would not start or answer, a peer that is not installed or built, a client
that saw errors or lost echoes, output that did not parse) or, with
--strict, when a target was missed. --skip-missing turns a missing peer into
a note instead.

Usage: tests/bench/run_bench.py [--build-dir DIR] [--quick]
                                [--only ws,http,memory,compression]
                                [--servers sluice,uws,...] [--strict] ...
"""

import argparse
import ctypes
import json
import math
import os
import platform
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import chattrace

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
NODE_DIR = os.path.join(HERE, "node")
UWS_PACKAGE = "@trufflesuite/uws-js-unofficial"

WS_SERVERS = ("sluice", "sluice-qt", "floor", "node-ws", "lws", "uws")
HTTP_SERVERS = ("sluice", "nginx", "floor")
MEMORY_SERVERS = ("sluice", "sluice-takeover", "sluice-qt", "floor", "node-ws", "lws", "uws")
# The memory run offers these permessage-deflate; the others cannot
# negotiate it (QtWebSockets, the floor, lws as built here).
DEFLATE_SERVERS = ("sluice", "sluice-takeover", "node-ws", "uws")
# (server, whether the client offers permessage-deflate): the last is the
# baseline, the same trace uncompressed.
COMPRESSION_RUNS = (("sluice", True), ("sluice-takeover", True), ("node-ws", True),
                    ("node-ws-t0", True), ("uws", True), ("sluice", False))
ALL_SERVERS = ("sluice", "sluice-qt", "sluice-takeover", "floor", "node-ws", "node-ws-t0",
               "lws", "uws", "nginx")
PARTS = ("ws", "http", "memory", "compression")

HELLO_NAME = "bench"
# Above this share of its core the client, not the server, sets the pace.
CLIENT_CPU_LIMIT = 90.0
# Each source address stays under Sluice's default per-address cap (256).
CONNECTIONS_PER_SOURCE = 250
TRACE_MESSAGES = 1000

TARGETS = {
    "cpu_vs_uws": 1.0,
    "cpu_vs_node": 1.0,
    "memory_bytes": 5000,
    "http_vs_nginx": 0.6,
}
# The uWS target's settings: many connections, 32-byte messages.
UWS_TARGET_SETTINGS = ((200, 1, 32), (50, 10, 32))


class BenchError(Exception):
    """A tool failed: the run is marked failed and the exit status is 1."""


class Unavailable(Exception):
    """A peer is not installed or not built: a failure, or with
    --skip-missing a note."""


# ------------------------------------------------------------------ helpers

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"),
                        help="CMake build directory with tests/bench/ built (default: build-bench)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of a few seconds per part: every tool runs once, "
                             "numbers are parsed, no timing means anything")
    parser.add_argument("--only", default=",".join(PARTS),
                        help="parts to run, comma-separated: " + ", ".join(PARTS)
                             + " (default: all)")
    parser.add_argument("--servers", default=",".join(ALL_SERVERS),
                        help="servers to run, comma-separated: " + ", ".join(ALL_SERVERS)
                             + " (default: all)")
    parser.add_argument("--duration", type=float, help="measured seconds per WebSocket run "
                                                       "(default 5, quick 0.5)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds before each measured "
                                                     "window (default 1, quick 0.3)")
    parser.add_argument("--settings", help="connections x in flight, comma-separated "
                                           "(default 1x1,200x1,50x10; quick 50x10)")
    parser.add_argument("--sizes", help="message sizes in bytes, comma-separated "
                                        "(default 32,16384)")
    parser.add_argument("--message", choices=("text", "binary"), default="text",
                        help="WebSocket message type (default text)")
    parser.add_argument("--http-duration", type=int,
                        help="wrk's measured seconds (default 5, quick 1)")
    parser.add_argument("--http-connections", type=int, default=50,
                        help="wrk's connections (default 50)")
    parser.add_argument("--memory-connections", type=int,
                        help="idle connections for the memory run (default 10000, quick 400)")
    parser.add_argument("--memory-active-connections", type=int,
                        help="connections for the memory run after one compressed message "
                             "each way (default 2000: context takeover can cost 300 KB a "
                             "connection; quick 100)")
    parser.add_argument("--compression-settings",
                        help="connections x in flight for the compression run "
                             "(default 50x10,200x1; quick 50x10)")
    parser.add_argument("--sluice-workers", type=int, default=1,
                        help="sluice --workers (default 1: the server has one core)")
    parser.add_argument("--skip-missing", action="store_true",
                        help="a peer that is not installed or built is skipped with a note "
                             "(default: the run fails)")
    parser.add_argument("--server-cpu", type=int, default=1, help="core for the servers (1)")
    parser.add_argument("--client-cpu", type=int, default=0, help="core for the clients (0)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json-out", help="write every figure here (default: "
                                           "BUILD_DIR/bench-results.json)")
    parser.add_argument("--markdown-out", help="write the tables here (default: "
                                               "BUILD_DIR/bench-results.md)")
    args = parser.parse_args()

    args.only = split_list(args.only, PARTS, "--only")
    args.servers = split_list(args.servers, ALL_SERVERS, "--servers")
    quick = args.quick
    args.duration = args.duration or (0.5 if quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if quick else 1.0)
    args.settings = parse_settings(args.settings or ("50x10" if quick else "1x1,200x1,50x10"))
    args.sizes = [int(size) for size in (args.sizes or "32,16384").split(",")]
    args.http_duration = args.http_duration or (1 if quick else 5)
    args.http_warmup = 0 if quick else 1
    args.memory_connections = args.memory_connections or (400 if quick else 10000)
    args.memory_active_connections = (args.memory_active_connections
                                      or (100 if quick else 2000))
    args.compression_settings = parse_settings(args.compression_settings
                                               or ("50x10" if quick else "50x10,200x1"))
    args.build_dir = os.path.abspath(args.build_dir)
    args.json_out = args.json_out or os.path.join(args.build_dir, "bench-results.json")
    args.markdown_out = args.markdown_out or os.path.join(args.build_dir, "bench-results.md")
    return args


def split_list(text, allowed, option):
    items = [item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        if item not in allowed:
            sys.exit(f"{option}: unknown '{item}' (one of {', '.join(allowed)})")
    return items


def parse_settings(text):
    settings = []
    for item in text.split(","):
        try:
            connections, in_flight = (int(part) for part in item.lower().split("x"))
        except ValueError:
            sys.exit(f"--settings: '{item}' is not CONNECTIONSxIN_FLIGHT")
        settings.append((connections, in_flight))
    return settings


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of every thread of pid, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")


def loadavg():
    try:
        with open("/proc/loadavg") as file:
            return file.read().split()[:3]
    except OSError:
        return None


def die_with_parent():
    """Run in each child: if this runner is killed outright, its servers and
    clients get SIGKILL rather than running on (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def read_line(stream, timeout, what):
    """One line from a child's stdout pipe within timeout seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    fd = stream.fileno()
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError(f"no {what} within {timeout:g} s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            raise BenchError(f"no {what}: the output ended")
        data += chunk
    return data.decode(errors="replace").strip()


def tail(path, lines=8):
    try:
        with open(path, errors="replace") as file:
            return "\n".join(file.read().splitlines()[-lines:])
    except OSError:
        return ""


class Pinning:
    def __init__(self, args):
        self.taskset = shutil.which("taskset")
        cores = len(os.sched_getaffinity(0))
        self.enabled = bool(self.taskset) and cores >= 2
        self.server_cpu = args.server_cpu
        self.client_cpu = args.client_cpu
        if not self.taskset:
            self.note = "taskset not found (util-linux): servers and clients are not pinned"
        elif cores < 2:
            self.note = "fewer than 2 cores: servers and clients are not pinned"
        else:
            self.note = None

    def server(self, command):
        return [self.taskset, "-c", str(self.server_cpu)] + command if self.enabled else command

    def client(self, command):
        return [self.taskset, "-c", str(self.client_cpu)] + command if self.enabled else command


# ------------------------------------------------------------------ servers

class ServerProcess:
    """A server under test: started pinned, with its output in files, and
    stopped (SIGTERM, then SIGKILL) whatever happens, in __exit__."""

    def __init__(self, name, command, port, workdir, cwd=None, env=None, log_path=None):
        self.name = name
        self.command = command
        self.port = port
        self.cwd = cwd
        self.env = env
        # Its access log, if it writes one: checked and removed in stop()
        # (an HTTP run logs a million lines).
        self.log_path = log_path
        self.log_bytes = None
        self.stdout_path = os.path.join(workdir, f"{name}.out")
        self.stderr_path = os.path.join(workdir, f"{name}.err")
        self.process = None

    def __enter__(self):
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=err, cwd=self.cwd, env=self.env,
                                            preexec_fn=die_with_parent)
        try:
            self.wait_listening(20)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def pid(self):
        return self.process.pid

    def check_alive(self):
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.process.returncode}: "
                             + tail(self.stderr_path))

    def wait_listening(self, timeout):
        """Ready once its port takes a TCP connection."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"{self.name} did not listen on port {self.port} within "
                                     f"{timeout} s: " + tail(self.stderr_path))
                time.sleep(0.05)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.log_path and os.path.exists(self.log_path):
            self.log_bytes = os.path.getsize(self.log_path)
            os.remove(self.log_path)


class Peers:
    """Finds or prepares every server; what is missing raises Unavailable."""

    def __init__(self, args, pinning, workdir):
        self.args = args
        self.pinning = pinning
        self.workdir = workdir
        self.bench_dir = os.path.join(args.build_dir, "tests", "bench")
        self.home = os.path.join(workdir, "home")
        os.makedirs(self.home, exist_ok=True)
        # The same 1 KiB for every server's static file test.
        self.file_bytes = bytes((i * 7 + 3) % 256 for i in range(1024))
        with open(os.path.join(self.home, "1k.bin"), "wb") as file:
            file.write(self.file_bytes)
        self.trace_path = os.path.join(workdir, "chat-trace.jsonl")
        chattrace.write(self.trace_path, TRACE_MESSAGES)
        self.node_ready = None
        self.starts = 0

    def binary(self, name, what):
        path = os.path.join(self.bench_dir, name)
        if not os.access(path, os.X_OK):
            raise Unavailable(f"{what}: {path} not built (ninja -C {self.args.build_dir} "
                              f"sluice-bench-suite)")
        return path

    def loadclient(self):
        path = os.path.join(self.bench_dir, "sluice-loadclient")
        if not os.access(path, os.X_OK):
            raise BenchError(f"{path} not built")
        return path

    def sluice_app(self):
        path = os.path.join(self.args.build_dir, "app", "sluice")
        if not os.access(path, os.X_OK):
            raise Unavailable(f"sluice: {path} not built (ninja -C {self.args.build_dir} "
                              f"sluice-bench-suite)")
        return path

    def prepare_node(self):
        """node, with tests/bench/node's packages installed (npm ci once)."""
        if isinstance(self.node_ready, Exception):
            raise self.node_ready
        if self.node_ready is None:
            try:
                self.node_ready = find_node()
            except Unavailable as error:
                self.node_ready = error
                raise
        return self.node_ready

    def ws_server(self, name, deflate=False, memory_connections=0):
        """A ServerProcess for name's echo on ws://127.0.0.1:PORT/echo; deflate
        turns permessage-deflate on where it is a server option."""
        port = free_port()
        log = None
        if name.startswith("sluice"):
            command, log = self.sluice_command(name, port, memory_connections)
        elif name == "floor":
            command = [self.binary("sluice-floor", "floor"), "--ws-port", str(port),
                       "--http-port", "0", "--home", self.home]
        elif name == "lws":
            command = [self.binary("sluice-lws", "lws (needs Debian's libwebsockets-dev at "
                                                 "configure time)"), "--port", str(port)]
        elif name in ("node-ws", "node-ws-t0"):
            command = [self.prepare_node(), os.path.join(NODE_DIR, "echo.js"), "--port", str(port)]
            if deflate or name == "node-ws-t0":
                command.append("--deflate")
            if name == "node-ws-t0":
                command += ["--deflate-threshold", "0"]
        elif name == "uws":
            command = [self.prepare_node(), os.path.join(NODE_DIR, "uws-echo.js"), "--port",
                       str(port)] + (["--deflate"] if deflate else [])
        else:
            raise ValueError(name)
        return self.server_process(name, command, port, log)

    def http_server(self, name):
        """A ServerProcess for name's HTTP side: /hello/NAME (or the floor's
        /hello) and /1k.bin."""
        port = free_port()
        log = None
        if name == "sluice":
            command, log = self.sluice_command(name, port, root=self.home)
        elif name == "floor":
            command = [self.binary("sluice-floor", "floor"), "--ws-port", "0",
                       "--http-port", str(port), "--home", self.home]
        elif name == "nginx":
            prefix = self.nginx_prefix()
            log = os.path.join(prefix, "access.log")
            command = [self.nginx_binary(), "-p", prefix, "-c", self.nginx_config(port, log),
                       "-e", os.path.join(prefix, "error.log")]
        else:
            raise ValueError(name)
        return self.server_process(f"{name}-http", command, port, log)

    def server_process(self, name, command, port, log):
        # A fresh name per start: the output of each stays for the report
        # of a failure.
        self.starts += 1
        env = dict(os.environ)
        # The engine comes from the config only (sluice-qt's).
        env.pop("SLUICE_WEBSOCKET_ENGINE", None)
        return ServerProcess(f"{name}-{self.starts}", self.pinning.server(command), port,
                             self.workdir, env=env, log_path=log)

    def sluice_command(self, name, port, memory_connections=0, root=None):
        """The app as users run it: headless, one worker (--sluice-workers),
        its access log to a file; a config only where the run needs one."""
        log = os.path.join(self.workdir, f"{name}-{port}.log")
        command = [self.sluice_app(), "--headless", "--bind", "127.0.0.1", "--port", str(port),
                   "--workers", str(self.args.sluice_workers), "--log", log]
        config = self.sluice_config(name, memory_connections)
        if config:
            command += ["--config", config]
        if root:
            command += ["--root", root]
        return command, log

    def sluice_config(self, name, memory_connections):
        """None for the default config; else a copy of it (the file the app
        embeds) with what name and the run need."""
        if name == "sluice" and not memory_connections:
            return None
        with open(os.path.join(REPO, "resources", "config", "default.json")) as file:
            config = json.load(file)
        if name == "sluice-qt":
            config["webSocketEngine"] = "qt"
        elif name == "sluice-takeover":
            for route in config["routes"]:
                if route.get("compression") is True:
                    route["compression"] = {"serverContextTakeover": True,
                                            "clientContextTakeover": True}
        elif name != "sluice":
            raise ValueError(name)
        if memory_connections:
            # The default cap is 10,000 open connections of all kinds: the
            # memory run needs that many plus a little room.
            config.setdefault("limits", {})["maxConnections"] = memory_connections + 100
        path = os.path.join(self.workdir, f"{name}-{memory_connections}.json")
        with open(path, "w") as file:
            json.dump(config, file, indent=1)
        return path

    def nginx_binary(self):
        path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx",
                                                                        os.X_OK) else None)
        if not path:
            raise Unavailable("nginx: not installed (Debian: nginx-light or nginx)")
        return path

    def nginx_prefix(self):
        prefix = os.path.join(self.workdir, "nginx")
        os.makedirs(prefix, exist_ok=True)
        return prefix

    def nginx_config(self, port, access_log):
        prefix = self.nginx_prefix()
        path = os.path.join(prefix, "nginx.conf")
        # One worker, no master: a single process to pin and to read the
        # CPU time of. Every path nginx would write to is in the temp folder.
        # /hello/NAME answers as Sluice's hello route does (a regex with a
        # capture, the same body and type); the access log is on, as
        # Sluice's is.
        config = f"""
worker_processes 1;
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {access_log};
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    sendfile on;
    types {{ application/octet-stream bin; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {self.home};
        location ~ ^/hello/(?<name>[^/]+)$ {{
            default_type "text/plain; charset=utf-8";
            return 200 "Hello $name\\n";
        }}
    }}
}}
"""
        with open(path, "w") as file:
            file.write(config)
        return path


def node_modules_current():
    """Whether tests/bench/node/node_modules holds ws and uWS as the lock
    file has them: npm keeps a copy of the lock file it installed from, and
    a newer lock file means a package was added or upgraded since."""
    modules = os.path.join(NODE_DIR, "node_modules")
    if not all(os.path.isdir(os.path.join(modules, package)) for package in ("ws", UWS_PACKAGE)):
        return False
    try:
        installed = os.stat(os.path.join(modules, ".package-lock.json")).st_mtime_ns
    except OSError:
        return False
    return os.stat(os.path.join(NODE_DIR, "package-lock.json")).st_mtime_ns <= installed


def find_node():
    """The node command, after npm ci in tests/bench/node when its packages
    (ws, uWS) are missing; Unavailable when that cannot be done."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        raise Unavailable("node-ws, uws: node is not installed (Debian: nodejs)")
    if node_modules_current():
        return node
    npm = shutil.which("npm")
    if not npm:
        raise Unavailable("node-ws, uws: tests/bench/node/node_modules is missing and npm is "
                          "not installed (Debian: npm)")
    print("# npm ci in tests/bench/node", flush=True)
    try:
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    except subprocess.TimeoutExpired:
        raise Unavailable("node-ws, uws: npm ci timed out")
    if result.returncode != 0:
        raise Unavailable("node-ws, uws: npm ci failed: "
                          + result.stdout.decode(errors="replace")[-500:])
    return node


# ---------------------------------------------------------------- the runs

def run_loadclient(args, peers, pinning, extra, timeout):
    command = pinning.client([peers.loadclient()] + extra)
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=timeout,
                                preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired:
        raise BenchError(f"sluice-loadclient did not finish within {timeout:g} s")
    out = result.stdout.decode(errors="replace").strip()
    err = result.stderr.decode(errors="replace").strip()
    try:
        load = json.loads(out.splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"sluice-loadclient exited {result.returncode} without JSON: "
                         f"{err[-500:] or out[-500:]}")
    load["exitCode"] = result.returncode
    if result.returncode != 0:
        raise BenchError(f"sluice-loadclient exited {result.returncode}: "
                         f"{load.get('firstError') or err[-500:]} "
                         f"(errors {load.get('errors')}, lost {load.get('lost')})")
    return load


def echo_load(args, peers, pinning, server, connections, in_flight, extra):
    """sluice-loadclient's echo run against server: its result, checked."""
    load = run_loadclient(
        args, peers, pinning,
        ["--url", f"ws://127.0.0.1:{server.port}/echo", "--connections", str(connections),
         "--in-flight", str(in_flight), "--duration", str(args.duration),
         "--warmup", str(args.warmup), "--server-pid", str(server.pid)] + extra,
        timeout=args.duration + args.warmup + 90)
    server.check_alive()
    if load["received"] <= 0:
        raise BenchError("no echo came back in the measured window")
    if load["serverCpuS"] < 0:
        raise BenchError("the server's CPU time could not be read")
    agreed = load["deflateConnections"]
    if agreed not in (0, connections):
        raise BenchError(f"permessage-deflate agreed on {agreed} of {connections} connections")
    return load


def echo_figures(load):
    return {
        "msgsPerS": load["receivedPerS"], "rttP50Us": load["rttUs"]["p50"],
        "rttP99Us": load["rttUs"]["p99"], "serverCpuS": load["serverCpuS"],
        "serverUsPerMsg": load["serverCpuUsPerMsg"],
        "clientCpuPercent": load["clientCpuPercent"], "load": load,
    }


def run_ws(args, peers, pinning, name, connections, in_flight, size):
    with peers.ws_server(name) as server:
        load = echo_load(args, peers, pinning, server, connections, in_flight,
                         ["--size", str(size), "--message", args.message])
    return {"server": name, "connections": connections, "inFlight": in_flight, "size": size,
            **echo_figures(load)}


def run_compression(args, peers, pinning, name, offered, connections, in_flight):
    """The chat trace echoed; offered: whether the client offers
    permessage-deflate (the server always has it on)."""
    with peers.ws_server(name, deflate=True) as server:
        load = echo_load(args, peers, pinning, server, connections, in_flight,
                         ["--trace", peers.trace_path] + (["--deflate"] if offered else []))
    return {
        "server": name, "offered": offered, "extension": load["extension"],
        "connections": connections, "inFlight": in_flight,
        "payloadPerMsg": load["payloadBytesIn"] / load["received"],
        "wireInPerMsg": load["wireBytesIn"] / load["received"],
        "wireOutPerMsg": load["wireBytesOut"] / load["sent"],
        "ratioIn": ratio(load["wireBytesIn"], load["payloadBytesIn"]),
        "ratioOut": ratio(load["wireBytesOut"], load["payloadBytesOut"]),
        **echo_figures(load),
    }


WRK_LATENCY = {"50%": "p50", "99%": "p99"}


def duration_us(text):
    units = (("us", 1), ("ms", 1000), ("s", 1000000), ("m", 60000000))
    for unit, scale in units:
        if text.endswith(unit) and text[:-len(unit)].replace(".", "", 1).isdigit():
            return float(text[:-len(unit)]) * scale
    raise ValueError(f"not a wrk duration: {text}")


def parse_wrk(output):
    result = {"errors": 0, "non2xx": 0}
    for line in output.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "Requests/sec:":
            result["requestsPerS"] = float(words[1])
        elif words[0] in WRK_LATENCY and len(words) == 2:
            result[WRK_LATENCY[words[0]] + "Us"] = duration_us(words[1])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            result["non2xx"] = int(words[-1])
        elif words[0] == "Socket" and words[1] == "errors:":
            # Socket errors: connect 0, read 0, write 0, timeout 0
            result["errors"] = sum(int(word.strip(",")) for word in words[3::2])
        elif len(words) >= 4 and words[1] == "requests" and words[2] == "in":
            result["requests"] = int(words[0])
    if "requestsPerS" not in result:
        raise ValueError("no Requests/sec line")
    return result


def run_wrk(args, pinning, url, duration, measure_pid=None):
    wrk = shutil.which("wrk")
    command = pinning.client([wrk, "-t1", f"-c{args.http_connections}", f"-d{duration}s",
                              "--latency", url])
    cpu_before = cpu_seconds(measure_pid) if measure_pid else None
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    try:
        output, _ = process.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise BenchError(f"wrk did not finish within {duration + 60} s")
    elapsed = time.monotonic() - started
    server_cpu = cpu_seconds(measure_pid) - cpu_before if measure_pid else None
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise BenchError(f"wrk exited {process.returncode}: {text[-500:]}")
    try:
        result = parse_wrk(text)
    except ValueError as error:
        raise BenchError(f"wrk output did not parse ({error}): {text[-500:]}")
    result["elapsedS"] = elapsed
    result["serverCpuS"] = server_cpu
    return result, text


def http_paths(name, file_bytes):
    """[(kind, path, body)]: Sluice's hello route and nginx's copy of it take
    a name; the floor knows /hello only."""
    if name == "floor":
        hello = ("/hello", b"Hello, World!\n")
    else:
        hello = (f"/hello/{HELLO_NAME}", f"Hello {HELLO_NAME}\n".encode())
    return [("hello",) + hello, ("1k.bin", "/1k.bin", file_bytes)]


def check_http(port, paths):
    """The answers are right before they are timed."""
    for _, path, expected in paths:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            body = response.read()
            if response.status != 200 or body != expected:
                raise BenchError(f"GET {path}: status {response.status}, {len(body)} bytes, "
                                 f"not the expected {len(expected)}")


def children_cpu():
    usage = os.times()
    return usage.children_user + usage.children_system


def require_wrk():
    path = shutil.which("wrk")
    if not path:
        raise Unavailable("HTTP runs: wrk is not installed (Debian: wrk)")
    return path


def run_http(args, peers, pinning, name):
    rows = []
    paths = http_paths(name, peers.file_bytes)
    with peers.http_server(name) as server:
        check_http(server.port, paths)
        for kind, path, _ in paths:
            url = f"http://127.0.0.1:{server.port}{path}"
            if args.http_warmup:
                run_wrk(args, pinning, url, args.http_warmup)
            # wrk's own CPU time: it is a child, reaped by run_wrk().
            cpu_before = children_cpu()
            result, _ = run_wrk(args, pinning, url, args.http_duration, measure_pid=server.pid)
            client_cpu = children_cpu() - cpu_before
            server.check_alive()
            if result["errors"] or result["non2xx"]:
                raise BenchError(f"{name} {path}: wrk saw {result['errors']} socket errors and "
                                 f"{result['non2xx']} non-2xx answers")
            requests = result.get("requests") or result["requestsPerS"] * args.http_duration
            rows.append({
                "server": name, "kind": kind, "path": path, "requestsPerS": result["requestsPerS"],
                "latencyP50Us": result.get("p50Us"), "latencyP99Us": result.get("p99Us"),
                "serverCpuS": result["serverCpuS"],
                "serverUsPerRequest": result["serverCpuS"] * 1e6 / requests if requests else None,
                "clientCpuPercent": 100 * client_cpu / result["elapsedS"], "wrk": result,
            })
    # Both loggers log, or the comparison is not the one the table claims.
    if server.log_path and not server.log_bytes:
        raise BenchError(f"{name} wrote no access log ({server.log_path})")
    for row in rows:
        row["accessLogBytes"] = server.log_bytes
    return rows


def run_memory(args, peers, pinning, name, active=False):
    """The server's RSS per connection, idle or (active) after each sent the
    chat trace's first message, compressed, and got its echo back."""
    count = args.memory_active_connections if active else args.memory_connections
    deflate = name in DEFLATE_SERVERS
    echo_once = ["--echo-once", "--trace", peers.trace_path] if active else []
    sources = max(1, math.ceil(count / CONNECTIONS_PER_SOURCE))
    if sources > 250:
        raise BenchError(f"{count} connections need more than 250 source addresses")
    bind_range = f"127.0.0.2-127.0.0.{1 + sources}"
    settle = 0.5 if args.quick else 1.0
    with peers.ws_server(name, deflate=deflate, memory_connections=count) as server:
        time.sleep(settle)
        before = rss_kib(server.pid)
        command = pinning.client([peers.loadclient(), "--mode", "idle", "--url",
                                  f"ws://127.0.0.1:{server.port}/echo", "--connections",
                                  str(count), "--hold", str(settle + 3), "--bind-range",
                                  bind_range] + (["--deflate"] if deflate else []) + echo_once)
        client = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, preexec_fn=die_with_parent)
        try:
            try:
                line = read_line(client.stdout, 180, "READY line from sluice-loadclient")
            except BenchError as error:
                client.kill()
                _, err = client.communicate(timeout=10)
                raise BenchError(f"{error}: {err.decode(errors='replace')[-500:]}")
            if not line.startswith("READY "):
                raise BenchError(f"sluice-loadclient: expected READY, got {line!r}")
            time.sleep(settle)
            server.check_alive()
            after = rss_kib(server.pid)
            if client.poll() is not None:
                raise BenchError("sluice-loadclient let the connections go before the server's "
                                 "RSS was read (the machine is too busy for --hold)")
            out, err = client.communicate(timeout=60)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        server.check_alive()
    try:
        result = json.loads(out.decode(errors="replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"sluice-loadclient printed no JSON: {err.decode(errors='replace')}")
    if client.returncode != 0 or result["openAtEnd"] != count:
        raise BenchError(f"sluice-loadclient exited {client.returncode}, "
                         f"{result['openAtEnd']} of {count} open at the end: "
                         f"{result.get('firstError')}")
    if result["deflateConnections"] not in (0, count):
        raise BenchError(f"permessage-deflate agreed on {result['deflateConnections']} of "
                         f"{count} connections")
    if active and result["echoedOnce"] != count:
        raise BenchError(f"{result['echoedOnce']} of {count} echoes came back")
    return {
        "server": name, "offered": deflate, "extension": result["extension"],
        "connections": count, "rssBeforeKiB": before, "rssAfterKiB": after,
        "bytesPerConnection": (after - before) * 1024 / count, "connectS": result["connectS"],
        **({"echoOnce": True, "compressedEchoes": result["compressedEchoes"]} if active else {}),
        "load": result,
    }


# ------------------------------------------------------------------ report

def fmt(value, digits=0):
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def fmt_ratio(value):
    return "–" if value is None else f"{value:.2f}×"


def table(header, rows, text_columns):
    """A Markdown table: the first text_columns columns left-aligned, the
    figures after them right-aligned."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":--" if i < text_columns else "--:" for i in range(len(header)))
             + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def size_label(size):
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def cpu_flag(run):
    return " ⚠" if round(run["clientCpuPercent"]) >= CLIENT_CPU_LIMIT else ""


def ws_table(runs):
    index = {(r["server"], r["connections"], r["inFlight"], r["size"]): r for r in runs}
    rows = []
    for run in runs:
        key = (run["connections"], run["inFlight"], run["size"])

        def per_peer(peer):
            other = index.get((peer,) + key)
            if run["server"] == peer or not other:
                return "–"
            return fmt_ratio(ratio(run["serverUsPerMsg"], other["serverUsPerMsg"]))

        rows.append((
            f"{run['connections']} × {run['inFlight']}", size_label(run["size"]), run["server"],
            fmt(run["msgsPerS"]), fmt(run["rttP50Us"]), fmt(run["rttP99Us"]),
            fmt(run["serverUsPerMsg"], 2), fmt(run["clientCpuPercent"]) + " %" + cpu_flag(run),
            per_peer("uws"), per_peer("node-ws"), per_peer("floor"),
        ))
    return table(("conns × in flight", "size", "server", "msgs/s", "RTT p50 µs", "RTT p99 µs",
                  "server CPU µs/msg", "client CPU", "CPU/msg ÷ uws", "CPU/msg ÷ node-ws",
                  "CPU/msg ÷ floor"), rows, 3)


def http_table(runs):
    index = {(r["server"], r["kind"]): r for r in runs}
    rows = []
    for run in runs:
        nginx = index.get(("nginx", run["kind"]))
        floor = index.get(("floor", run["kind"]))
        rows.append((
            run["path"], run["server"], fmt(run["requestsPerS"]),
            fmt(run["latencyP50Us"]), fmt(run["latencyP99Us"]),
            fmt(run["serverUsPerRequest"], 2), fmt(run["clientCpuPercent"]) + " %"
            + cpu_flag(run),
            fmt_ratio(ratio(run["requestsPerS"], nginx and nginx["requestsPerS"])),
            fmt_ratio(ratio(run["requestsPerS"], floor and floor["requestsPerS"])),
        ))
    return table(("path", "server", "requests/s", "latency p50 µs", "latency p99 µs",
                  "server CPU µs/req", "wrk CPU", "req/s ÷ nginx", "req/s ÷ floor"), rows, 2)


# The extension parameters in the tables' short form.
EXTENSION_WORDS = (("permessage-deflate", "deflate"),
                   ("server_no_context_takeover", "s-no-ctx"),
                   ("client_no_context_takeover", "c-no-ctx"),
                   ("server_max_window_bits", "s-bits"), ("client_max_window_bits", "c-bits"))
EXTENSION_LEGEND = ("deflate: permessage-deflate; s-no-ctx, c-no-ctx: server_ and "
                    "client_no_context_takeover (without them the context is taken over); "
                    "s-bits, c-bits: server_ and client_max_window_bits.")


def extension_label(run):
    if not run["offered"]:
        return "none (not offered)"
    text = run["extension"] or "none"
    for long, short in EXTENSION_WORDS:
        text = text.replace(long, short)
    return text.replace("; ", ", ", 1).replace("; ", ", ")


def memory_table(runs):
    index = {r["server"]: r for r in runs}
    rows = []
    for run in runs:
        rows.append((
            run["server"], extension_label(run), fmt(run["connections"]),
            fmt(run["rssBeforeKiB"] / 1024, 1), fmt(run["rssAfterKiB"] / 1024, 1),
            fmt(run["bytesPerConnection"]),
            *(fmt_ratio(ratio(run["bytesPerConnection"],
                              index.get(peer, {}).get("bytesPerConnection")))
              for peer in ("lws", "node-ws")),
        ))
    return table(("server", "extension agreed", "idle connections", "RSS before MiB",
                  "RSS after MiB", "bytes / connection", "÷ lws", "÷ node-ws"), rows, 2)


def memory_active_table(runs, idle_runs):
    """runs after one compressed message each way, next to the idle figure."""
    idle = {r["server"]: r["bytesPerConnection"] for r in idle_runs}
    rows = []
    for run in runs:
        rows.append((
            run["server"], extension_label(run), fmt(run["connections"]),
            f"{run['compressedEchoes']:,} of {run['connections']:,}",
            fmt(run["rssBeforeKiB"] / 1024, 1), fmt(run["rssAfterKiB"] / 1024, 1),
            fmt(run["bytesPerConnection"]), fmt(idle.get(run["server"])),
            fmt_ratio(ratio(run["bytesPerConnection"], idle.get(run["server"]))),
        ))
    return table(("server", "extension agreed", "connections", "echoes compressed",
                  "RSS before MiB", "RSS after MiB", "bytes / connection",
                  "idle bytes / connection", "÷ idle"), rows, 2)


def compression_table(runs):
    index = {(r["server"], r["offered"], r["connections"], r["inFlight"]): r for r in runs}
    rows = []
    for run in runs:
        node = index.get(("node-ws", True, run["connections"], run["inFlight"]))
        rows.append((
            f"{run['connections']} × {run['inFlight']}", run["server"], extension_label(run),
            fmt(run["msgsPerS"]), fmt(run["serverUsPerMsg"], 2),
            fmt(run["clientCpuPercent"]) + " %" + cpu_flag(run), fmt(run["payloadPerMsg"]),
            fmt(run["wireInPerMsg"]), fmt(run["wireOutPerMsg"]),
            f"{run['ratioIn']:.2f}", f"{run['ratioOut']:.2f}",
            fmt_ratio(ratio(run["serverUsPerMsg"], node and node["serverUsPerMsg"]))
            if run["server"] != "node-ws" and run["offered"] else "–",
        ))
    return table(("conns × in flight", "server", "extension agreed", "msgs/s",
                  "server CPU µs/msg", "client CPU", "payload B/msg", "wire B/msg s→c",
                  "wire B/msg c→s", "s→c wire ÷ payload", "c→s wire ÷ payload",
                  "CPU/msg ÷ node-ws"), rows, 3)


def verdict(value, ok):
    return "not measured" if value is None else ("pass" if ok else "MISS")


def worst_ratio(ws, peer, keys=None):
    """(Sluice's CPU per message ÷ peer's, where) at its highest over keys
    (every setting both ran by default), or None."""
    worst = None
    for (server, *key), run in ws.items():
        other = ws.get((peer, *key))
        if server != "sluice" or not other or (keys and tuple(key) not in keys):
            continue
        value = ratio(run["serverUsPerMsg"], other["serverUsPerMsg"])
        if value is not None and (worst is None or value > worst[0]):
            worst = (value, f"{key[0]} × {key[1]}, {size_label(key[2])}")
    return worst


def cpu_targets(results):
    ws = {(r["server"], r["connections"], r["inFlight"], r["size"]): r for r in results["ws"]}
    targets = []
    for peer, name, keys, label in (
            ("uws", "cpu_vs_uws", UWS_TARGET_SETTINGS,
             "Sluice CPU per message ≤ uWS.js (200 × 1 and 50 × 10, 32 B)"),
            ("node-ws", "cpu_vs_node", None,
             "Sluice CPU per message < Node ws (every setting)")):
        worst = worst_ratio(ws, peer, keys)
        limit = TARGETS[name]
        ok = worst is not None and (worst[0] <= limit if peer == "uws" else worst[0] < limit)
        targets.append({"name": name, "target": label, "measured": worst and worst[0],
                        "text": worst and f"worst {worst[0]:.2f}× ({worst[1]})",
                        "verdict": verdict(worst, ok)})
    return targets


def memory_targets(results):
    memory = {r["server"]: r for r in results["memory"]}
    sluice = memory.get("sluice")
    sluice_bytes = sluice and sluice["bytesPerConnection"]
    # The figure counts only when compression was agreed without context
    # takeover, as the target states.
    agreed = bool(sluice) and "server_no_context_takeover" in sluice["extension"]
    targets = [{
        "name": "memory_bytes",
        "target": "Sluice memory per idle WebSocket ≤ 5,000 bytes (permessage-deflate agreed, "
                  "no context takeover)",
        "measured": sluice_bytes,
        "text": sluice and (f"{sluice_bytes:,.0f} bytes" + (
            "" if agreed else f", but agreed: {extension_label(sluice)}")),
        "verdict": verdict(sluice_bytes, agreed and sluice_bytes <= TARGETS["memory_bytes"])}]
    for peer in ("lws", "node-ws"):
        value = ratio(sluice_bytes, memory.get(peer, {}).get("bytesPerConnection"))
        targets.append({"name": f"memory_vs_{peer}",
                        "target": f"Sluice memory per idle WebSocket < {peer}",
                        "measured": value, "text": value and fmt_ratio(value),
                        "verdict": verdict(value, value is not None and value < 1)})
    return targets


def http_targets(results):
    http = {(r["server"], r["kind"]): r for r in results["http"]}
    value = ratio(http.get(("sluice", "hello"), {}).get("requestsPerS"),
                  http.get(("nginx", "hello"), {}).get("requestsPerS"))
    return [{"name": "http_vs_nginx",
             "target": "Sluice HTTP /hello/NAME requests/s ≥ 0.6 × nginx (one core each, "
                       "both logging)",
             "measured": value, "text": value and fmt_ratio(value),
             "verdict": verdict(value, value is not None and value >= TARGETS["http_vs_nginx"])}]


def compression_reports(results):
    """Sluice against node-ws with compression: figures, no verdict."""
    runs = {(r["server"], r["offered"], r["connections"], r["inFlight"]): r
            for r in results["compression"]}
    reports = []
    for (server, offered, connections, in_flight), run in runs.items():
        node = runs.get(("node-ws", True, connections, in_flight))
        if server != "sluice" or not offered or not node:
            continue
        reports.append({
            "name": f"compression_vs_node_{connections}x{in_flight}",
            "target": f"Compression, {connections} × {in_flight}: Sluice vs node-ws",
            "measured": ratio(run["serverUsPerMsg"], node["serverUsPerMsg"]),
            "text": f"CPU/msg {fmt_ratio(ratio(run['serverUsPerMsg'], node['serverUsPerMsg']))}"
                    f"; wire s→c {run['wireInPerMsg']:.0f} vs {node['wireInPerMsg']:.0f} B/msg"
                    f", c→s {run['wireOutPerMsg']:.0f} vs {node['wireOutPerMsg']:.0f} B/msg",
            "verdict": "report"})
    return reports


def evaluate_targets(results):
    """[{target, measured, verdict}], verdict 'pass', 'MISS', 'not measured'
    or 'report' (figures without a target)."""
    return (cpu_targets(results) + memory_targets(results) + http_targets(results)
            + compression_reports(results))


def trace_summary(path):
    with open(path, "rb") as file:
        sizes = [len(line.rstrip(b"\n")) for line in file]
    return (f"{len(sizes):,} chat messages of {min(sizes)}–{max(sizes)} bytes, "
            f"mean {sum(sizes) / len(sizes):.0f}")


def report(args, results):
    parts = []
    machine = results["machine"]
    parts.append(f"Machine: {machine['cores']} cores, {machine['kernel']}; load average "
                 f"{' '.join(machine['loadavgStart'] or [])} at the start, "
                 f"{' '.join(machine['loadavgEnd'] or [])} at the end. "
                 + ("Servers pinned to core " f"{args.server_cpu}, clients to core "
                    f"{args.client_cpu}." if results["pinned"] else "Not pinned."))
    if results["ws"]:
        parts.append(f"### WebSocket echo ({args.message} messages, {args.duration:g} s measured "
                     f"after {args.warmup:g} s warm-up)\n\n" + ws_table(results["ws"]))
    if results["http"]:
        parts.append(f"### HTTP (wrk -t1 -c{args.http_connections} -d{args.http_duration}s)\n\n"
                     + http_table(results["http"]))
    if results["memory"]:
        parts.append(f"### Memory ({args.memory_connections:,} idle WebSocket connections)\n\n"
                     + memory_table(results["memory"]) + "\n\n" + EXTENSION_LEGEND)
    if results["memoryActive"]:
        parts.append(f"### Memory after one compressed message each way "
                     f"({args.memory_active_connections:,} WebSocket connections, each echoed "
                     "the chat trace's first message)\n\n"
                     + memory_active_table(results["memoryActive"], results["memory"])
                     + "\n\n" + EXTENSION_LEGEND + " Echoes compressed: how many came back "
                     "with RSV1 (a server may send a short message as it is). Idle: the idle "
                     f"table's figure ({args.memory_connections:,} connections).")
    if results["compression"]:
        parts.append(f"### Compression ({results['trace']}, {args.duration:g} s measured after "
                     f"{args.warmup:g} s warm-up)\n\n" + compression_table(results["compression"])
                     + "\n\n" + EXTENSION_LEGEND + " s→c: server to client (the echoes), c→s: "
                     "client to server; wire bytes are whole data frames, heads and masks "
                     "included.")
    parts.append("### Targets\n\n" + table(
        ("target", "measured", "verdict"),
        [(t["target"], t.get("text") or "–", t["verdict"]) for t in results["targets"]], 3))
    notes = results["notes"] + [f"FAILED: {failure}" for failure in results["failures"]]
    if notes:
        parts.append("Notes:\n\n" + "\n".join(f"- {note}" for note in notes))
    return "\n\n".join(parts) + "\n"


# -------------------------------------------------------------------- main

class Suite:
    """Runs the parts, collecting figures, notes and failures."""

    def __init__(self, args, pinning, peers, results):
        self.args = args
        self.pinning = pinning
        self.peers = peers
        self.results = results
        self.missing = set()

    def attempt(self, label, server, function):
        """function()'s result, or None once it failed or server is missing
        (a failure, or with --skip-missing a note; either is said once)."""
        if server in self.missing:
            return None
        print(f"# {label}", flush=True)
        try:
            return function()
        except Unavailable as error:
            self.peer_missing(label, server, error)
        except (BenchError, OSError, ValueError, KeyError, subprocess.SubprocessError) as error:
            self.results["failures"].append(f"{label}: {error}")
            print(f"  FAILED: {error}", file=sys.stderr, flush=True)
        return None

    def peer_missing(self, label, server, error):
        self.missing.add(server)
        if self.args.skip_missing:
            self.results["notes"].append(f"skipped {error}")
            print(f"  skipped: {error}", flush=True)
        else:
            self.results["failures"].append(f"{label}: {error} (--skip-missing to go on "
                                            "without it)")
            print(f"  FAILED: {error}", file=sys.stderr, flush=True)

    def selected(self, servers):
        return [server for server in servers if server in self.args.servers]

    def ws(self):
        args = self.args
        for connections, in_flight in args.settings:
            for size in args.sizes:
                for name in self.selected(WS_SERVERS):
                    run = self.attempt(
                        f"ws {name}: {connections} x {in_flight}, {size_label(size)}", name,
                        lambda: run_ws(args, self.peers, self.pinning, name, connections,
                                       in_flight, size))
                    if run:
                        self.results["ws"].append(run)
                        print(f"  {fmt(run['msgsPerS'])} msgs/s, "
                              f"{fmt(run['serverUsPerMsg'], 2)} µs/msg, "
                              f"client {fmt(run['clientCpuPercent'])} %", flush=True)

    def http(self):
        # One failure for all the servers, not one each.
        try:
            require_wrk()
        except Unavailable as error:
            self.peer_missing("http", "wrk", error)
            return
        for name in self.selected(HTTP_SERVERS):
            rows = self.attempt(f"http {name}", name,
                                lambda: run_http(self.args, self.peers, self.pinning, name))
            for row in rows or []:
                self.results["http"].append(row)
                print(f"  {row['path']}: {fmt(row['requestsPerS'])} requests/s", flush=True)

    def memory(self):
        for name in self.selected(MEMORY_SERVERS):
            run = self.attempt(f"memory {name}: {self.args.memory_connections} idle "
                               "connections", name,
                               lambda: run_memory(self.args, self.peers, self.pinning, name))
            if run:
                self.results["memory"].append(run)
                print(f"  {fmt(run['bytesPerConnection'])} bytes/connection, "
                      f"{extension_label(run)}", flush=True)
        self.memory_active()

    def memory_active(self):
        for name in self.selected(DEFLATE_SERVERS):
            run = self.attempt(f"memory {name}: {self.args.memory_active_connections} "
                               "connections after one compressed message each way", name,
                               lambda: run_memory(self.args, self.peers, self.pinning, name,
                                                  active=True))
            if run:
                self.results["memoryActive"].append(run)
                print(f"  {fmt(run['bytesPerConnection'])} bytes/connection, "
                      f"{run['compressedEchoes']} echoes compressed, {extension_label(run)}",
                      flush=True)

    def compression(self):
        self.results["trace"] = trace_summary(self.peers.trace_path)
        for connections, in_flight in self.args.compression_settings:
            for name, offered in COMPRESSION_RUNS:
                if name not in self.args.servers:
                    continue
                run = self.attempt(
                    f"compression {name}{'' if offered else ' (not offered)'}: "
                    f"{connections} x {in_flight}", name,
                    lambda: run_compression(self.args, self.peers, self.pinning, name, offered,
                                            connections, in_flight))
                if run:
                    self.results["compression"].append(run)
                    print(f"  {fmt(run['msgsPerS'])} msgs/s, {fmt(run['serverUsPerMsg'], 2)} "
                          f"µs/msg, wire s→c {run['ratioIn']:.2f} of the payload, "
                          f"{extension_label(run)}", flush=True)

    def notes(self):
        """What the tables alone would not say."""
        results = self.results
        for run in results["ws"] + results["http"] + results["compression"]:
            if round(run["clientCpuPercent"]) >= CLIENT_CPU_LIMIT:
                results["notes"].append(f"{run_label(run)}: the client used "
                                        f"{run['clientCpuPercent']:.0f} % of its core; it may "
                                        "have measured itself (⚠)")
        for run in results["memory"] + results["memoryActive"] + results["compression"]:
            if run["offered"] and not run["extension"]:
                results["notes"].append(f"{run_label(run)}: offered permessage-deflate, the "
                                        "server did not agree")


def run_label(run):
    if "size" in run:
        return (f"ws {run['server']} {run['connections']} × {run['inFlight']} "
                f"{size_label(run['size'])}")
    if "path" in run:
        return f"http {run['server']} {run['path']}"
    if "msgsPerS" in run:
        return f"compression {run['server']} {run['connections']} × {run['inFlight']}"
    if run.get("echoOnce"):
        return f"memory after one message each way {run['server']}"
    return f"memory {run['server']}"


def new_results(args, pinning):
    results = {
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                    "loadavgStart": loadavg(), "loadavgEnd": None},
        "pinned": pinning.enabled, "quick": args.quick,
        "options": {"duration": args.duration, "warmup": args.warmup,
                    "settings": args.settings, "sizes": args.sizes, "message": args.message,
                    "httpDuration": args.http_duration,
                    "httpConnections": args.http_connections,
                    "memoryConnections": args.memory_connections,
                    "memoryActiveConnections": args.memory_active_connections,
                    "compressionSettings": args.compression_settings,
                    "sluiceWorkers": args.sluice_workers},
        "ws": [], "http": [], "memory": [], "memoryActive": [], "compression": [],
        "trace": None,
        "targets": [], "notes": [], "failures": [],
    }
    if pinning.note:
        results["notes"].append(pinning.note)
    return results


def write_outputs(args, results):
    markdown = report(args, results)
    print()
    print(markdown)
    for path, content in ((args.markdown_out, markdown),
                          (args.json_out, json.dumps(results, indent=1) + "\n")):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as file:
            file.write(content)
    print(f"Wrote {args.markdown_out} and {args.json_out}")


def main():
    args = parse_args()
    # Servers and clients inherit the limit: 10,000 idle connections need
    # more descriptors than the usual soft limit of 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # A SIGTERM (ctest's timeout, a user) unwinds through every finally, so
    # that each server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    pinning = Pinning(args)
    results = new_results(args, pinning)
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as workdir:
        peers = Peers(args, pinning, workdir)
        try:
            peers.loadclient()
        except BenchError as error:
            sys.exit(f"run_bench.py: {error}; build it: ninja -C {args.build_dir} "
                     "sluice-bench-suite")
        suite = Suite(args, pinning, peers, results)
        for part in PARTS:
            if part in args.only:
                getattr(suite, part)()
        suite.notes()

    results["machine"]["loadavgEnd"] = loadavg()
    results["targets"] = evaluate_targets(results)
    write_outputs(args, results)

    missed = [t for t in results["targets"] if t["verdict"] == "MISS"]
    for target in results["targets"]:
        print(f"target {target['verdict']}: {target['target']}"
              + (f" — {target['text']}" if target.get("text") else ""))
    if results["failures"]:
        print(f"{len(results['failures'])} run(s) failed", file=sys.stderr)
        return 1
    if args.strict and missed:
        print(f"--strict: {len(missed)} target(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
