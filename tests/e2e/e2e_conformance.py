#!/usr/bin/python3
"""RFC 6455 and RFC 7692 conformance of the sluice app, as a user runs it.

Usage: e2e_conformance.py PATH/TO/sluice [conformance.py options]

Starts `sluice --headless` with its default config on a free loopback port
and runs conformance.py (the Autobahn|Testsuite fuzzing client's cases 1-13)
against its ws:/echo route; the options after the binary go to
conformance.py (CTest passes --quick). Exits with conformance.py's status:
non-zero when any case is FAILED or UNIMPLEMENTED. Stops the server whatever
happens.
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RUN_SECONDS = 1800  # the full run (without --quick) takes minutes


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_WEBSOCKET_ENGINE"}
    with tempfile.TemporaryDirectory() as tmp:
        with harness.SluiceApp(sys.argv[1], tmp, "conformance", env=env,
                               extra_args=["--workers", "1"]) as server:
            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conformance.py")
            command = [sys.executable, script, server.url("/echo")] + sys.argv[2:]
            try:
                status = subprocess.run(command, timeout=RUN_SECONDS).returncode
            except subprocess.TimeoutExpired:
                print("conformance.py did not finish within %d s" % RUN_SECONDS)
                status = 1
            if not server.running():
                print("the server exited with %r" % server.returncode)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
