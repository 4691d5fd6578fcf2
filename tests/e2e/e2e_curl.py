#!/usr/bin/python3
"""Drives tests/e2e/httpserver with the real curl binary.

Usage: e2e_curl.py /path/to/httpserver

Starts the server on a free port of 127.0.0.1, runs each check with curl,
prints one PASS/FAIL line per check and then "N passed, M failed". Exits 0
only when every check passed. The server is always stopped at the end.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

# harness.py sits next to this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Server, parse_heads, read_file

OVERALL_SECONDS = 150
CURL = shutil.which("curl") or "/usr/bin/curl"


class Result:
    def __init__(self, code, exit_code, heads, body, stdout, stderr):
        self.code = code            # %{http_code} of the last response
        self.exit_code = exit_code  # curl's own exit status
        self.heads = heads          # every response head, interim ones too
        self.body = body
        self.stdout = stdout
        self.stderr = stderr

    @property
    def head(self):
        return self.heads[-1] if self.heads else {"status": 0, "headers": []}

    def header(self, name):
        for key, value in self.head["headers"]:
            if key.lower() == name.lower():
                return value
        return None

    def header_values(self, name):
        return [v for k, v in self.head["headers"] if k.lower() == name.lower()]

    def describe(self):
        return "exit=%d code=%s heads=%r body=%r stderr=%r" % (
            self.exit_code, self.code, [h["status_line"] for h in self.heads],
            self.body[:200], self.stderr[-400:])


class Session(Checks):
    def __init__(self, port, workdir):
        super().__init__()
        self.base = "http://127.0.0.1:%d" % port
        self.workdir = workdir
        self.counter = 0

    def url(self, path):
        return self.base + path

    def curl(self, *args, http="--http1.1"):
        """Runs curl with the given arguments; heads and body go to files."""
        self.counter += 1
        head_file = os.path.join(self.workdir, "head%d" % self.counter)
        body_file = os.path.join(self.workdir, "body%d" % self.counter)
        command = [CURL, "-sS", http, "--max-time", "10", "--noproxy", "*",
                   "-D", head_file, "-o", body_file, "-w", "%{http_code}"] + list(args)
        try:
            done = subprocess.run(command, capture_output=True, timeout=20)
            exit_code, stdout, stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as e:
            exit_code, stdout, stderr = -1, e.stdout or b"", (e.stderr or b"") + b" [timeout]"
        heads = parse_heads(read_file(head_file))
        body = read_file(body_file)
        code = stdout.decode("latin-1").strip()[-3:]
        return Result(code, exit_code, heads, body, stdout, stderr.decode("latin-1"))


def pattern(size):
    return bytes(ord("a") + i % 26 for i in range(size))


def run_checks(s):
    # Plain GETs with query and path parameters.
    r = s.curl(s.url("/hello?name=World"))
    s.check("get query parameter", r.code == "200" and r.body == b"Hello World"
            and r.header("Content-Type") == "text/plain; charset=utf-8", r.describe())
    r = s.curl(s.url("/hello?name=J%C3%BCrgen"))
    s.check("get encoded query parameter", r.body == "Hello Jürgen".encode(), r.describe())
    r = s.curl(s.url("/user/alice/42"))
    s.check("get path parameters", r.code == "200" and r.body == b"user alice #42", r.describe())
    s.check("date and server headers",
            r.header("Server") == "Sluice/0.1.0" and (r.header("Date") or "").endswith(" GMT"),
            r.describe())

    # Bodies: form data, chunked upload, 100-continue.
    r = s.curl("-d", "a=1&b=two", s.url("/echo"))
    s.check("post body", r.code == "200" and r.body == b"a=1&b=two"
            and r.header("Content-Type") == "application/x-www-form-urlencoded", r.describe())

    upload = os.urandom(300 * 1024)
    upload_path = os.path.join(s.workdir, "upload.bin")
    with open(upload_path, "wb") as f:
        f.write(upload)
    expected = ("%d %s" % (len(upload), hashlib.sha256(upload).hexdigest())).encode()
    r = s.curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + upload_path,
               s.url("/digest"))
    s.check("chunked upload", r.code == "200" and r.body == expected + b" chunked\n",
            r.describe())

    big = os.urandom(2 * 1024 * 1024 + 17)
    big_path = os.path.join(s.workdir, "big.bin")
    with open(big_path, "wb") as f:
        f.write(big)
    big_expected = ("%d %s length\n" % (len(big), hashlib.sha256(big).hexdigest())).encode()
    # curl waits a second for the interim answer, then sends anyway: a
    # missing 100 shows only as the missing interim head, so check for it.
    r = s.curl("--data-binary", "@" + big_path, s.url("/digest"))
    statuses = [h["status"] for h in r.heads]
    s.check("expect 100-continue (large body)",
            r.code == "200" and r.body == big_expected and statuses == [100, 200], r.describe())
    r = s.curl("-H", "Expect: 100-continue", "-d", "small", s.url("/echo"))
    statuses = [h["status"] for h in r.heads]
    s.check("expect 100-continue (explicit)",
            r.body == b"small" and statuses == [100, 200], r.describe())

    # HEAD: headers with the length, no body, and curl is not left waiting.
    # (-I writes the heads where the body would go, so the body is not checked;
    # body bytes after a HEAD answer would break the second exchange.)
    r = s.curl("-v", "-I", s.url("/hello"), s.url("/hello?name=again"))
    s.check("head", r.exit_code == 0 and [h["status"] for h in r.heads] == [200, 200]
            and all(dict((k.lower(), v) for k, v in h["headers"]).get("content-length") == "11"
                    for h in r.heads)
            and "Re-using existing connection" in r.stderr
            and "Excess" not in r.stderr, r.describe())

    # Keep-alive: two URLs, one connection.
    r = s.curl("-v", s.url("/hello?name=one"), s.url("/hello?name=two"),
               "-o", os.path.join(s.workdir, "second"))
    s.check("keep-alive reuse",
            r.exit_code == 0 and "Re-using existing connection" in r.stderr
            and read_file(os.path.join(s.workdir, "second")) == b"Hello two"
            and r.body == b"Hello one", r.describe())
    r = s.curl(s.url("/hello"), s.url("/user/bob/1"), "-o", os.devnull,
               "-w", " connects=%{num_connects}")
    connects = [part for part in r.stdout.decode().split() if part.startswith("connects=")]
    s.check("keep-alive num_connects", connects == ["connects=1", "connects=0"],
            r.describe() + " " + repr(connects))

    # Errors.
    r = s.curl(s.url("/nothing/here"))
    s.check("404", r.code == "404" and r.body == b"404 Not Found\n"
            and r.header("Content-Type") == "text/plain; charset=utf-8", r.describe())
    r = s.curl("-d", "x", s.url("/only-get"))
    allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
    s.check("405 with Allow", r.code == "405" and allow == ["GET", "HEAD"]
            and r.body == b"405 Method Not Allowed\n", r.describe())
    r = s.curl(s.url("/socket"))
    s.check("426 on ws route", r.code == "426"
            and (r.header("Upgrade") or "").lower() == "websocket", r.describe())
    r = s.curl(s.url("/boom"))
    s.check("500 hides the exception", r.code == "500"
            and r.body == b"500 Internal Server Error\n", r.describe())
    r = s.curl(s.url("/teapot"))
    s.check("418 with detail", r.code == "418"
            and r.body == b"418 I'm a teapot\nshort and stout\n", r.describe())

    # Redirects and forwards.
    r = s.curl(s.url("/away"))
    s.check("redirect Location", r.code == "302"
            and r.header("Location") == s.url("/hello?name=redirected"), r.describe())
    r = s.curl("-L", s.url("/away"))
    s.check("redirect followed", r.code == "200" and r.body == b"Hello redirected"
            and [h["status"] for h in r.heads] == [302, 200], r.describe())
    r = s.curl("-L", s.url("/away/bob"))
    s.check("redirect with substitution", r.body == b"Hello bob", r.describe())
    r = s.curl("-L", s.url("/relative"))
    s.check("redirect from handler", r.body == b"Hello relative"
            and [h["status"] for h in r.heads] == [302, 200], r.describe())
    r = s.curl(s.url("/old/a/b"))
    s.check("forward", r.code == "200" and r.body == b"new a/b at /new/a/b"
            and r.header("Location") is None, r.describe())

    # A response too big to buffer streams chunked.
    r = s.curl(s.url("/stream/500000"))
    s.check("streamed chunked response", r.code == "200"
            and (r.header("Transfer-Encoding") or "").lower() == "chunked"
            and r.body == pattern(500000), r.describe())

    # HTTP/1.0 client.
    r = s.curl(s.url("/hello?name=old"), http="--http1.0")
    s.check("http/1.0", r.code == "200" and r.body == b"Hello old", r.describe())
    r = s.curl(s.url("/stream/100000"), http="--http1.0")
    s.check("http/1.0 streamed", r.code == "200" and r.body == pattern(100000)
            and r.header("Transfer-Encoding") is None, r.describe())


def main():
    if len(sys.argv) != 2:
        print("usage: e2e_curl.py /path/to/httpserver", file=sys.stderr)
        return 2
    deadline = time.monotonic() + OVERALL_SECONDS
    session = None
    with tempfile.TemporaryDirectory(prefix="sluice-e2e-curl-") as workdir:
        try:
            with Server([sys.argv[1], "0"]) as server:
                session = Session(server.port, workdir)
                run_checks(session)
                session.check("server still running", server.running(),
                              "exit code %r" % server.returncode)
        except Exception as e:  # a broken harness is a failure, not a crash
            if session is None:
                session = Session(0, workdir)
            session.check("harness", False, repr(e))
    if time.monotonic() > deadline:
        session.check("within %d s" % OVERALL_SECONDS, False, "took too long")
    return session.finish()


if __name__ == "__main__":
    sys.exit(main())
