#!/usr/bin/python3
"""TLS in the sluice app: one plain and one TLS listener from a JSON config,
checked with curl, openssl s_client and Debian's python3-websockets.

Usage: e2e_tls.py PATH/TO/sluice

Makes a throwaway self-signed certificate with openssl in a temporary
folder, runs `sluice --headless --config` on 127.0.0.1 with port 0 (from
another working directory, so the certificate paths must resolve against
the config file's folder), and checks: both URLs are announced; curl gets the
same answers over http and https; wss echoes on the TLS port; plain HTTP on
the TLS port and TLS on the plain port fail without harm; --check-config
shows the TLS files; config errors name the file and the key path; SIGTERM
ends with 0. Prints PASS/FAIL per check and exits non-zero on any failure.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

START_SECONDS = 15
STOP_SECONDS = 15

checks = harness.Checks()


def env():
    """No display, no logging rules of the caller's."""
    return {k: v for k, v in os.environ.items()
            if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "QT_LOGGING_RULES")}


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def curl(*args):
    """(exit code, stdout bytes, stderr text) of curl -sS."""
    done = subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True,
                          timeout=30)
    return done.returncode, done.stdout, done.stderr.decode(errors="replace")


class App:
    """`sluice --headless --config FILE` with its output drained by threads."""

    def __init__(self, sluice, config, cwd, urls, args=()):
        self.process = subprocess.Popen(
            [sluice, "--headless", "--config", config, *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env(), cwd=cwd)
        self.lines = []
        self.lock = threading.Lock()
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()
        deadline = time.monotonic() + START_SECONDS
        self.urls = []
        while time.monotonic() < deadline and len(self.urls) < urls:
            self.urls = [m.group(1) for line in self.output()
                         for m in [re.search(r"Listening on (\S+)", line)] if m]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        if len(self.urls) < urls:
            self.stop()
            raise RuntimeError("sluice did not start: %r" % self.output()[-5:])

    def _drain(self, stream):
        for raw in iter(stream.readline, b""):
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def output(self):
        with self.lock:
            return list(self.lines)

    def wait_for_line(self, pattern, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.output():
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        return None

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


async def ws_echo(url, context, messages):
    async with websockets.connect(url, ssl=context, open_timeout=10,
                                  ping_interval=None) as ws:
        echoes = []
        for message in messages:
            await ws.send(message)
            echoes.append(await asyncio.wait_for(ws.recv(), 10))
        return echoes


def main():
    if len(sys.argv) < 2:
        print("usage: e2e_tls.py PATH/TO/sluice", file=sys.stderr)
        return 2
    sluice = os.path.abspath(sys.argv[1])
    if not shutil.which("openssl") or not shutil.which("curl"):
        checks.skip("tls", "openssl or curl is not installed")
        return 0
    tmp = tempfile.mkdtemp(prefix="sluice-e2e-tls-")
    try:
        run_checks(sluice, tmp)
    except Exception as error:  # noqa: BLE001 - a broken setup is a failure too
        checks.fail_with("setup", error)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish()


def run_checks(sluice, tmp):
    site = os.path.join(tmp, "site")
    os.makedirs(os.path.join(site, "tls"))
    os.makedirs(os.path.join(site, "www"))
    cert = os.path.join(site, "tls", "cert.pem")
    key = os.path.join(site, "tls", "key.pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost", "-days", "1",
            "-keyout", key, "-out", cert)
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", os.path.join(site, "tls", "other.pem"))
    with open(os.path.join(site, "www", "index.html"), "w") as f:
        f.write("<p>over TLS too</p>\n")

    def write_config(name, listen):
        path = os.path.join(site, name)
        with open(path, "w") as f:
            json.dump({"listen": listen, "root": "www",
                       "routes": [{"uri": "ws:/echo", "handler": "echo"},
                                  {"uri": "get:/hello/(?<name>[^/]+)", "handler": "hello"}]},
                      f)
        return path

    tls = {"certificate": "tls/cert.pem", "key": "tls/key.pem"}
    config = write_config("site.json", [{"address": "127.0.0.1", "port": 0},
                                        {"address": "127.0.0.1", "port": 0, "tls": tls}])
    elsewhere = os.path.join(tmp, "elsewhere")
    os.makedirs(elsewhere)

    # --check-config: the resolved files.
    done = subprocess.run([sluice, "--config", config, "--check-config"], capture_output=True,
                          timeout=30, env=env(), cwd=elsewhere)
    out = done.stdout.decode()
    checks.check("--check-config shows the TLS listener",
                 done.returncode == 0 and ("listen: 127.0.0.1:0 tls certificate %s key %s"
                                           % (cert, key)) in out, "%r %r" % (done.returncode, out))

    app = App(sluice, config, elsewhere, urls=2)
    try:
        plain, secure = app.urls
        checks.check("URLs announced: http and https",
                     plain.startswith("http://127.0.0.1:") and secure.startswith("https://127.0.0.1:")
                     and plain != secure.replace("https", "http"), "%r" % app.urls)
        tls_port = int(re.search(r":(\d+)/$", secure).group(1))
        plain_port = int(re.search(r":(\d+)/$", plain).group(1))

        for path in ("/", "/hello/w%C3%B6rld", "/missing"):
            p = curl("-i", "-w", "%{http_code}", plain.rstrip("/") + path)
            s = curl("-i", "-w", "%{http_code}", "--cacert", cert, secure.rstrip("/") + path)
            strip = lambda out: [line for line in out.split(b"\r\n")  # noqa: E731
                                 if not line.startswith(b"Date:")]
            checks.check("https %s answers as http" % path,
                         p[0] == 0 and s[0] == 0 and strip(p[1]) == strip(s[1]),
                         "%r / %r" % (p, s))
        code, body, err = curl("--cacert", cert, secure + "hello/tls")
        checks.check("https /hello/tls", code == 0 and body == b"Hello tls\n", "%r %r" % (body, err))
        code, _, err = curl(secure + "hello/tls")
        checks.check("https without the CA file: untrusted (curl 60)", code == 60, err)

        context = ssl.create_default_context(cafile=cert)
        try:
            echoes = asyncio.run(asyncio.wait_for(
                ws_echo("wss://127.0.0.1:%d/echo" % tls_port, context,
                        ["hello", "h\u00e9llo", b"\x00\xff"]), 30))
            checks.check("wss echo on the TLS port", echoes == ["hello", "h\u00e9llo", b"\x00\xff"],
                         "%r" % echoes)
        except Exception as error:  # noqa: BLE001
            checks.fail_with("wss echo on the TLS port", error)
        try:
            echoes = asyncio.run(asyncio.wait_for(
                ws_echo("ws://127.0.0.1:%d/echo" % plain_port, None, ["plain"]), 30))
            checks.check("ws echo on the plain port", echoes == ["plain"], "%r" % echoes)
        except Exception as error:  # noqa: BLE001
            checks.fail_with("ws echo on the plain port", error)

        # Plain HTTP on the TLS port: closed without a byte, logged.
        code, _, err = curl("http://127.0.0.1:%d/hello/x" % tls_port)
        checks.check("plain HTTP on the TLS port: empty reply (curl 52)", code == 52, err)
        line = app.wait_for_line(r"sluice\.server: TLS client 127\.0\.0\.1 port \d+ on port %d: "
                                 r"not a TLS handshake" % tls_port)
        checks.check("plain HTTP on the TLS port is logged", line is not None, app.output()[-5:])
        # TLS on the plain port.
        done = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % plain_port,
                               "-servername", "localhost"], capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL)
        checks.check("TLS ClientHello on the plain port fails (openssl s_client)",
                     done.returncode != 0, done.stderr.decode(errors="replace")[-300:])
        # A client that sends nothing gets cut after limits.handshakeTimeoutMs (10 s by
        # default; not waited for here), and the server still serves both.
        with socket.create_connection(("127.0.0.1", tls_port), timeout=5):
            code_p, body_p, _ = curl(plain + "hello/after")
            code_s, body_s, _ = curl("--cacert", cert, secure + "hello/after")
        checks.check("both listeners serve after the bad clients",
                     body_p == body_s == b"Hello after\n", "%r %r" % (body_p, body_s))
        # openssl s_client sees our certificate and verifies it with the CA file.
        done = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tls_port,
                               "-servername", "localhost", "-CAfile", cert, "-verify_return_error",
                               "-alpn", "h2,http/1.1"],
                              capture_output=True, timeout=30, input=b"")
        out = done.stdout.decode(errors="replace")
        checks.check("openssl s_client: verified, TLS 1.2+, ALPN http/1.1",
                     done.returncode == 0 and "Verify return code: 0 (ok)" in out
                     and re.search(r"New, TLSv1\.[23], ", out) is not None
                     and "ALPN protocol: http/1.1" in out, out[-800:])
    finally:
        code = app.stop()
    checks.check("SIGTERM: exit 0", code == 0, "exit %r" % code)

    # --bind replaces the addresses and keeps each listener's TLS.
    app = App(sluice, config, elsewhere, urls=2, args=["--bind", "::1", "--port", "0"])
    try:
        urls = app.urls
        ok = (len(urls) == 2 and urls[0].startswith("http://[::1]:")
              and urls[1].startswith("https://[::1]:"))
        body = curl("--cacert", cert, urls[1] + "hello/v6")[1] if ok else b""
        checks.check("--bind ::1 keeps the TLS listener", ok and body == b"Hello v6\n",
                     "%r %r" % (urls, body))
    finally:
        app.stop()

    # Config errors: exit 2, the file and the key path named.
    bad = [
        ({"certificate": "tls/missing.pem", "key": "tls/key.pem"},
         "listen[1].tls.certificate: %s: cannot read: No such file or directory"
         % os.path.join(site, "tls", "missing.pem")),
        ({"certificate": "tls/cert.pem", "key": "tls/other.pem"},
         "listen[1].tls.key: %s: the private key (RSA) does not belong to the certificate in %s"
         " (RSA, localhost)" % (os.path.join(site, "tls", "other.pem"), cert)),
        ({"certificate": "tls/cert.pem"}, "listen[1].tls.key: missing (a PEM file)"),
    ]
    for tls_entry, message in bad:
        path = write_config("bad.json", [{"address": "127.0.0.1", "port": 0},
                                         {"address": "127.0.0.1", "port": 0, "tls": tls_entry}])
        done = subprocess.run([sluice, "--headless", "--config", path], capture_output=True,
                              timeout=30, env=env(), cwd=elsewhere)
        err = done.stderr.decode()
        checks.check("config error: %s" % message.split(":")[0] + " " + message.split(": ")[-1][:40],
                     done.returncode == 2 and err == "sluice: %s: %s\n" % (path, message),
                     "exit %r, %r" % (done.returncode, err))


if __name__ == "__main__":
    sys.exit(main())
