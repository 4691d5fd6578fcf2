#!/usr/bin/python3
"""A chat trace for the compression benchmark (run_bench.py --only compression).

Writes COUNT JSON chat messages, one per line, 80 to 600 bytes each:

  {"type":"message","room":"lobby","user":"alice42","text":"...","ts":1733580000123,"id":"..."}

The text is English-like chat (greetings, questions, status updates, a few
accents and emoji), its length skewed towards short messages as in real
rooms; the id is random, as a server's would be. The same seed gives the
same bytes on every machine: only random.Random.random() is drawn from,
whose sequence Python keeps stable across versions.

Usage: tests/bench/chattrace.py [--count N] [--seed S] FILE
"""

import argparse
import json
import random

MIN_BYTES = 80
MAX_BYTES = 600
FIRST_TS = 1733580000123

ROOMS = ("lobby", "general", "dev", "random", "ops-alerts", "design", "support", "lobby")
USERS = ("alice42", "bob", "carol_w", "dave.k", "erin", "frank99", "grace", "heidi_m",
         "ivan", "judy", "mallory7", "niaj", "olivia.r", "peggy", "rupert", "sybil")
OPENERS = ("hey", "hi all", "morning!", "ok so", "quick question:", "fyi", "btw", "hmm",
           "lol", "yeah", "thanks!", "sure", "honestly", "wait", "update:", "heads up:")
SUBJECTS = ("the build", "the deploy", "staging", "the new dashboard", "my laptop", "the API",
            "the login page", "the release", "this PR", "the test suite", "the database",
            "the meeting", "the cache", "the docs", "our WebSocket server", "the migration",
            "the on-call rota", "lunch", "the coffee machine", "the CI runner")
VERBS = ("is broken again", "looks good to me", "is taking forever", "just went green",
         "needs another review", "is back up", "keeps timing out", "was merged an hour ago",
         "is way faster now", "got rolled back", "should be fixed in the next build",
         "works on my machine", "is flaky on Mondays", "needs a restart",
         "is blocked on the design review", "is ready for QA")
QUESTIONS = ("can someone take a look?", "any idea why?", "who owns this?",
             "are we still on for 3pm?", "did anyone else see this?", "should I open a ticket?",
             "is that expected?", "can we ship it today?", "what am I missing?",
             "does anyone have the link?")
TAILS = ("👍", "🙏", "😅", "🎉", "…", "!", "?", ":)", "", "", "", "")
DETAILS = ("I tried clearing the cache and restarting the service but the error is the same",
           "the logs say connection reset by peer after about thirty seconds",
           "it only happens when more than a hundred clients are connected at once",
           "latency went from twelve milliseconds to almost two hundred after the change",
           "I pushed a fix to the branch, it needs one more approval before it can go in",
           "the café downstairs has the good croissants again, just saying",
           "we agreed to move the retro to Thursday because half the team is out tomorrow",
           "the memory graph climbs slowly all night and drops back after the nightly restart",
           "the customer says the export button does nothing in Firefox but works in Chrome",
           "I will write up the post-mortem tonight and share it in the morning",
           "running the benchmarks again with compression on to compare the numbers",
           "the certificate expires next week so we should rotate it before Friday")
REPLIES = ("ok", "+1", "lol", "yes", "nope", "on it", "thx", "brb", "done", "ty!", "nice",
           "agreed", "same here", "good call", "will do", "merci", "one sec")
ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def pick(rng, items):
    return items[int(rng.random() * len(items))]


def sentence(rng):
    kind = rng.random()
    if kind < 0.35:
        return f"{pick(rng, SUBJECTS)} {pick(rng, VERBS)}"
    if kind < 0.55:
        return pick(rng, QUESTIONS)
    if kind < 0.8:
        return pick(rng, DETAILS)
    return f"{pick(rng, OPENERS)} {pick(rng, SUBJECTS)} {pick(rng, VERBS)}, {pick(rng, QUESTIONS)}"


def message(rng, ts, target):
    """One message whose JSON comes close to target bytes (within the bounds)."""
    record = {"type": "message", "room": pick(rng, ROOMS), "user": pick(rng, USERS),
              "text": "", "ts": ts,
              "id": "".join(pick(rng, ID_CHARS) for _ in range(12))}
    parts = []
    while True:
        first = not parts
        if first and rng.random() < 0.3:
            parts.append(pick(rng, REPLIES))
        else:
            parts.append(sentence(rng))
        record["text"] = " ".join(parts) + pick(rng, TAILS)
        size = len(encode(record))
        if size >= target or size > MAX_BYTES:
            break
    # Words come off the end until it fits.
    while len(encode(record)) > MAX_BYTES:
        record["text"] = record["text"].rsplit(" ", 1)[0]
    return encode(record)


def encode(record):
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def messages(count=1000, seed=7692):
    """count messages as bytes, each MIN_BYTES to MAX_BYTES long."""
    rng = random.Random(seed)
    out = []
    ts = FIRST_TS
    for _ in range(count):
        ts += int(rng.random() * 5000)
        # Most messages are short, a few run long.
        target = MIN_BYTES + int((MAX_BYTES - MIN_BYTES) * rng.random() ** 2.2)
        out.append(message(rng, ts, target))
    return out


def write(path, count=1000, seed=7692):
    with open(path, "wb") as file:
        for line in messages(count, seed):
            file.write(line + b"\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7692)
    args = parser.parse_args()
    write(args.file, args.count, args.seed)


if __name__ == "__main__":
    main()
