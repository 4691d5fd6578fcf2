#!/usr/bin/python3
"""Drives tests/e2e/staticserver with the real curl binary.

Usage: e2e_static.py /path/to/staticserver

Builds a home folder in a temporary directory (with a secret file next to it,
outside home), starts the server on a free port of 127.0.0.1 and checks what
curl gets: content types, validators and conditional requests, byte ranges,
HEAD, refused paths, and a 2 GiB sparse file downloaded whole while the
server's resident memory is sampled. Prints one PASS/FAIL/SKIP line per check
and then "N passed, M failed"; exits 0 only when nothing failed. The servers
are always stopped.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

# harness.py sits next to this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import Checks, parse_heads, read_file

OVERALL_SECONDS = 280
CURL = shutil.which("curl") or "/usr/bin/curl"

SECRET = b"TOP-SECRET-9a41c2 lives outside home\n"
FILE_TIME = 1614834367  # Thu, 04 Mar 2021 05:06:07 GMT
FILE_TIME_HTTP = "Thu, 04 Mar 2021 05:06:07 GMT"
HUGE_SIZE = 2 * 1024 ** 3
RSS_LIMIT_MIB = 64
MIB = 1024 * 1024


def patterned(size, seed=0):
    return bytes((((i + seed) * 2654435761) >> 24) & 0xFF for i in range(size))


class Result:
    def __init__(self, exit_code, heads, body, stdout, stderr):
        self.exit_code = exit_code
        self.heads = heads
        self.body = body
        self.stdout = stdout
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
            self.exit_code, [(h["status_line"], h["headers"]) for h in self.heads],
            self.body[:200], self.stderr[-300:])


def multipart_parts(body, content_type):
    """The (headers, data) of each part of a multipart/byteranges body, or None."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not match:
        return None
    delimiter = b"\r\n--" + match.group(1).encode("latin-1")
    data = b"\r\n" + body
    pos = data.find(delimiter)
    if pos < 0:
        return None
    parts = []
    while True:
        pos += len(delimiter)
        if data[pos:pos + 2] == b"--":
            rest = data[pos + 2:]
            return parts if rest in (b"", b"\r\n") else None
        if data[pos:pos + 2] != b"\r\n":
            return None
        head_end = data.find(b"\r\n\r\n", pos + 2)
        if head_end < 0:
            return None
        headers = {}
        for line in data[pos + 2:head_end].split(b"\r\n"):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        end = data.find(delimiter, head_end + 4)
        if end < 0:
            return None
        parts.append((headers, data[head_end + 4:end]))
        pos = end


def mime_types_for(extension):
    """What the system's shared MIME database lists, at its highest weight,
    for *.extension (QMimeDatabase reads the same database)."""
    best, names = -1, set()
    try:
        with open("/usr/share/mime/globs2", encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                fields = line.strip().split(":")
                if len(fields) < 3 or fields[2] != "*." + extension:
                    continue
                weight = int(fields[0])
                if weight > best:
                    best, names = weight, {fields[1]}
                elif weight == best:
                    names.add(fields[1])
    except OSError:
        pass
    return names


class Session(Checks):
    def __init__(self, workdir):
        super().__init__()
        self.workdir = workdir
        self.counter = 0
        self.base = None

    def url(self, path, base=None):
        return (base or self.base) + path

    def curl(self, *args, timeout=10):
        """Runs curl; the heads and the body go to files, -w output to stdout."""
        self.counter += 1
        head_file = os.path.join(self.workdir, "head%d" % self.counter)
        body_file = os.path.join(self.workdir, "body%d" % self.counter)
        command = [CURL, "-sS", "--http1.1", "--max-time", str(timeout), "--noproxy", "*",
                   "-D", head_file, "-o", body_file] + list(args)
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout + 10)
            exit_code, stdout, stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as e:
            exit_code, stdout, stderr = -1, e.stdout or b"", (e.stderr or b"") + b" [timeout]"
        heads = parse_heads(read_file(head_file))
        body = read_file(body_file)
        for path in (head_file, body_file):
            if os.path.exists(path):
                os.remove(path)
        return Result(exit_code, heads, body, stdout.decode("latin-1"),
                      stderr.decode("latin-1"))


class Server(harness.Server):
    """The static server on home with flags; its stderr goes to a log in workdir."""

    def __init__(self, binary, home, flags, workdir):
        super().__init__([binary, home] + flags,
                         log_path=os.path.join(workdir, "server%d.log" % len(os.listdir(workdir))))
        self.base = "http://127.0.0.1:%d" % self.port


def write(path, data, mtime=FILE_TIME):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


def make_site(root):
    home = os.path.join(root, "home")
    files = {
        "index.html": b"<!DOCTYPE html><title>e2e</title>home page\n",
        "style.css": b"h1 { font-weight: bold; }\n",
        "app.js": b"document.title = 'e2e';\n",
        "data.json": b"{\"ok\": true}\n",
        "notes.txt": b"plain notes\n",
        "image.png": b"\x89PNG\r\n\x1a\n" + patterned(300, 5),
        "digits.bin": patterned(1000, 9),
        "file.txt": b"the file called file.txt\n",
        ".hidden": b"hidden\n",
        ".git/config": b"[core]\n\tbare = false\n",
        "sub/index.html": b"<p>sub</p>\n",
        "list/one.txt": b"one\n",
        "list/two & <three>.txt": b"two and three\n",
        "with space.txt": b"spaced out\n",
    }
    for name, data in files.items():
        write(os.path.join(home, name), data)
    write(os.path.join(root, "secret.txt"), SECRET)
    os.symlink("../secret.txt", os.path.join(home, "out.txt"))
    return home, files


def run_checks(s, binary, root, home, files):
    with Server(binary, home, [], s.workdir) as server:
        s.base = server.base
        basic_checks(s, files)
        traversal_checks(s)
        huge_file_checks(s, server, home)
        s.check("server still running", server.running(), "exit %r" % server.returncode)

    with Server(binary, home, ["--listing", "--follow-symlinks"], s.workdir) as server:
        s.base = server.base
        r = s.curl(s.url("/list/"))
        body = r.body.decode("utf-8", "replace")
        s.check("listing with --listing", r.status == 200 and "one.txt" in body
                and "two &amp; &lt;three&gt;.txt" in body and "<three>" not in body
                and r.header("Content-Type") == "text/html; charset=utf-8", r.describe())
        r = s.curl(s.url("/out.txt"))
        s.check("link out of home with --follow-symlinks", r.status == 200 and r.body == SECRET,
                r.describe())
        r = s.curl("--path-as-is", s.url("/../secret.txt"))
        s.check("dot-dot still refused with --follow-symlinks",
                r.status == 403 and b"TOP-SECRET" not in r.body, r.describe())
        s.check("second server still running", server.running(), "")


def basic_checks(s, files):
    # Content types: charset on text, none on binary.
    for name, ext in (("index.html", "html"), ("style.css", "css"), ("app.js", "js"),
                      ("data.json", "json"), ("notes.txt", "txt")):
        r = s.curl(s.url("/" + name))
        mime, _, params = (r.header("Content-Type") or "").partition(";")
        known = mime_types_for(ext)
        s.check("content type %s" % ext, r.status == 200 and r.body == files[name]
                and params.strip() == "charset=utf-8" and (not known or mime in known),
                "%s (database: %r) %s" % (r.header("Content-Type"), known, r.describe()))
    r = s.curl(s.url("/image.png"))
    s.check("content type png", r.status == 200 and r.header("Content-Type") == "image/png"
            and r.body == files["image.png"], r.describe())
    r = s.curl(s.url("/"))
    s.check("index.html for /", r.status == 200 and r.body == files["index.html"], r.describe())
    r = s.curl(s.url("/sub?a=1"))
    s.check("301 to the folder with a slash", r.status == 301
            and r.header("Location") == "/sub/?a=1", r.describe())
    r = s.curl("-L", s.url("/sub"))
    s.check("redirect followed to the folder index",
            r.status == 200 and r.body == files["sub/index.html"], r.describe())
    r = s.curl(s.url("/list/"))
    s.check("403 for a folder without index", r.status == 403 and b"one.txt" not in r.body,
            r.describe())
    r = s.curl(s.url("/with%20space.txt"))
    s.check("encoded name", r.status == 200 and r.body == files["with space.txt"], r.describe())

    # Validators and conditional requests.
    r = s.curl(s.url("/notes.txt"))
    etag = r.header("ETag") or ""
    s.check("validators", re.fullmatch(r'"[^"]+"', etag) is not None
            and r.header("Last-Modified") == FILE_TIME_HTTP
            and r.header("Cache-Control") == "no-cache"
            and r.header("Accept-Ranges") == "bytes", r.describe())
    r = s.curl("-H", "If-None-Match: " + etag, s.url("/notes.txt"))
    s.check("If-None-Match -> 304", r.status == 304 and r.body == b""
            and r.header("ETag") == etag, r.describe())
    r = s.curl("-H", 'If-None-Match: W/' + etag, s.url("/notes.txt"))
    s.check("If-None-Match weak -> 304", r.status == 304 and r.body == b"", r.describe())
    r = s.curl("-H", 'If-None-Match: "other"', s.url("/notes.txt"))
    s.check("If-None-Match other -> 200", r.status == 200 and r.body == files["notes.txt"],
            r.describe())
    r = s.curl("-z", FILE_TIME_HTTP, s.url("/notes.txt"))
    s.check("-z equal date -> 304", r.status == 304 and r.body == b"", r.describe())
    r = s.curl("-z", "Sat, 01 Jan 2022 00:00:00 GMT", s.url("/notes.txt"))
    s.check("-z later date -> 304", r.status == 304 and r.body == b"", r.describe())
    r = s.curl("-z", "Wed, 03 Mar 2021 05:06:07 GMT", s.url("/notes.txt"))
    s.check("-z earlier date -> 200", r.status == 200 and r.body == files["notes.txt"],
            r.describe())
    # A leading "-" makes curl send If-Unmodified-Since.
    r = s.curl("-z", "-Wed, 03 Mar 2021 05:06:07 GMT", s.url("/notes.txt"))
    s.check("If-Unmodified-Since earlier -> 412", r.status == 412
            and files["notes.txt"] not in r.body, r.describe())
    r = s.curl("-H", 'If-Match: "other"', s.url("/notes.txt"))
    s.check("If-Match mismatch -> 412", r.status == 412, r.describe())
    r = s.curl("-H", "If-Match: " + etag, s.url("/notes.txt"))
    s.check("If-Match match -> 200", r.status == 200 and r.body == files["notes.txt"],
            r.describe())

    # Ranges.
    digits = files["digits.bin"]
    r = s.curl("-r", "0-99", s.url("/digits.bin"))
    s.check("-r 0-99 -> 206", r.status == 206 and r.body == digits[:100]
            and r.header("Content-Range") == "bytes 0-99/1000", r.describe())
    r = s.curl("-r", "-7", s.url("/digits.bin"))
    s.check("-r -7 -> 206", r.status == 206 and r.body == digits[-7:]
            and r.header("Content-Range") == "bytes 993-999/1000", r.describe())
    r = s.curl("-r", "0-1,5-6", s.url("/digits.bin"))
    parts = multipart_parts(r.body, r.header("Content-Type"))
    s.check("-r 0-1,5-6 -> multipart/byteranges", r.status == 206
            and (r.header("Content-Type") or "").startswith("multipart/byteranges")
            and parts is not None and len(parts) == 2
            and parts[0][1] == digits[0:2] and parts[1][1] == digits[5:7]
            and parts[0][0].get("content-range") == "bytes 0-1/1000"
            and parts[1][0].get("content-range") == "bytes 5-6/1000",
            "%r %s" % (parts, r.describe()))
    r = s.curl("-H", "If-Range: " + etag, "-r", "2-3", s.url("/notes.txt"))
    s.check("If-Range current -> 206", r.status == 206 and r.body == files["notes.txt"][2:4],
            r.describe())
    r = s.curl("-H", 'If-Range: "stale"', "-r", "2-3", s.url("/notes.txt"))
    s.check("If-Range stale -> 200", r.status == 200 and r.body == files["notes.txt"],
            r.describe())
    r = s.curl("-r", "100000-", s.url("/digits.bin"))
    s.check("-r 100000- -> 416", r.status == 416
            and r.header("Content-Range") == "bytes */1000", r.describe())
    r = s.curl("-r", "5000-6000", s.url("/digits.bin"))
    s.check("-r 5000-6000 -> 416", r.status == 416
            and r.header("Content-Range") == "bytes */1000", r.describe())
    r = s.curl("-H", "Range: bytes=9-3", s.url("/digits.bin"))
    s.check("malformed Range -> 200", r.status == 200 and r.body == digits, r.describe())

    # HEAD: the length, no body, and the connection goes on.
    r = s.curl("-v", "-I", s.url("/digits.bin"), s.url("/notes.txt"))
    lengths = [dict((k.lower(), v) for k, v in h["headers"]).get("content-length")
               for h in r.heads]
    s.check("HEAD -I", r.exit_code == 0 and [h["status"] for h in r.heads] == [200, 200]
            and lengths == ["1000", str(len(files["notes.txt"]))]
            and "Re-using existing connection" in r.stderr and "Excess" not in r.stderr,
            "%r %s" % (lengths, r.describe()))

    r = s.curl("-d", "x=1", s.url("/notes.txt"))
    allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
    s.check("POST -> 405 with Allow", r.status == 405 and allow == ["GET", "HEAD"],
            r.describe())


def traversal_checks(s):
    attempts = [
        ("/../secret.txt", 403),
        ("/a/../../secret.txt", 403),
        ("/sub/../../secret.txt", 403),
        ("/%2e%2e/secret.txt", 403),
        ("/%2E%2E%2Fsecret.txt", 400),
        ("/..%2fsecret.txt", 400),
        ("/sub%2f..%2f..%2fsecret.txt", 400),
        ("/%5c..%5csecret.txt", 400),
        ("/..%5csecret.txt", 400),
        ("/file%00.txt", 400),
        ("/.hidden", 404),
        ("/.git/config", 404),
        ("/%2egit/config", 404),
        ("/out.txt", 403),
    ]
    for path, status in attempts:
        r = s.curl("-v", "--path-as-is", s.url(path))
        # Proof that curl put the path on the wire as written.
        sent = re.search(r"> GET (\S+) HTTP", r.stderr)
        s.check("refused %s -> %d" % (path, status),
                r.status == status and b"TOP-SECRET" not in r.body
                and b"the file called" not in r.body and b"bare = false" not in r.body
                and sent is not None and sent.group(1) == path,
                "sent %r %s" % (sent.group(1) if sent else None, r.describe()))
    # curl will not put a raw backslash on the wire from a URL, so the request
    # line is written by hand for that one.
    r = s.curl("-v", "--path-as-is", "--request-target", "/..\\secret.txt", s.url("/"))
    s.check("refused /..\\secret.txt -> 400",
            r.status == 400 and b"TOP-SECRET" not in r.body
            and "> GET /..\\secret.txt HTTP" in r.stderr, r.describe())


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def huge_file_checks(s, server, home):
    path = os.path.join(home, "huge.bin")
    stat = os.statvfs(home)
    free = stat.f_bavail * stat.f_frsize
    if free < 100 * MIB:
        s.skip("2 GiB sparse download", "only %d MiB free" % (free // MIB))
        return
    try:
        with open(path, "wb"):
            pass
        os.truncate(path, HUGE_SIZE)
    except OSError as e:
        s.skip("2 GiB sparse download", "cannot make a sparse file: %s" % e)
        return
    try:
        # Warm the server up so that the baseline includes its usual buffers.
        s.curl(s.url("/huge.bin"), "-r", "0-65535")
        time.sleep(0.3)
        baseline = max(rss_kib(server.pid) or 0 for _ in range(3))
        peak = [baseline]
        samples = [0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                value = rss_kib(server.pid)
                if value is not None:
                    samples[0] += 1
                    peak[0] = max(peak[0], value)
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        try:
            done = subprocess.run([CURL, "-sS", "--http1.1", "--noproxy", "*", "--max-time",
                                   "240", "-o", os.devnull, "-w",
                                   "%{size_download} %{http_code}", s.url("/huge.bin")],
                                  capture_output=True, timeout=260)
            out, err = done.stdout.decode().strip(), done.stderr.decode()[-300:]
        except subprocess.TimeoutExpired:
            out, err = "", "timeout"
        seconds = time.monotonic() - started
        stop.set()
        sampler.join(timeout=2)
        delta = peak[0] - baseline
        print("RSS baseline %.1f MiB, peak %.1f MiB, delta %.1f MiB (%d samples);"
              " 2 GiB in %.1f s (%.0f MiB/s)"
              % (baseline / 1024, peak[0] / 1024, delta / 1024, samples[0], seconds,
                 HUGE_SIZE / MIB / max(seconds, 0.001)), flush=True)
        s.check("2 GiB sparse file downloaded whole", out == "%d 200" % HUGE_SIZE,
                "curl wrote %r, stderr %r" % (out, err))
        s.check("server RSS grew less than %d MiB during it" % RSS_LIMIT_MIB,
                baseline > 0 and samples[0] >= 3 and delta < RSS_LIMIT_MIB * 1024,
                "baseline %d KiB, peak %d KiB, %d samples" % (baseline, peak[0], samples[0]))

        r = s.curl("-r", "2147483000-", s.url("/huge.bin"))
        s.check("range at the end of the sparse file", r.status == 206
                and r.body == bytes(648)
                and r.header("Content-Range") == "bytes 2147483000-2147483647/2147483648",
                r.describe())
        r = s.curl("-I", s.url("/huge.bin"))
        s.check("HEAD of the sparse file", r.status == 200
                and r.header("Content-Length") == str(HUGE_SIZE), r.describe())
    finally:
        os.remove(path)


def main():
    if len(sys.argv) != 2:
        print("usage: e2e_static.py /path/to/staticserver", file=sys.stderr)
        return 2
    deadline = time.monotonic() + OVERALL_SECONDS
    with tempfile.TemporaryDirectory(prefix="sluice-e2e-static-") as root:
        workdir = os.path.join(root, "work")
        os.mkdir(workdir)
        session = Session(workdir)
        try:
            home, files = make_site(root)
            run_checks(session, sys.argv[1], root, home, files)
        except Exception as e:  # a broken harness is a failure, not a crash
            session.check("harness", False, repr(e))
        if session.failed:
            for name in sorted(os.listdir(workdir)):
                if name.startswith("server"):
                    log = read_file(os.path.join(workdir, name))
                    print("--- %s (tail):\n%s" % (name, log[-1500:].decode("latin-1")))
    if time.monotonic() > deadline:
        session.check("within %d s" % OVERALL_SECONDS, False, "took too long")
    return session.finish()


if __name__ == "__main__":
    sys.exit(main())
