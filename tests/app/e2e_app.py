#!/usr/bin/python3
"""The sluice binary as a user runs it: flags, exit codes, config errors,
logs, signals (SIGTERM, SIGHUP) and exec routes, checked with curl, openssl
and Debian's python3-websockets.

Usage: e2e_app.py PATH/TO/sluice

Every server runs headless on 127.0.0.1 (or ::1) with port 0 and no display
variables at all. Prints PASS/FAIL per check and "N passed, M failed"; exits
non-zero on any failure, and stops every server it started.
"""

import asyncio
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import websockets
import websockets.exceptions

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402

START_SECONDS = 15
STOP_SECONDS = 15
REPLY_TIMEOUT = 5
TOTAL_TIMEOUT = 240

checks = harness.Checks()
SLUICE = None
TMP = None


# The window keeps its layout with QSettings: never in the user's own config.
CONFIG_HOME = tempfile.mkdtemp(prefix="sluice-e2e-config-")
atexit.register(shutil.rmtree, CONFIG_HOME, ignore_errors=True)


def clean_env(**extra):
    """The environment of a machine with no display at all."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "QT_LOGGING_RULES")}
    env["XDG_CONFIG_HOME"] = CONFIG_HOME
    env.update(extra)
    return env


def run(args, env=None, timeout=30):
    """Runs sluice to completion: (exit code, stdout, stderr)."""
    done = subprocess.run([SLUICE] + args, capture_output=True, timeout=timeout,
                          env=env or clean_env(), stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class App:
    """A running `sluice --headless` whose stdout is drained by a thread."""

    def __init__(self, args, env=None, urls=1, headless=True):
        self.process = subprocess.Popen(
            [SLUICE] + (["--headless"] if headless else []) + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=env or clean_env())
        self.lines = []
        self.errors = []
        self.lock = threading.Lock()
        threading.Thread(target=self._drain, args=(self.process.stdout, self.lines),
                         daemon=True).start()
        threading.Thread(target=self._drain, args=(self.process.stderr, self.errors),
                         daemon=True).start()
        deadline = time.monotonic() + START_SECONDS
        self.urls = []
        while time.monotonic() < deadline and len(self.urls) < urls:
            with self.lock:
                self.urls = [m.group(1) for line in self.lines
                             for m in [re.search(r"Listening on (\S+)", line)] if m]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        if len(self.urls) < urls:
            self.stop()
            raise RuntimeError("sluice did not start: stdout %r stderr %r"
                               % (self.lines[-5:], self.errors[-5:]))
        self.port = int(re.search(r":(\d+)/$", self.urls[0]).group(1))

    def _drain(self, stream, into):
        for raw in iter(stream.readline, b""):
            with self.lock:
                into.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def output(self):
        with self.lock:
            return list(self.lines)

    def wait_for_line(self, pattern, timeout=REPLY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.output():
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        return None

    def signal(self, number):
        self.process.send_signal(number)

    def wait(self, timeout=STOP_SECONDS):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            if self.wait() is None:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def curl(args, timeout=30):
    done = subprocess.run(["curl", "-sS", "--max-time", "20"] + args, capture_output=True,
                          timeout=timeout)
    return done.returncode, done.stdout, done.stderr.decode()


def status_of(url, *extra):
    code, out, err = curl(["-o", "/dev/null", "-w", "%{http_code}"] + list(extra) + [url])
    return int(out or b"0") if code == 0 else -code


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT)


async def refused_status(url, **kwargs):
    """The HTTP status an upgrade is refused with, or None if it opened."""
    try:
        ws = await asyncio.wait_for(websockets.connect(url, **kwargs), REPLY_TIMEOUT)
    except websockets.exceptions.InvalidStatusCode as error:
        return error.status_code
    await ws.close()
    return None


# -- the command line --------------------------------------------------------

def command_line():
    code, out, _ = run(["--version"])
    checks.check("--version prints the version", code == 0 and re.fullmatch(
        r"sluice \d+\.\d+\.\d+\n", out), f"{code} {out!r}")

    code, out, _ = run(["--help"])
    flags = ["--headless", "--port", "--bind", "--root", "--config", "--check-config", "--log",
             "--log-format", "--log-traffic", "--grace", "--version", "--help"]
    missing = [flag for flag in flags if flag not in out]
    checks.check("--help lists every flag and the exit codes",
                 code == 0 and not missing and "Exit codes" in out, f"{code} missing {missing}")

    for name, args, message in [
        ("unknown option", ["--nope"], "sluice: Unknown option 'nope'. (see sluice --help)\n"),
        ("port out of range", ["--headless", "--port", "70000"],
         "sluice: --port: not a port number (0 to 65535): 70000\n"),
        ("port not a number", ["--headless", "--port", "http"],
         "sluice: --port: not a port number (0 to 65535): http\n"),
        ("bind not an address", ["--headless", "--bind", "localhost"],
         "sluice: --bind: not an IPv4 or IPv6 address: localhost\n"),
        ("log format", ["--headless", "--log-format", "xml"],
         "sluice: --log-format: must be text or json, not xml\n"),
        ("root missing", ["--headless", "--root", "/nonexistent/site"],
         "sluice: --root: not a readable directory: /nonexistent/site\n"),
        ("grace not a number", ["--headless", "--grace", "soon"],
         "sluice: --grace: not a number of seconds (0 to 3600): soon\n"),
        ("positional argument", ["--headless", "site.json"],
         "sluice: unexpected argument: site.json (see sluice --help)\n"),
        ("option without value", ["--headless", "--port"],
         "sluice: Missing value after '--port'. (see sluice --help)\n"),
    ]:
        code, out, err = run(args)
        checks.check(f"bad command line ({name}) exits 2 with its message",
                     code == 2 and err == message, f"{code} {err!r}")

    code, _, err = run(["--port", "0"])
    checks.check("without --headless and without a display: exit 1 naming --headless",
                 code == 1 and "no display" in err and "--headless" in err, f"{code} {err!r}")

    code, _, err = run(["--headless", "--port", "0", "--log", "/nonexistent/dir/sluice.log"])
    checks.check("a log file that cannot be opened: exit 1 naming the file",
                 code == 1 and "/nonexistent/dir/sluice.log" in err, f"{code} {err!r}")


def headless_start():
    with App(["--port", "0", "--bind", "127.0.0.1"]) as app:
        checks.check("headless start with no display prints its URL",
                     re.fullmatch(r"http://127\.0\.0\.1:\d+/", app.urls[0]), app.urls)
        code, body, _ = curl([app.urls[0]])
        checks.check("the embedded site is served", code == 0 and b"<html" in body.lower(),
                     body[:80])
        code, body, _ = curl([app.urls[0] + "hello/sluice"])
        checks.check("the default config's hello route", body == b"Hello sluice\n", body)
        line = app.wait_for_line(r'"GET /hello/sluice" 200')
        checks.check("headless logs to stdout: an access line per exchange", line is not None,
                     app.output()[-5:])

        # Port in use: a second instance on the same port cannot start.
        code, _, err = run(["--headless", "--port", str(app.port), "--bind", "127.0.0.1"])
        checks.check("port in use: exit 1 naming the address and port",
                     code == 1 and "127.0.0.1" in err and str(app.port) in err, f"{code} {err!r}")

    # The window (on Qt's offscreen platform): the same server behind it.
    window = App(["--port", "0", "--bind", "127.0.0.1"], env=clean_env(QT_QPA_PLATFORM="offscreen"),
                 headless=False)
    try:
        code, body, _ = curl([window.urls[0] + "hello/window"])
        checks.check("with the window: the server answers", body == b"Hello window\n", body)
        window.signal(signal.SIGTERM)
        checks.check("with the window: SIGTERM exits 0", window.wait() == 0, window.errors[-3:])
        settings = os.path.join(CONFIG_HOME, "Sluice", "sluice.conf")
        saved = open(settings).read() if os.path.exists(settings) else ""
        checks.check("with the window: its layout is kept in $XDG_CONFIG_HOME/Sluice/sluice.conf",
                     "[monitor]" in saved and "geometry=" in saved, saved[:200])
    finally:
        window.stop()

    with App(["--port", "0", "--bind", "127.0.0.1", "--bind", "::1"], urls=2) as app:
        ok = all(status_of(url) == 200 for url in app.urls)
        checks.check("--bind twice: IPv4 and IPv6 both serve",
                     ok and any("[::1]" in url for url in app.urls), app.urls)


# -- the config --------------------------------------------------------------

def config_errors():
    www = os.path.join(TMP, "www")
    os.makedirs(www, exist_ok=True)
    cases = [
        ("syntax", '{\n  "root": "www"\n  "routes": []\n}', "{file}:3:"),
        ("unknown key", '{"rootz": "www"}', "{file}: rootz: unknown key"),
        ("bad regex", '{"routes": [{"uri": "/x/(?<a>[a-z]+", "handler": "hello"}]}',
         '{file}: routes[0].uri: bad regex in "/x/(?<a>[a-z]+": missing closing parenthesis '
         'at offset 14'),
        ("unknown handler", '{"routes": [{"uri": "ws:/a", "handler": "chat"}]}',
         '{file}: routes[0].handler: unknown handler "chat" (known: contentType, echo, '
         'broadcast, hello)'),
        ("handler needs ws:", '{"routes": [{"uri": "/a", "handler": "echo"}]}',
         '{file}: routes[0].handler: "echo" is a WebSocket handler: the uri needs "ws:"'),
        ("two kinds", '{"routes": [{"uri": "ws:/a", "handler": "echo", "exec": ["cat"]}]}',
         "{file}: routes[0]: needs exactly one of handler, exec, forward, redirect (has "
         "handler, exec)"),
        ("bad origin", '{"routes": [{"uri": "ws:/a", "handler": "echo", '
                       '"origins": ["example.com"]}]}',
         '{file}: routes[0].origins[0]: not an origin ("https://host[:port]" or "self"): '
         '"example.com"'),
        ("missing password file",
         '{"filters": [{"uri": "/.*", "basicAuth": {"passwordFile": "nope.htpasswd"}}]}',
         "{file}: filters[0].basicAuth.passwordFile: {dir}/nope.htpasswd: cannot read: "),
        ("cors credentials with *",
         '{"filters": [{"uri": "/.*", "cors": {"origins": ["*"], "credentials": true}}]}',
         '{file}: filters[0].cors.credentials: cannot be true with the origin "*" (browsers '
         'refuse it): list the origins'),
        ("filter kinds", '{"filters": [{"uri": "/.*"}]}',
         "{file}: filters[0]: needs exactly one of origins, basicAuth, cors (has none)"),
        ("port type", '{"listen": [{"port": "80"}]}',
         "{file}: listen[0].port: must be an integer from 0 to 65535"),
        ("root", '{"root": "nowhere"}', "{file}: root: not a readable directory: {dir}/nowhere"),
    ]
    for name, text, expected in cases:
        path = write("broken.json", text)
        expected = "sluice: " + expected.format(file=path, dir=TMP)
        for mode in (["--check-config"], ["--headless", "--port", "0"]):
            code, out, err = run(mode + ["--config", path])
            ok = code == 2 and (err.startswith(expected) if expected.endswith((": ", ":"))
                                else err == expected + "\n")
            checks.check(f"broken config ({name}) {mode[0]}: exit 2 with the exact message", ok,
                         f"{code} {err!r} expected {expected!r}")
    code, _, err = run(["--headless", "--config", os.path.join(TMP, "missing.json")])
    checks.check("missing config file: exit 2 naming it",
                 code == 2 and "missing.json: cannot read" in err, f"{code} {err!r}")


def check_config_output():
    htpasswd = password_file()
    path = write("good.json", json.dumps({
        "listen": [{"address": "127.0.0.1", "port": 0}],
        "root": "www",
        "filters": [
            {"uri": "/private/.*", "basicAuth": {"realm": "Private", "passwordFile": htpasswd}},
            {"uri": "/api/.*", "cors": {"origins": ["https://app.example"],
                                        "methods": ["GET", "PUT"]}},
        ],
        "routes": [
            {"uri": "ws:/echo", "handler": "echo", "origins": ["self"]},
            {"uri": "get:/hello/(?<name>[^/]+)", "handler": "hello"},
            {"uri": "ws:/cat", "exec": ["cat"], "maxProcesses": 2},
            {"uri": "/old/(?<p>.*)", "forward": "/(p)"},
        ],
        "errors": {"404": "/index.html"},
        "workers": 2,
    }))
    code, out, err = run(["--check-config", "--config", path])
    expected = "\n".join([
        f"config: {path}",
        "listen: 127.0.0.1:0",
        "workers: 2",
        f"root: {TMP}/www",
        f'filter: basicAuth /private/.* realm "Private", 1 users from {htpasswd}',
        "filter: cors /api/.* https://app.example methods GET,PUT",
        "route: WebSocket ws:/echo echo origins self",
        "route: HTTP get:/hello/(?<name>[^/]+) hello",
        "route: WebSocket ws:/cat exec cat (at most 2 processes)",
        "route: forward /old/(?<p>.*) /(p)",
        "error 404: /index.html",
        "limits: maxUriBytes 8192, maxHeadBytes 65536, maxHeaderCount 100, "
        "maxBodyBytes 16777216, responseBufferBytes 65536, maxWebSocketFrameBytes 16777216, "
        "maxWebSocketMessageBytes 16777216, maxConnections 10000, maxConnectionsPerAddress 256, "
        "maxPendingWriteBytes 4194304, headTimeoutMs 10000, bodyTimeoutMs 30000, "
        "keepAliveTimeoutMs 30000, sendTimeoutMs 60000, handshakeTimeoutMs 10000, "
        "webSocketPingIntervalMs 30000, webSocketPongTimeoutMs 10000, "
        "webSocketCloseTimeoutMs 5000, monitorPayloadBytes 4096",
    ]) + "\n"
    checks.check("--check-config prints the resolved map", code == 0 and out == expected,
                 f"{code} {err!r}\n{out}")
    code, out, err = run(["--check-config", "--config", path, "--workers", "3"])
    checks.check("--workers overrides the config's workers",
                 code == 0 and "\nworkers: 3\n" in out, f"{code} {err!r}\n{out}")
    code, out, err = run(["--check-config", "--config", path, "--workers", "many"])
    checks.check("a bad --workers is a usage error that names the option",
                 code == 2 and "--workers: not a thread count (0 to 256): many" in err,
                 f"{code} {err!r}")

    examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources",
                            "examples")
    for name in sorted(os.listdir(examples)):
        if name.endswith(".json"):
            code, out, err = run(["--check-config", "--config", os.path.join(examples, name)])
            checks.check(f"the shipped example {name} is valid", code == 0 and "route:" in out,
                         f"{code} {err!r}")

    code, out, _ = run(["--check-config"])
    checks.check("--check-config without --config shows the default config",
                 code == 0 and "config: :/config/default.json" in out
                 and "route: WebSocket ws:/contentType contentType" in out
                 and "root: :/site" in out, out)


def password_file():
    hashed = subprocess.run(["openssl", "passwd", "-6", "s3cret"], capture_output=True,
                            check=True).stdout.decode().strip()
    return write("users.htpasswd", f"# made by openssl passwd -6\nalice:{hashed}\n")


async def filters_through_config():
    htpasswd = password_file()
    path = write("filters.json", json.dumps({
        "root": "www",
        "filters": [
            {"uri": "/private/.*", "basicAuth": {"realm": "Private", "passwordFile": htpasswd}},
            {"uri": "/api/.*", "cors": {"origins": ["https://app.example"],
                                        "methods": ["GET", "PUT"], "headers": ["X-Token"]}},
        ],
        "routes": [
            {"uri": "ws:/echo", "handler": "echo", "origins": ["self", "https://app.example"]},
            {"uri": "get:/private/hello/(?<name>[^/]+)", "handler": "hello"},
            {"uri": "get:/api/hello/(?<name>[^/]+)", "handler": "hello"},
        ],
    }))
    with App(["--config", path, "--port", "0", "--bind", "127.0.0.1"]) as app:
        base = app.urls[0]
        checks.check("basic auth: no credentials is 401",
                     status_of(base + "private/hello/a") == 401)
        checks.check("basic auth: a wrong password is 401",
                     status_of(base + "private/hello/a", "-u", "alice:wrong") == 401)
        code, body, _ = curl(["-u", "alice:s3cret", base + "private/hello/a"])
        checks.check("basic auth: openssl's SHA-512 hash lets alice in", body == b"Hello a\n",
                     body)
        code, out, _ = curl(["-i", "-X", "OPTIONS", "-H", "Origin: https://app.example",
                             "-H", "Access-Control-Request-Method: PUT",
                             "-H", "Access-Control-Request-Headers: x-token",
                             base + "api/hello/a"])
        text = out.decode("latin-1").lower()
        checks.check("CORS: an allowed preflight is answered 204 with the origin",
                     text.startswith("http/1.1 204")
                     and "access-control-allow-origin: https://app.example" in text
                     and "put" in text, text[:300])
        code, out, _ = curl(["-i", "-H", "Origin: https://evil.example", base + "api/hello/a"])
        text = out.decode("latin-1").lower()
        checks.check("CORS: another origin gets no Access-Control-Allow-Origin",
                     text.startswith("http/1.1 200") and "access-control-allow-origin" not in text,
                     text[:300])
        ws_url = f"ws://127.0.0.1:{app.port}/echo"
        checks.check("origins: a foreign Origin is refused with 403",
                     await refused_status(ws_url, origin="https://evil.example") == 403)
        checks.check("origins: an allowed Origin opens",
                     await refused_status(ws_url, origin="https://app.example") is None)
        checks.check("origins: the page's own origin (self) opens",
                     await refused_status(ws_url, origin=f"http://127.0.0.1:{app.port}") is None)


# -- logs ---------------------------------------------------------------------

async def logs():
    log_path = os.path.join(TMP, "access.jsonl")
    with App(["--port", "0", "--bind", "127.0.0.1", "--log", log_path, "--log-format", "json",
              "--log-traffic"]) as app:
        curl([app.urls[0] + "hello/json"])
        async with websockets.connect(f"ws://127.0.0.1:{app.port}/echo") as ws:
            await ws.send("one")
            await recv(ws)
            await ws.send("two")
            await recv(ws)
        deadline = time.monotonic() + REPLY_TIMEOUT
        records = []
        while time.monotonic() < deadline:
            try:
                with open(log_path) as f:
                    records = [json.loads(line) for line in f if line.strip()]
            except (OSError, ValueError):
                records = []
            if any(r.get("event") == "ws_close" for r in records):
                break
            time.sleep(0.1)
        events = [r.get("event") for r in records]
        http = [r for r in records if r.get("event") == "http"]
        checks.check("--log-format json: every line is one JSON object", records != [], events)
        checks.check("json log: the HTTP exchange with status and target",
                     any(r.get("status") == 200 and r.get("target") == "/hello/json"
                         for r in http), http)
        closes = [r for r in records if r.get("event") == "ws_close"]
        checks.check("json log: ws open and close with counts",
                     "ws_open" in events and closes and closes[0].get("messagesIn") == 2
                     and closes[0].get("messagesOut") == 2, closes)
        messages = [r for r in records if r.get("event") == "ws_message"
                    and r.get("opcode") == "text"]
        checks.check("--log-traffic: each message both ways",
                     len(messages) == 4 and {m.get("direction") for m in messages} == {"in", "out"},
                     messages)
        listening = [r for r in records if r.get("event") == "listening"]
        checks.check("json log: the listening record has the URL",
                     listening and listening[0].get("url") == app.urls[0], listening)

    text_log = os.path.join(TMP, "sluice.log")
    broken = write("broken-reload.json", '{"routes": []}')
    with App(["--config", broken, "--port", "0", "--bind", "127.0.0.1", "--log", text_log]) as app:
        checks.check("--log FILE: stdout has only the Listening line",
                     app.output() == [f"Listening on {app.urls[0]}"], app.output())
        write("broken-reload.json", '{"routes": 1}')
        app.signal(signal.SIGHUP)
        deadline = time.monotonic() + REPLY_TIMEOUT
        while time.monotonic() < deadline and not any("reload failed" in e for e in app.errors):
            time.sleep(0.05)
        app.stop()
        with open(text_log) as f:
            logged = f.read()
        errors = "\n".join(app.errors)
        checks.check("--log FILE: info goes to the file only, warnings to the file and stderr",
                     "info sluice.app: sluice " in logged and "warning sluice.app: reload failed"
                     in logged and "reload failed" in errors and "serving" not in errors,
                     f"file {logged[-300:]!r} stderr {errors[-300:]!r}")

    with App(["--port", "0", "--bind", "127.0.0.1"],
             env=clean_env(QT_LOGGING_RULES="sluice.access.info=false")) as app:
        curl([app.urls[0] + "hello/quiet"])
        curl([app.urls[0] + "hello/quiet2"])
        time.sleep(0.5)
        lines = app.output()
        checks.check("QT_LOGGING_RULES turns the access log off",
                     not any("/hello/quiet" in line for line in lines), lines[-5:])


# -- signals -------------------------------------------------------------------

async def sigterm():
    root = os.path.join(TMP, "big")
    os.makedirs(root, exist_ok=True)
    size = 4 * 1024 * 1024
    content = os.urandom(size)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(content)
    app = App(["--root", root, "--port", "0", "--bind", "127.0.0.1", "--grace", "20"])
    try:
        clients = [await websockets.connect(f"ws://127.0.0.1:{app.port}/echo")
                   for _ in range(3)]
        # A reader that takes about 2.5 s for 4 MiB (64 KiB every 40 ms), so
        # the signal comes while the response is in flight.
        loop = asyncio.get_running_loop()
        progress = {"read": 0}

        def slow_download():
            connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=20)
            connection.request("GET", "/big.bin")
            response = connection.getresponse()
            body = bytearray()
            while True:
                chunk = response.read(65536)
                if not chunk:
                    break
                body += chunk
                progress["read"] = len(body)
                time.sleep(0.04)
            connection.close()
            return response.status, bytes(body)

        download = loop.run_in_executor(None, slow_download)
        await asyncio.sleep(0.5)
        partial = progress["read"]
        checks.check("SIGTERM: the download is in flight when the signal comes",
                     0 < partial < size and not download.done(), partial)
        app.signal(signal.SIGTERM)
        codes = []
        for ws in clients:
            await asyncio.wait_for(ws.wait_closed(), REPLY_TIMEOUT)
            codes.append(ws.close_code)
        checks.check("SIGTERM: every WebSocket client sees 1001", codes == [1001] * 3, codes)
        try:
            refused = subprocess.run(["curl", "-sS", "--max-time", "2", app.urls[0]],
                                     capture_output=True, timeout=10).returncode
        except subprocess.TimeoutExpired:
            refused = None
        checks.check("SIGTERM: no new connections are accepted", refused == 7, refused)
        status, body = await asyncio.wait_for(download, 30)
        checks.check("SIGTERM: the download in flight completes, byte for byte",
                     status == 200 and body == content,
                     f"status {status}, {len(body)} of {size} bytes")
        code = app.wait()
        checks.check("SIGTERM: exit 0 after the shutdown", code == 0, code)
        checks.check("SIGTERM: the log says so",
                     app.wait_for_line(r"shutting down") and app.wait_for_line(r"stopped"),
                     app.output()[-5:])
    finally:
        app.stop()


async def sighup():
    path = write("reload.json", json.dumps({"routes": [
        {"uri": "ws:/echo", "handler": "echo"}]}))
    with App(["--config", path, "--port", "0", "--bind", "127.0.0.1"]) as app:
        url = f"ws://127.0.0.1:{app.port}"
        async with websockets.connect(url + "/echo") as kept:
            await kept.send("before")
            before = await recv(kept)
            checks.check("before reload: /contentType is not mapped",
                         await refused_status(url + "/contentType") == 404)

            write("reload.json", json.dumps({"routes": [
                {"uri": "ws:/contentType", "handler": "contentType"}]}))
            app.signal(signal.SIGHUP)
            reloaded = app.wait_for_line(r"reloaded .*reload\.json: 1 routes")
            checks.check("SIGHUP: the log says the config was reloaded", reloaded,
                         app.output()[-5:])
            async with websockets.connect(url + "/contentType") as fresh:
                await fresh.send("png")
                answer = await recv(fresh)
            checks.check("after reload: the new route answers", answer == "image/png", answer)
            checks.check("after reload: the removed route is gone for new clients",
                         await refused_status(url + "/echo") == 404)
            await kept.send("after")
            after = await recv(kept)
            checks.check("after reload: the open connection kept its handler",
                         (before, after) == ("before", "after"), (before, after))

            write("reload.json", '{"routes": [{"uri": "ws:/x", "handler": "nope"}]}')
            app.signal(signal.SIGHUP)
            failed = app.wait_for_line(r"reload failed.*unknown handler \"nope\"")
            checks.check("SIGHUP with a broken config: logged, and the server keeps its map",
                         failed is not None and app.process.poll() is None
                         and await refused_status(url + "/contentType") is None,
                         app.output()[-5:])


# -- exec ----------------------------------------------------------------------

async def exec_routes():
    script = write("answer-and-exit.sh", "#!/bin/sh\nread line\necho \"got $line\"\nexit 3\n")
    os.chmod(script, 0o755)
    path = write("exec.json", json.dumps({"routes": [
        {"uri": "ws:/cat", "exec": ["cat"], "maxProcesses": 1},
        {"uri": "ws:/once", "exec": ["./answer-and-exit.sh"]},
    ]}))
    with App(["--config", path, "--port", "0", "--bind", "127.0.0.1"]) as app:
        url = f"ws://127.0.0.1:{app.port}"
        async with websockets.connect(url + "/cat") as cat:
            await cat.send("line one")
            first = await recv(cat)
            await cat.send("line two")
            second = await recv(cat)
            checks.check("exec cat: each message comes back as a line",
                         (first, second) == ("line one", "line two"), (first, second))
            checks.check("exec beyond maxProcesses: the upgrade is answered 503",
                         await refused_status(url + "/cat") == 503)
        async with websockets.connect(url + "/once") as once:
            await once.send("ping")
            reply = await recv(once)
            await asyncio.wait_for(once.wait_closed(), REPLY_TIMEOUT)
            checks.check("exec script that exits 3: reply, then close 1011 'exit status 3'",
                         reply == "got ping" and once.close_code == 1011
                         and once.close_reason == "exit status 3",
                         (reply, once.close_code, once.close_reason))
        await asyncio.sleep(0.3)
        checks.check("after its client left, cat's slot is free again",
                     await refused_status(url + "/cat") is None)


async def main_async():
    for name, coro in [("filters", filters_through_config()), ("logs", logs()),
                       ("sigterm", sigterm()), ("sighup", sighup()), ("exec", exec_routes())]:
        try:
            await asyncio.wait_for(coro, 90)
        except Exception as error:  # noqa: BLE001 - every failure is reported
            checks.fail_with(name, error)


def main():
    global SLUICE, TMP
    if len(sys.argv) < 2:
        print("usage: e2e_app.py PATH/TO/sluice", file=sys.stderr)
        return 2
    SLUICE = sys.argv[1]
    print(f"# websockets {websockets.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        TMP = tmp
        for step in (command_line, headless_start, config_errors, check_config_output):
            try:
                step()
            except Exception as error:  # noqa: BLE001
                checks.fail_with(step.__name__, error)
        asyncio.run(asyncio.wait_for(main_async(), TOTAL_TIMEOUT))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
