#!/usr/bin/python3
"""Drives tests/e2e/limitsserver with curl and raw sockets: every HTTP limit
and timeout of sluice::Limits, from the outside.

Usage: e2e_limits.py /path/to/limitsserver

Makes a home folder with a 64 MiB and a 16 MiB file in a temporary
directory, starts the server on a free port of 127.0.0.1 with small limits
and short timeouts (see LIMITS), and checks what the clients get: 414, 431,
413 and 503 answers (curl), 408 for a slowloris head and a stalled body, the
keep-alive idle close, and downloads to a client that reads late, slowly or
never, with the server's resident memory sampled. Prints one PASS/FAIL line
per check and then "N passed, M failed"; exits 0 only when nothing failed.
The server is always stopped.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

# harness.py sits next to this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Server, parse_heads, read_file

OVERALL_SECONDS = 240
CURL = shutil.which("curl") or "/usr/bin/curl"
SS = shutil.which("ss") or "/usr/bin/ss"
MIB = 1024 * 1024
BIG_SIZE = 64 * MIB
MID_SIZE = 16 * MIB

LIMITS = {
    "maxUriBytes": 1024,
    "maxHeadBytes": 8192,
    "maxHeaderCount": 20,
    "maxBodyBytes": 64 * 1024,
    "maxConnections": 6,
    "maxConnectionsPerAddress": 3,
    "maxPendingWriteBytes": 1 * MIB,
    "headTimeoutMs": 1000,
    "bodyTimeoutMs": 1000,
    "keepAliveTimeoutMs": 1000,
    "sendTimeoutMs": 2000,
}
# A timeout may fire this much early (timer slack), or this much late.
EARLY = 0.8
LATE_SECONDS = 1.5
RSS_GROWTH_LIMIT_MIB = 24


class Result:
    def __init__(self, exit_code, heads, body, stderr):
        self.exit_code = exit_code
        self.heads = heads
        self.body = body
        self.stderr = stderr

    @property
    def status(self):
        return self.heads[-1]["status"] if self.heads else 0

    def header(self, name):
        if not self.heads:
            return None
        for key, value in self.heads[-1]["headers"]:
            if key.lower() == name.lower():
                return value
        return None

    def describe(self):
        return "exit=%d heads=%r body=%r stderr=%r" % (
            self.exit_code, [h["status_line"] for h in self.heads], self.body[:120],
            self.stderr[-300:])


class Session(Checks):
    def __init__(self, port, workdir, previous=None):
        super().__init__()
        if previous:  # one tally across servers
            self.passed, self.failed = previous.passed, previous.failed
        self.port = port
        self.base = "http://127.0.0.1:%d" % port
        self.workdir = workdir
        self.counter = 0

    def url(self, path):
        return self.base + path

    def curl(self, *args, stdin=None, timeout=20):
        """Runs curl; heads and body go to files. stdin: a file object or None."""
        self.counter += 1
        head_file = os.path.join(self.workdir, "head%d" % self.counter)
        body_file = os.path.join(self.workdir, "body%d" % self.counter)
        command = [CURL, "-sS", "--http1.1", "--max-time", str(timeout - 5), "--noproxy", "*",
                   "-D", head_file, "-o", body_file] + list(args)
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout,
                                  stdin=stdin if stdin is not None else subprocess.DEVNULL)
            exit_code, stderr = done.returncode, done.stderr
        except subprocess.TimeoutExpired as e:
            exit_code, stderr = -1, (e.stderr or b"") + b" [timeout]"
        return Result(exit_code, parse_heads(read_file(head_file)), read_file(body_file),
                      stderr.decode("latin-1"))

    def connect(self, source="127.0.0.1", rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((source, 0))
        sock.settimeout(10)
        sock.connect(("127.0.0.1", self.port))
        return sock


def read_response(sock, timeout=5.0):
    """Reads one response with a Content-Length (or up to EOF): (status, head, body, eof)."""
    sock.settimeout(timeout)
    data = bytearray()
    eof = False
    head_end = -1
    length = None
    try:
        while head_end < 0:
            piece = sock.recv(1 << 20)
            if not piece:
                eof = True
                break
            data += piece
            head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            for line in bytes(data[:head_end]).split(b"\r\n")[1:]:
                key, _, value = line.partition(b":")
                if key.strip().lower() == b"content-length":
                    length = int(value.strip())
        while not eof and head_end >= 0 and (length is None or len(data) - head_end - 4 < length):
            piece = sock.recv(1 << 20)
            if not piece:
                eof = True
                break
            data += piece
    except (socket.timeout, ConnectionError):
        pass
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status = 0
    if head.startswith(b"HTTP/1."):
        status = int(head.split(b" ")[1])
    return status, head, body, eof


def wait_eof(sock, timeout):
    """Seconds until EOF (or a reset) on sock, reading and dropping what comes; None if
    the connection is still open after timeout."""
    start = time.monotonic()
    sock.settimeout(0.05)
    while time.monotonic() - start < timeout:
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except ConnectionError:
            return time.monotonic() - start
    return None


def server_side(port, sock):
    """The state and unsent bytes of the server's end of sock, as ss(8) shows
    it: ("ESTAB", n), ("FIN-WAIT-1", n)..., or (None, 0) once the kernel has
    let it go. A client that reads nothing cannot see a close behind the data
    queued for it, so the cut is watched on the server's side of the wire."""
    peer = "127.0.0.1:%d" % sock.getsockname()[1]
    out = subprocess.run([SS, "-Htn", "state", "all", "sport", "=", ":%d" % port],
                         capture_output=True, text=True, timeout=10).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[4] == peer:
            return fields[0], int(fields[2])
    return None, 0


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Samples a process's VmRSS every 10 ms on a thread until stopped."""

    def __init__(self, pid):
        self.pid = pid
        self.baseline = max(rss_kib(pid) or 0 for _ in range(3))
        self.peak = self.baseline
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            value = rss_kib(self.pid)
            if value:
                self.peak = max(self.peak, value)
                self.samples += 1
            time.sleep(0.01)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak - self.baseline


def in_bounds(seconds, timeout_ms):
    return seconds is not None and timeout_ms / 1000 * EARLY <= seconds <= timeout_ms / 1000 + LATE_SECONDS


def make_home(root):
    home = os.path.join(root, "home")
    os.mkdir(home)
    digests = {}
    for name, size in (("big.bin", BIG_SIZE), ("mid.bin", MID_SIZE)):
        data = os.urandom(size)
        with open(os.path.join(home, name), "wb") as f:
            f.write(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    with open(os.path.join(home, "small.txt"), "wb") as f:
        f.write(b"small file\n")
    return home, digests


def check_request_limits(s):
    # 414: the target (path and query) over maxUriBytes.
    at_limit = "/hello?q=" + "u" * (LIMITS["maxUriBytes"] - len("/hello?q="))
    r = s.curl(s.url(at_limit))
    s.check("URI at maxUriBytes is served", r.status == 200 and r.body == b"hello\n",
            r.describe())
    r = s.curl(s.url(at_limit + "u"))
    s.check("URI over maxUriBytes: 414, text, Connection: close",
            r.status == 414 and r.body.startswith(b"414 URI Too Long\n")
            and len(r.body) < 512
            and (r.header("Content-Type") or "").startswith("text/plain")
            and (r.header("Connection") or "").lower() == "close", r.describe())

    # 431: a head over maxHeadBytes, and more fields than maxHeaderCount.
    r = s.curl("-H", "X-Pad: " + "p" * 6000, s.url("/hello"))
    s.check("head under maxHeadBytes is served", r.status == 200, r.describe())
    r = s.curl("-H", "X-Pad: " + "p" * 9000, s.url("/hello"))
    s.check("head over maxHeadBytes: 431", r.status == 431
            and r.body.startswith(b"431 ")
            and (r.header("Connection") or "").lower() == "close", r.describe())
    # curl adds Host, User-Agent and Accept.
    def many(count):
        args = []
        for i in range(count):
            args += ["-H", "X-Field-%d: v" % i]
        return args
    r = s.curl(*many(LIMITS["maxHeaderCount"] - 3), s.url("/hello"))
    s.check("maxHeaderCount fields are served", r.status == 200, r.describe())
    r = s.curl(*many(LIMITS["maxHeaderCount"] - 2), s.url("/hello"))
    s.check("one field over maxHeaderCount: 431", r.status == 431
            and (r.header("Connection") or "").lower() == "close", r.describe())

    # 413: Content-Length over maxBodyBytes, and a chunked body growing past it.
    upload = os.urandom(200 * 1024)
    path = os.path.join(s.workdir, "upload.bin")
    with open(path, "wb") as f:
        f.write(upload)
    start = time.monotonic()
    r = s.curl("--data-binary", "@" + path, s.url("/digest"))
    s.check("Content-Length over maxBodyBytes: 413", r.status == 413
            and r.body.startswith(b"413 ")
            and (r.header("Connection") or "").lower() == "close", r.describe())
    # curl waits a second for a 100 before sending a body this size; the
    # refusal comes at once instead.
    s.check("413 before the body is sent", time.monotonic() - start < 0.9,
            "took %.2f s" % (time.monotonic() - start))
    r = s.curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path,
               s.url("/digest"))
    s.check("chunked body over maxBodyBytes: 413", r.status == 413, r.describe())
    small = upload[:60 * 1024]
    with open(path, "wb") as f:
        f.write(small)
    r = s.curl("-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path,
               s.url("/digest"))
    s.check("chunked body under maxBodyBytes is served", r.status == 200
            and r.body == b"%d %s\n" % (len(small), hashlib.sha256(small).hexdigest().encode()),
            r.describe())

    # A raw head announcing too much gets 413 without a byte of the body.
    sock = s.connect()
    sock.sendall(b"POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n")
    status, head, body, _ = read_response(sock, 3)
    s.check("raw: 413 for a head alone", status == 413 and wait_eof(sock, 3) is not None,
            repr(head))
    sock.close()


def hold(s, source, count):
    """count keep-alive connections from source, each with a request answered."""
    sockets = []
    for _ in range(count):
        sock = s.connect(source)
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        status, _, _, _ = read_response(sock)
        if status != 200:
            raise RuntimeError("held connection from %s got %d" % (source, status))
        sockets.append(sock)
    return sockets


def retry_curl(s, *args, want=200, seconds=3):
    """The server may take a moment to see a closed connection go."""
    deadline = time.monotonic() + seconds
    while True:
        r = s.curl(*args)
        if r.status == want or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


def check_connection_caps(s):
    per_address = LIMITS["maxConnectionsPerAddress"]
    held = hold(s, "127.0.0.2", per_address)
    try:
        r = s.curl("--interface", "127.0.0.2", s.url("/hello"))
        s.check("maxConnectionsPerAddress: 503 from the full address (curl --interface)",
                r.status == 503 and (r.header("Connection") or "").lower() == "close",
                r.describe())
        r = s.curl(s.url("/hello"))
        s.check("maxConnectionsPerAddress: another address is served",
                r.status == 200 and r.body == b"hello\n", r.describe())

        # 127.0.0.3 fills the rest: maxConnections in all.
        held += hold(s, "127.0.0.3", LIMITS["maxConnections"] - per_address)
        r = s.curl(s.url("/hello"))
        s.check("maxConnections: 503 for one more (curl)", r.status == 503, r.describe())
        sock = s.connect("127.0.0.4")
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        status, head, _, _ = read_response(sock, 3)
        s.check("maxConnections: 503 and closed (raw)",
                status == 503 and wait_eof(sock, 3) is not None, repr(head))
        sock.close()

        # One goes: there is room again.
        held.pop().close()
        r = retry_curl(s, s.url("/hello"))
        s.check("maxConnections: served again after one closed", r.status == 200, r.describe())
    finally:
        for sock in held:
            sock.close()


def check_timeouts(s):
    # Slowloris: a byte every 50 ms, never the end of the head.
    sock = s.connect()
    head = b"GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"s" * 500 + b"\r\n\r\n"
    start = time.monotonic()
    received = b""
    closed_after = None
    sent = 0
    sock.settimeout(0.05)
    while time.monotonic() - start < 5 and sent < len(head):
        # Once the answer has come, sending more would only provoke a reset.
        if not received:
            try:
                sock.send(head[sent:sent + 1])
                sent += 1
            except OSError:
                closed_after = time.monotonic() - start
                break
        try:
            piece = sock.recv(65536)
            if not piece:
                closed_after = time.monotonic() - start
                break
            received += piece
        except socket.timeout:
            pass
        except ConnectionError:
            closed_after = time.monotonic() - start
            break
    sock.close()
    s.check("headTimeoutMs: slowloris gets 408 and is closed in time",
            received.startswith(b"HTTP/1.1 408 ") and in_bounds(closed_after, LIMITS["headTimeoutMs"]),
            "closed after %r s, %d bytes sent, got %r" % (closed_after, sent, received[:200]))

    # A connection that sends nothing.
    start = time.monotonic()
    sock = s.connect()
    closed_after = wait_eof(sock, 5)
    sock.close()
    s.check("headTimeoutMs: a silent connection is closed in time",
            in_bounds(closed_after, LIMITS["headTimeoutMs"]), "closed after %r s" % closed_after)

    # A body that stops coming (raw), and curl with a body that stops coming.
    sock = s.connect()
    sock.sendall(b"POST /digest HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
    start = time.monotonic()
    status, head, _, _ = read_response(sock, 5)
    waited = time.monotonic() - start
    s.check("bodyTimeoutMs: a stalled body gets 408 in time",
            status == 408 and in_bounds(waited, LIMITS["bodyTimeoutMs"])
            and wait_eof(sock, 2) is not None, "after %.2f s: %r" % (waited, head))
    sock.close()

    # curl -T - streams stdin as a chunked PUT as it comes.
    read_end, write_end = os.pipe()
    feeder_stop = threading.Event()

    def feed(pieces, pause, then_stall):
        with os.fdopen(write_end, "wb", buffering=0) as out:
            for i in range(pieces):
                out.write(b"piece %02d\n" % i)
                time.sleep(pause)
            if then_stall:
                feeder_stop.wait(4)

    # (curl itself ends only when its stdin does, so the timing is the raw test's.)
    feeder = threading.Thread(target=feed, args=(2, 0.1, True), daemon=True)
    feeder.start()
    with os.fdopen(read_end, "rb") as stdin:
        r = s.curl("-T", "-", s.url("/digest"), stdin=stdin)
    feeder_stop.set()
    feeder.join()
    s.check("bodyTimeoutMs: curl's upload that stalls gets 408", r.status == 408
            and r.body.startswith(b"408 Request Timeout\n"), r.describe())

    # Slow but steady: 10 pieces, one every 400 ms (4 s in all, each pause under the timeout).
    read_end, write_end = os.pipe()
    feeder = threading.Thread(target=feed, args=(10, 0.4, False), daemon=True)
    feeder.start()
    with os.fdopen(read_end, "rb") as stdin:
        start = time.monotonic()
        r = s.curl("-T", "-", s.url("/digest"), stdin=stdin)
        waited = time.monotonic() - start
    feeder.join()
    expected = b"".join(b"piece %02d\n" % i for i in range(10))
    s.check("bodyTimeoutMs: a slow but steady upload (curl -T -) is served",
            r.status == 200 and waited > 3.5
            and r.body == b"%d %s\n" % (len(expected), hashlib.sha256(expected).hexdigest().encode()),
            "after %.2f s: %s" % (waited, r.describe()))

    # Keep-alive: idle after a response, closed (plain EOF) at about the timeout.
    sock = s.connect()
    sock.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
    status, _, _, eof = read_response(sock)
    start = time.monotonic()
    sock.settimeout(5)
    try:
        rest = sock.recv(65536)
    except (socket.timeout, ConnectionError) as e:
        rest = repr(e).encode()
    closed_after = time.monotonic() - start
    sock.close()
    s.check("keepAliveTimeoutMs: an idle connection gets EOF in time",
            status == 200 and not eof and rest == b""
            and in_bounds(closed_after, LIMITS["keepAliveTimeoutMs"]),
            "status %d, after %.2f s: %r" % (status, closed_after, rest[:100]))

    # A request shortly before the timeout restarts it.
    sock = s.connect()
    sock.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
    first, _, _, _ = read_response(sock)
    first_at = time.monotonic()
    time.sleep(LIMITS["keepAliveTimeoutMs"] / 1000 * 0.7)
    sock.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
    second, _, _, _ = read_response(sock)
    second_at = time.monotonic()
    closed_after = wait_eof(sock, 5)
    sock.close()
    s.check("keepAliveTimeoutMs: a request restarts the clock",
            first == 200 and second == 200 and in_bounds(closed_after, LIMITS["keepAliveTimeoutMs"]),
            "%d %d, closed %.2f s after the second response (%.2f after the first)" % (
                first, second, closed_after or -1, (closed_after or 0) + second_at - first_at))


def check_backpressure(s, server, digests):
    send_timeout = LIMITS["sendTimeoutMs"] / 1000
    # A client that reads nothing: the server must not buffer the file.
    rss = RssSampler(server.pid)
    stalled = s.connect(rcvbuf=64 * 1024)
    stalled.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
    start = time.monotonic()
    time.sleep(send_timeout * 0.4)
    r = s.curl(s.url("/mid.bin"))
    s.check("others are served during a stalled download",
            r.status == 200 and hashlib.sha256(r.body).hexdigest() == digests["mid.bin"],
            r.describe())
    # Cut after about sendTimeoutMs.
    cut_after = None
    state = server_side(s.port, stalled)
    while time.monotonic() - start < send_timeout + 5:
        state = server_side(s.port, stalled)
        if state[0] != "ESTAB":
            cut_after = time.monotonic() - start
            break
        time.sleep(0.02)
    growth = rss.stop()
    print("# stalled 64 MiB download: RSS baseline %.1f MiB, peak growth %.1f MiB, %d samples;"
          " after the cut the server's socket is %s with %d bytes unsent"
          % (rss.baseline / 1024, growth / 1024, rss.samples, state[0] or "gone", state[1]),
          flush=True)
    s.check("a client that never reads is cut after about sendTimeoutMs",
            cut_after is not None and send_timeout * EARLY <= cut_after <= send_timeout + LATE_SECONDS,
            "cut after %r s" % cut_after)
    s.check("server RSS grows less than %d MiB for a 64 MiB file nobody reads" % RSS_GROWTH_LIMIT_MIB,
            rss.samples > 10 and growth < RSS_GROWTH_LIMIT_MIB * 1024,
            "grew %d KiB" % growth)
    got = 0
    stalled.settimeout(2)
    try:
        while True:
            piece = stalled.recv(1 << 20)
            if not piece:
                break
            got += len(piece)
    except (socket.timeout, ConnectionError):
        pass
    stalled.close()
    s.check("the cut download is incomplete", got < BIG_SIZE, "got %d bytes" % got)

    # A client that starts reading before sendTimeoutMs gets it all, intact.
    rss = RssSampler(server.pid)
    late = s.connect(rcvbuf=64 * 1024)
    late.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
    time.sleep(send_timeout * 0.5)
    status, head, body, _ = read_response(late, 20)
    late.close()
    growth = rss.stop()
    s.check("a late reader gets the whole 64 MiB intact",
            status == 200 and len(body) == BIG_SIZE
            and hashlib.sha256(body).hexdigest() == digests["big.bin"],
            "status %d, %d bytes, head %r" % (status, len(body), head[:200]))
    del body
    s.check("server RSS grows less than %d MiB for the late reader" % RSS_GROWTH_LIMIT_MIB,
            growth < RSS_GROWTH_LIMIT_MIB * 1024, "grew %d KiB" % growth)

    # A slow but steady reader: 16 MiB, 64 KiB every 10 ms, takes longer than
    # sendTimeoutMs but never takes nothing for that long. (Not curl
    # --limit-rate: it averages, so after a fast start it stops reading for
    # seconds, which is a stall.)
    steady = s.connect(rcvbuf=64 * 1024)
    steady.sendall(b"GET /mid.bin HTTP/1.1\r\nHost: a\r\n\r\n")
    start = time.monotonic()
    data = bytearray()
    head_end = -1
    steady.settimeout(5)
    try:
        while head_end < 0 or len(data) - head_end - 4 < MID_SIZE:
            piece = steady.recv(64 * 1024)
            if not piece:
                break
            data += piece
            if head_end < 0:
                head_end = data.find(b"\r\n\r\n")
            time.sleep(0.01)
    except (socket.timeout, ConnectionError) as error:
        print("# steady reader: %r" % error)
    took = time.monotonic() - start
    steady.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    s.check("a slow but steady reader gets the whole file",
            head.startswith(b"HTTP/1.1 200 ") and took > send_timeout and len(body) == MID_SIZE
            and hashlib.sha256(body).hexdigest() == digests["mid.bin"],
            "took %.2f s, %d bytes, head %r" % (took, len(body), head[:100]))

    # A handler writing 100 MiB without waiting for drained() is cut.
    rss = RssSampler(server.pid)
    r = s.curl(s.url("/flood"))
    growth = rss.stop()
    s.check("a handler flooding past maxPendingWriteBytes is cut",
            r.exit_code != 0 and len(r.body) < 100 * MIB, r.describe())
    s.check("server RSS grows less than %d MiB for the flooding handler" % RSS_GROWTH_LIMIT_MIB,
            growth < RSS_GROWTH_LIMIT_MIB * 1024, "grew %d KiB" % growth)
    r = s.curl(s.url("/hello"))
    s.check("served after the cuts", r.status == 200 and r.body == b"hello\n", r.describe())


def main():
    if len(sys.argv) != 2:
        print("usage: e2e_limits.py /path/to/limitsserver", file=sys.stderr)
        return 2
    deadline = time.monotonic() + OVERALL_SECONDS
    session = Checks()
    with tempfile.TemporaryDirectory(prefix="sluice-e2e-limits-") as root:
        workdir = os.path.join(root, "work")
        os.mkdir(workdir)
        try:
            home, digests = make_home(root)
            # The connection caps hold idle connections open: on a server of
            # their own whose idle timeouts cannot end them during the check.
            caps = dict(LIMITS, keepAliveTimeoutMs=60000, headTimeoutMs=60000)
            args = [sys.argv[1], home] + ["%s=%d" % item for item in caps.items()]
            with Server(args, log_path=os.path.join(root, "caps.log")) as server:
                session = Session(server.port, workdir)
                try:
                    check_connection_caps(session)
                except Exception as error:  # noqa: BLE001 - reported, the rest still runs
                    session.fail_with("check_connection_caps", error)
                session.check("caps server still running", server.running(),
                              "exited with %r" % server.returncode)
            args = [sys.argv[1], home] + ["%s=%d" % item for item in LIMITS.items()]
            with Server(args, log_path=os.path.join(root, "server.log")) as server:
                session = Session(server.port, workdir, session)
                for part in (check_request_limits, check_timeouts):
                    try:
                        part(session)
                    except Exception as error:  # noqa: BLE001 - reported, the rest still runs
                        session.fail_with(part.__name__, error)
                try:
                    check_backpressure(session, server, digests)
                except Exception as error:  # noqa: BLE001
                    session.fail_with("check_backpressure", error)
                session.check("server still running", server.running(),
                              "exited with %r" % server.returncode)
            if session.failed:
                for log in ("caps.log", "server.log"):
                    print("# %s tail:\n" % log + read_file(os.path.join(root, log))
                          .decode("latin-1")[-3000:])
        except Exception as error:  # noqa: BLE001 - a broken setup is a failure too
            session.fail_with("setup", error)
    if time.monotonic() > deadline:
        session.check("within %d s" % OVERALL_SECONDS, False, "took too long")
    return session.finish()


if __name__ == "__main__":
    sys.exit(main())
