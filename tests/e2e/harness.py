"""What the end-to-end scripts in this folder share.

- Server: starts a server binary, reads the "PORT <n>" line it prints first
  (with a deadline, so a server that never prints cannot hang the script),
  and stops it again; use it as a context manager.
- Checks: records PASS/FAIL/SKIP lines and prints the closing
  "N passed, M failed" line; finish() gives the script's exit code.
- read_file, parse_heads: the curl scripts' view of saved heads and bodies.
- js_type_from_shared_mime_info: what *.js is on this machine.

The scripts import it from their own folder (sys.path[0] is the folder of the
script being run), whatever the working directory.
"""

import asyncio
import json
import os
import re
import select
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET

STARTUP_SECONDS = 15
STOP_SECONDS = 10
MIME_PACKAGE = "/usr/share/mime/packages/freedesktop.org.xml"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def read_file(path):
    """The bytes of path, or b"" when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


class Server:
    """A server process that announced its port.

    args is the command line. With log_path the server's stderr goes to that
    file (and its tail into the error when it does not start); otherwise it
    goes where ours does. Raises RuntimeError, with the server stopped, when
    no "PORT <n>" line comes within STARTUP_SECONDS.
    """

    def __init__(self, args, log_path=None):
        self.log_path = log_path
        self.log = open(log_path, "wb") if log_path else None
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log,
                                        stdin=subprocess.DEVNULL)
        text = self._read_line(time.monotonic() + STARTUP_SECONDS)
        if not re.fullmatch(r"PORT \d+", text):
            detail = "got %r, exit %r" % (text, self.process.poll())
            self.stop()
            if log_path:
                detail += ", log %r" % read_file(log_path)[-500:]
            raise RuntimeError("server did not announce its port (%s)" % detail)
        self.port = int(text.split()[1])

    def _read_line(self, deadline):
        # Byte by byte: nothing the server prints after the line is consumed.
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                byte = os.read(self.process.stdout.fileno(), 1)
                if not byte:
                    break
                line += byte
            elif self.process.poll() is not None:
                break
        return line.decode("latin-1").strip()

    @property
    def pid(self):
        return self.process.pid

    @property
    def returncode(self):
        return self.process.poll()

    def running(self):
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)
        if self.process.stdout:
            self.process.stdout.close()
        if self.log:
            self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class SluiceApp(Server):
    """`sluice --headless` on 127.0.0.1, port 0, its log in tmp: Server, except
    that the app's first line on stdout is "Listening on http://HOST:PORT/".
    config, when given, is a dict written to a file for --config."""

    def __init__(self, binary, tmp, name, config=None, env=None, extra_args=()):
        args = [binary, "--headless", "--bind", "127.0.0.1", "--port", "0",
                "--log", os.path.join(tmp, name + ".log")] + list(extra_args)
        if config is not None:
            path = os.path.join(tmp, name + ".json")
            with open(path, "w") as f:
                json.dump(config, f, indent=2)
            args += ["--config", path]
        self.name = name
        self.log_path = os.path.join(tmp, name + ".stderr")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log,
                                        stdin=subprocess.DEVNULL, env=env)
        text = self._read_line(time.monotonic() + STARTUP_SECONDS)
        match = re.fullmatch(r"Listening on http://127\.0\.0\.1:(\d+)/", text)
        if not match:
            detail = "got %r, exit %r" % (text, self.process.poll())
            self.stop()
            detail += ", stderr %r" % read_file(self.log_path)[-500:]
            raise RuntimeError("sluice (%s) did not start (%s)" % (name, detail))
        self.port = int(match.group(1))
        print("# %s: sluice on port %d (pid %d)" % (name, self.port, self.pid), flush=True)

    def url(self, path):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def memory_kib(self):
        """(VmRSS, VmHWM) of the server in KiB."""
        with open("/proc/%d/status" % self.pid) as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class Checks:
    """Counts checks and prints one line per check.

    "PASS <name>", "FAIL <name>: <detail>", "SKIP <name>: <reason>"; finish()
    prints "N passed, M failed" and returns the exit code: 0 only when
    something passed and nothing failed.
    """

    def __init__(self, timeout=None):
        self.passed = 0
        self.failed = 0
        self.timeout = timeout  # for run(): seconds any one check may take

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, detail), flush=True)
        return condition

    @staticmethod
    def skip(name, reason):
        print("SKIP %s: %s" % (name, reason), flush=True)

    def fail_with(self, name, error):
        """A FAIL for an exception, followed by its traceback."""
        self.check(name, False, "%s: %s" % (type(error).__name__, error))
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()

    async def run(self, name, coro):
        """Awaits coro within self.timeout: PASS if it returns, FAIL if it raises."""
        try:
            await asyncio.wait_for(coro, self.timeout)
        except Exception as error:  # noqa: BLE001 - every failure is reported
            self.fail_with(name, error)
        else:
            self.check(name, True)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed or not self.passed else 0


def parse_heads(raw):
    """The response heads in a curl -D file: status line, status, headers."""
    heads = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = [line for line in block.split(b"\n") if line]
        if not lines or not lines[0].startswith(b"HTTP/"):
            continue
        status_line = lines[0].decode("latin-1")
        headers = []
        for line in lines[1:]:
            key, _, value = line.decode("latin-1").partition(":")
            headers.append((key.strip(), value.strip()))
        heads.append({"status_line": status_line, "status": int(status_line.split(" ")[1]),
                      "headers": headers})
    return heads


def js_type_from_shared_mime_info():
    """The type whose glob is *.js in this machine's shared-mime-info, which
    is what Qt's QMimeDatabase reads; None if the database is not there."""
    if not os.path.exists(MIME_PACKAGE):
        return None
    root = ET.parse(MIME_PACKAGE).getroot()
    for mime_type in root.iter(f"{MIME_NS}mime-type"):
        for glob in mime_type.findall(f"{MIME_NS}glob"):
            if glob.get("pattern") == "*.js":
                return mime_type.get("type")
    return None


def run_async(script, make_checks, main, total_timeout):
    """The entry point of a script whose checks are coroutines against one server:
    argv[1] is the server binary; the server must still be running at the end."""
    if len(sys.argv) < 2:
        print(f"usage: {script} PATH/TO/server", file=sys.stderr)
        return 2
    import websockets  # only the WebSocket scripts need it

    print(f"# websockets {websockets.__version__}")
    checks = Checks()
    try:
        with Server([sys.argv[1]]) as server:
            checks = make_checks(server.port)
            asyncio.run(asyncio.wait_for(main(checks), total_timeout))
            checks.check("server still running", server.running(),
                         f"exited with {server.returncode}")
    except Exception as error:  # noqa: BLE001 - a broken setup is a failure too
        checks.fail_with("setup", error)
    return checks.finish()
