#!/usr/bin/python3
"""The default site in a real browser.

Starts the sluice example server on a free loopback port and Debian's headless
Chromium, and drives Chromium over the DevTools protocol (python3-websockets,
asyncio API) through the demo pages: the seed's ws:/contentType client, a chat
room shared by two pages and ignored by a third, the echo page and the index.
Every socket the pages open must negotiate permessage-deflate (the default
config compresses its ws: routes), and two sockets in one page must still talk
through a chat room and echo text and binary either side of the threshold.

Usage: e2e_browser.py PATH_TO_SLUICE
Prints PASS/FAIL per check and "N passed, M failed" last; exits non-zero on any
failure, and also when Chromium is missing, so that a machine without a browser
cannot pass this test by accident.
"""

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree

import websockets

CHROMIUM = "/usr/bin/chromium"
# Qt's MIME database on Debian is shared-mime-info's; the server's answers
# must agree with it.
FREEDESKTOP_MIME = "/usr/share/mime/packages/freedesktop.org.xml"
MIME_NAMESPACE = "{http://www.freedesktop.org/standards/shared-mime-info}"

RUN_SECONDS = 120  # the whole run, start-up and clean-up included
START_SECONDS = 20  # for the server's port line and Chromium's DevTools port
COMMAND_SECONDS = 15  # for one DevTools command
WAIT_SECONDS = 15  # for something to show up on a page

results = []


def report(name, ok, detail=""):
    results.append(ok)
    line = ("PASS" if ok else "FAIL") + ": " + name
    if detail:
        line += " -- " + detail
    print(line, flush=True)


def mime_type_for(extension):
    """The type shared-mime-info gives *.EXTENSION: the highest glob weight wins."""
    best = None
    root = ElementTree.parse(FREEDESKTOP_MIME).getroot()
    for mime in root.iter(MIME_NAMESPACE + "mime-type"):
        for glob in mime.iter(MIME_NAMESPACE + "glob"):
            if glob.get("pattern", "").lower() == "*." + extension.lower():
                weight = int(glob.get("weight", "50"))
                if best is None or weight > best[0]:
                    best = (weight, mime.get("type"))
    if best is None:
        raise RuntimeError("no *.%s in %s" % (extension, FREEDESKTOP_MIME))
    return best[1]


class DevTools:
    """One browser-level DevTools connection; pages are flattened sessions on it."""

    def __init__(self, socket):
        self.socket = socket
        self.ids = itertools.count(1)
        self.pending = {}
        self.listeners = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                if "id" in message:
                    future = self.pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    for listener in list(self.listeners):
                        listener(message)
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("DevTools connection closed"))

    async def send(self, method, params=None, session=None):
        number = next(self.ids)
        message = {"id": number, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        await self.socket.send(json.dumps(message))
        answer = await asyncio.wait_for(future, COMMAND_SECONDS)
        if "error" in answer:
            raise RuntimeError("%s failed: %s" % (method, answer["error"]))
        return answer.get("result", {})

    async def close(self):
        self.reader.cancel()
        await self.socket.close()


class Page:
    """A tab, with what it logged, threw and requested."""

    def __init__(self, devtools, session):
        self.devtools = devtools
        self.session = session
        self.console = []
        self.exceptions = []
        self.requests = []
        self.responses = {}
        self.loaded = asyncio.Event()
        devtools.listeners.append(self._on_event)

    @classmethod
    async def open(cls, devtools):
        target = await devtools.send("Target.createTarget", {"url": "about:blank"})
        attached = await devtools.send("Target.attachToTarget",
                                       {"targetId": target["targetId"], "flatten": True})
        page = cls(devtools, attached["sessionId"])
        page.target = target["targetId"]
        for domain in ("Page", "Runtime", "Network"):
            await page.send(domain + ".enable")
        return page

    def _on_event(self, message):
        if message.get("sessionId") != self.session:
            return
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(arg.get("value", arg.get("description", "")))
                                         for arg in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.exceptions.append(details.get("exception", {}).get("description")
                                   or details.get("text", "?"))
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.webSocketCreated":
            self.requests.append(params["url"])
        elif method == "Network.responseReceived":
            self.responses[params["requestId"]] = params["response"]
        elif method == "Page.loadEventFired":
            self.loaded.set()

    async def send(self, method, params=None):
        return await self.devtools.send(method, params, self.session)

    async def navigate(self, url):
        """Loads url and returns the HTTP status of the document."""
        self.loaded.clear()
        navigation = await self.send("Page.navigate", {"url": url})
        if navigation.get("errorText"):
            raise RuntimeError("navigating to %s: %s" % (url, navigation["errorText"]))
        await asyncio.wait_for(self.loaded.wait(), WAIT_SECONDS)
        # A document's request id is its loader id.
        response = self.responses.get(navigation.get("loaderId"))
        return response["status"] if response else None

    async def evaluate(self, expression):
        answer = await self.send("Runtime.evaluate", {"expression": expression,
                                                      "returnByValue": True,
                                                      "awaitPromise": True})
        if "exceptionDetails" in answer:
            raise RuntimeError("evaluating %r: %s" % (expression, answer["exceptionDetails"]))
        return answer["result"].get("value")

    async def wait_for(self, expression, expected, seconds=WAIT_SECONDS):
        """Polls expression until it equals expected; returns the last value seen."""
        deadline = time.monotonic() + seconds
        value = None
        while True:
            value = await self.evaluate(expression)
            if value == expected or time.monotonic() >= deadline:
                return value
            await asyncio.sleep(0.1)

    async def screenshot(self, path):
        shot = await self.send("Page.captureScreenshot", {"format": "png",
                                                          "captureBeyondViewport": True})
        with open(path, "wb") as out:
            out.write(base64.b64decode(shot["data"]))


def chat_lines(others_only):
    """JS: the texts of #messages, optionally only those that came from others."""
    selector = "#messages li:not(.mine)" if others_only else "#messages li"
    return ("Array.from(document.querySelectorAll(%r)).map(li => li.textContent)"
            % selector)


def contains(lines, text):
    return any(text in line for line in (lines or []))


async def send_chat(page, text):
    await page.evaluate("document.getElementById('text').value = %s;"
                        "document.getElementById('send').click();" % json.dumps(text))


async def check_contenttype(devtools, base):
    name = "contenttype.html: the seed's client gets MIME types over ws:/contentType"
    page = await Page.open(devtools)
    js_type, png_type = mime_type_for("js"), mime_type_for("png")
    status = await page.navigate(base + "contenttype.html?auto=js")
    reply = await page.wait_for("document.getElementById('reply').textContent", js_type)
    problems = []
    if status != 200:
        problems.append("status %r" % status)
    if reply != js_type:
        problems.append("reply for js %r, expected %r" % (reply, js_type))
    await page.evaluate("document.getElementById('extension').value = 'png';"
                        "document.getElementById('send').click();")
    reply = await page.wait_for("document.getElementById('reply').textContent", png_type)
    if reply != png_type:
        problems.append("reply for png %r, expected %r" % (reply, png_type))
    # The seed client writes these to the console, as the seed document shows.
    for line in ("connection started", "Echo back: " + js_type, "Echo back: " + png_type):
        if line not in page.console:
            problems.append("console lacks %r (has %r)" % (line, page.console))
    report(name, not problems, "; ".join(problems) or "js -> %s, png -> %s" % (js_type, png_type))
    return page


async def check_chat(devtools, base):
    name = "chat.html: two pages in room r1 talk, a page in r2 hears nothing"
    a, b, c = await Page.open(devtools), await Page.open(devtools), await Page.open(devtools)
    problems = []
    for page, query in ((a, "room=r1&name=a"), (b, "room=r1&name=b")):
        status = await page.navigate(base + "chat.html?" + query)
        if status != 200:
            problems.append("chat.html?%s: status %r" % (query, status))
        if await page.wait_for("connected", True) is not True:
            problems.append("chat.html?%s never connected" % query)
    # c joins another room and says something at once (the say parameter).
    await c.navigate(base + "chat.html?room=r2&name=c&say=" + "from%20c")
    if await c.wait_for("connected", True) is not True:
        problems.append("chat.html?room=r2 never connected")
    if await c.wait_for(chat_lines(False) + ".some(t => t.endsWith('cfrom c'))", True) is not True:
        problems.append("c did not send its say= message")
    if problems:
        report(name, False, "; ".join(problems))
        return a, b, c

    await send_chat(b, "hello from b")
    seen = await a.wait_for(chat_lines(True) + ".some(t => t.includes('bhello from b'))", True)
    if seen is not True:
        problems.append("a did not get b's message: %r" % await a.evaluate(chat_lines(False)))
    await send_chat(a, "hello from a")
    seen = await b.wait_for(chat_lines(True) + ".some(t => t.includes('ahello from a'))", True)
    if seen is not True:
        problems.append("b did not get a's message: %r" % await b.evaluate(chat_lines(False)))
    # Anything misrouted would have arrived along with the messages above;
    # a moment more catches a late straggler.
    await asyncio.sleep(0.5)
    a_others, b_others, c_all = (await a.evaluate(chat_lines(True)),
                                 await b.evaluate(chat_lines(True)),
                                 await c.evaluate(chat_lines(False)))
    if contains(a_others, "hello from a"):
        problems.append("a got its own message back: %r" % a_others)
    if contains(b_others, "hello from b"):
        problems.append("b got its own message back: %r" % b_others)
    if contains(a_others, "from c") or contains(b_others, "from c"):
        problems.append("r2's message reached r1: a %r, b %r" % (a_others, b_others))
    if len(a_others) != 1 or len(b_others) != 1:
        problems.append("expected exactly one message from others: a %r, b %r"
                        % (a_others, b_others))
    if len(c_all) != 1:
        problems.append("r2 saw more than its own message: %r" % c_all)
    # A member that leaves by closing its tab must not disturb the rest of the room.
    await devtools.send("Target.closeTarget", {"targetId": b.target})
    await asyncio.sleep(0.3)
    await send_chat(a, "anyone there?")
    await asyncio.sleep(0.5)
    if await a.evaluate("connected") is not True:
        problems.append("a lost its socket after b left and a spoke")
    report(name, not problems, "; ".join(problems))
    return a, b, c


async def check_echo(devtools, base):
    name = "echo.html: a message comes back over ws:/echo"
    page = await Page.open(devtools)
    status = await page.navigate(base + "echo.html?say=" + "ping%20%C3%A9")
    expression = ("Array.from(document.querySelectorAll('#log li'))"
                  ".some(li => li.textContent.endsWith('received: ping \u00e9'))")
    seen = await page.wait_for(expression, True)
    ok = status == 200 and seen is True
    report(name, ok, "" if ok else "status %r, log %r" % (
        status, await page.evaluate("document.getElementById('log').textContent")))
    return page


async def check_index(devtools, base):
    name = "index.html: status 200 and links to the three demos, all of which load"
    page = await Page.open(devtools)
    problems = []
    status = await page.navigate(base + "index.html")
    if status != 200:
        problems.append("status %r" % status)
    links = await page.evaluate("Array.from(document.links).map(a => a.href)")
    for demo in ("contenttype.html", "echo.html", "chat.html"):
        if base + demo not in links:
            problems.append("no link to %s in %r" % (demo, links))
    statuses = await page.evaluate(
        "Promise.all(Array.from(document.links).map(a => fetch(a.href)"
        ".then(r => [a.href, r.status])))")
    bad = [pair for pair in statuses if pair[1] != 200]
    if bad:
        problems.append("links that do not answer 200: %r" % bad)
    sheet = await page.evaluate("document.styleSheets.length === 1 && "
                                "document.styleSheets[0].cssRules.length > 0")
    if sheet is not True:
        problems.append("style.css not applied")
    report(name, not problems, "; ".join(problems))
    root_status = await page.navigate(base)
    report("/ serves the index page", root_status == 200
           and await page.evaluate("document.title") == "Sluice",
           "status %r" % root_status)
    return page


# Two sockets in one page on ws:/chat/deflate, then echoes on ws:/echo at
# sizes either side of the server's 64-byte threshold: what each socket
# negotiated and whether every message arrived as sent.
DEFLATE_SCRIPT = r"""
(async () => {
  const base = "ws://" + location.host;
  const open = (path) => new Promise((resolve, reject) => {
    const socket = new WebSocket(base + path);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error("WebSocket error on " + path));
  });
  const next = (socket) => Promise.race([
    new Promise((resolve) => { socket.onmessage = (event) => resolve(event.data); }),
    new Promise((resolve) => setTimeout(() => resolve(null), 5000))]);
  const sameBytes = (data, bytes) => data instanceof ArrayBuffer
      && data.byteLength === bytes.length
      && new Uint8Array(data).every((b, i) => b === bytes[i]);
  const problems = [];
  const x = await open("/chat/deflate"), y = await open("/chat/deflate");
  // The 101 may leave before the member is in the room.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const json = JSON.stringify({ rows: Array.from({ length: 400 }, (_, i) =>
      ({ id: i, name: "sensor-" + (i % 10), status: "ok" })) });
  let arrived = next(y);
  x.send(json);
  if (await arrived !== json)
    problems.push("chat: y did not get x's " + json.length + "-byte JSON");
  const bytes = Uint8Array.from({ length: 20000 }, (_, i) => i % 7);
  arrived = next(x);
  y.send(bytes);
  if (!sameBytes(await arrived, bytes))
    problems.push("chat: x did not get y's 20000 binary bytes");
  const echo = await open("/echo");
  for (const size of [0, 1, 63, 64, 65, 1000, 65536]) {
    const text = "abcdefghij".repeat(size / 10 + 1).slice(0, size);
    arrived = next(echo);
    echo.send(text);
    if (await arrived !== text)
      problems.push("echo: text of " + size + " bytes");
    const binary = Uint8Array.from({ length: size }, (_, i) => (i * 31) % 256);
    arrived = next(echo);
    echo.send(binary);
    if (!sameBytes(await arrived, binary))
      problems.push("echo: binary of " + size + " bytes");
  }
  const result = { chat: [x.extensions, y.extensions], echo: echo.extensions, problems };
  x.close(); y.close(); echo.close();
  return result;
})()
"""


async def check_deflate(devtools, base, pages):
    """The browser's sockets negotiate permessage-deflate with the default
    config's ws: routes ("compression": true), and messages still work."""
    wanted = "permessage-deflate"
    contenttype = pages.get("contenttype")
    name = "contenttype.html: the seed's socket negotiated permessage-deflate and still answers"
    if contenttype is None:
        report(name, False, "no contenttype page (its check failed)")
    else:
        extensions = await contenttype.evaluate("ws ? ws.extensions : null")
        css_type = mime_type_for("css")
        await contenttype.evaluate("document.getElementById('extension').value = 'css';"
                                   "document.getElementById('send').click();")
        reply = await contenttype.wait_for("document.getElementById('reply').textContent",
                                           css_type)
        report(name, wanted in (extensions or "") and reply == css_type,
               "ws.extensions %r, css -> %r" % (extensions, reply))

    name = "chat.html: the pages' sockets negotiated permessage-deflate"
    chat = pages.get("chat")
    if chat is None:
        report(name, False, "no chat pages (their check failed)")
    else:
        # chat[1] closed its tab; a and c are still open, each with its socket.
        values = [await page.evaluate("ws.extensions") for page in (chat[0], chat[2])]
        report(name, all(wanted in (value or "") for value in values),
               "ws.extensions %r" % values)

    name = ("two sockets in one page talk over ws:/chat/deflate (JSON and binary) and ws:/echo "
            "echoes text and binary of 0 to 65536 bytes, all with permessage-deflate")
    page = await Page.open(devtools)
    await page.navigate(base + "index.html")
    result = await page.evaluate(DEFLATE_SCRIPT)
    negotiated = result["chat"] + [result["echo"]]
    problems = list(result["problems"])
    if not all(wanted in (value or "") for value in negotiated):
        problems.append("ws.extensions %r" % negotiated)
    report(name, not problems, "; ".join(problems) or "ws.extensions %r" % negotiated[0])
    return page


def check_pages_clean(pages, base):
    origin_ws = "ws://" + base[len("http://"):]
    outside, thrown = [], []
    for page in pages:
        outside += [url for url in page.requests
                    if not (url.startswith(base) or url.startswith(origin_ws)
                            or url.startswith("data:") or url == "about:blank")]
        thrown += page.exceptions
    report("pages load nothing from elsewhere and throw no JavaScript errors",
           not outside and not thrown,
           ("requests elsewhere: %r " % outside if outside else "")
           + ("exceptions: %r" % thrown if thrown else ""))


async def start_server(binary):
    server = await asyncio.create_subprocess_exec(
        binary, "--headless", "--port", "0", "--bind", "127.0.0.1", "--log", os.devnull,
        stdout=asyncio.subprocess.PIPE, start_new_session=True)
    prefix = "Listening on http://127.0.0.1:"
    line = await asyncio.wait_for(server.stdout.readline(), START_SECONDS)
    text = line.decode().strip()
    if not text.startswith(prefix):
        raise RuntimeError("unexpected first line from sluice: %r" % text)
    return server, "http://127.0.0.1:%d/" % int(text[len(prefix):].rstrip("/"))


def start_chromium(profile):
    log = open(os.path.join(profile, "chromium.log"), "wb")
    return subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--user-data-dir=" + profile, "--remote-debugging-port=0",
         "--window-size=1000,800", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)


async def devtools_url(profile, chromium):
    """Chromium writes its port and browser path to DevToolsActivePort once it listens."""
    path = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if chromium.poll() is not None:
            raise RuntimeError("chromium exited with %r" % chromium.returncode)
        try:
            with open(path) as active:
                lines = active.read().split("\n")
            if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                return "ws://127.0.0.1:%s%s" % (lines[0].strip(), lines[1].strip())
        except FileNotFoundError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("no DevToolsActivePort within %d s" % START_SECONDS)


def stop_group(process, name):
    """Ends the process group; returns the exit code, or None if it had to be killed."""
    if process is None:
        return None
    code = process.returncode if hasattr(process, "returncode") else None
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return code
    for _ in range(50):
        try:
            pid, status = os.waitpid(process.pid, os.WNOHANG)
        except ChildProcessError:
            return code
        if pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    print("note: %s did not stop on SIGTERM; killing it" % name, flush=True)
    try:
        os.killpg(process.pid, signal.SIGKILL)
        os.waitpid(process.pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    return None


async def run(binary, state):
    server, base = await start_server(binary)
    state["server"] = server
    print("server at " + base, flush=True)
    chromium = start_chromium(state["profile"])
    state["chromium"] = chromium
    url = await devtools_url(state["profile"], chromium)
    # Screenshots are larger than websockets' default message limit.
    socket = await websockets.connect(url, max_size=None, ping_interval=None)
    devtools = DevTools(socket)
    pages = {}
    try:
        checks = (("contenttype", check_contenttype), ("chat", check_chat),
                  ("echo", check_echo), ("index", check_index))
        for key, check in checks:
            try:
                pages[key] = await check(devtools, base)
            except Exception as error:  # one broken check must not hide the others
                report(check.__name__, False, "%s: %s" % (type(error).__name__, error))
        try:
            pages["deflate"] = await check_deflate(devtools, base, pages)
        except Exception as error:  # one broken check must not hide the others
            report("check_deflate", False, "%s: %s" % (type(error).__name__, error))
        flat = []
        for opened in pages.values():
            flat += list(opened) if isinstance(opened, tuple) else [opened]
        check_pages_clean(flat, base)

        # Not checks: pictures of the site for a person to look at, when
        # SLUICE_SITE_SCREENSHOTS names a folder to put them in.
        shots = os.environ.get("SLUICE_SITE_SCREENSHOTS")
        if shots and "index" in pages and "chat" in pages:
            await pages["index"].navigate(base + "index.html")
            await pages["index"].screenshot(os.path.join(shots, "site-index.png"))
            await pages["chat"][0].screenshot(os.path.join(shots, "site-chat.png"))
            for key in ("contenttype", "echo"):
                if key in pages:
                    await pages[key].screenshot(os.path.join(shots, "site-%s.png" % key))
    finally:
        await devtools.close()

    report("server still running after the checks", server.returncode is None,
           "exit code %r" % server.returncode)
    # The example server quits its event loop on SIGTERM, with open sockets too.
    if server.returncode is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            code = await asyncio.wait_for(server.wait(), 10)
            report("server exits with 0 on SIGTERM", code == 0, "exit code %r" % code)
        except asyncio.TimeoutError:
            report("server exits with 0 on SIGTERM", False, "still running after 10 s")


class RunTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise RunTimeout("the run took longer than %d s" % (RUN_SECONDS + 30))


def main():
    if len(sys.argv) != 2:
        print("usage: e2e_browser.py PATH_TO_SLUICE", file=sys.stderr)
        return 2
    if not os.access(CHROMIUM, os.X_OK):
        print("SKIP: %s not found; install Debian's chromium package "
              "(scripts/deps.sh does). Failing, so that no browser is no pass." % CHROMIUM)
        return 1

    state = {"profile": tempfile.mkdtemp(prefix="sluice-chromium-")}
    # A last resort should asyncio itself hang: SIGALRM ends the run by force.
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(RUN_SECONDS + 30)
    try:
        asyncio.run(asyncio.wait_for(run(sys.argv[1], state), RUN_SECONDS))
    except Exception as error:
        report("run", False, "%s: %s" % (type(error).__name__, error))
    finally:
        signal.alarm(0)
        stop_group(state.get("chromium"), "chromium")
        server = state.get("server")
        if server is not None and server.returncode is None:
            stop_group(server, "sluice")
        if not all(results):
            log = os.path.join(state["profile"], "chromium.log")
            if os.path.exists(log):
                with open(log, errors="replace") as text:
                    tail = text.read()[-2000:]
                print("--- end of chromium's log ---\n" + tail, flush=True)
        shutil.rmtree(state["profile"], ignore_errors=True)

    passed = sum(1 for ok in results if ok)
    failed = len(results) - passed
    if not results:
        failed = 1
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
