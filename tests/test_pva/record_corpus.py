"""Regenerate the golden pvAccess traffic corpus in tests/test_pva/fixtures/.

Usage (from the repository root)::

    .venv/bin/python tests/test_pva/record_corpus.py            # all scenarios
    .venv/bin/python tests/test_pva/record_corpus.py get rpc    # some of them

Each scenario runs a p4p server and client (or the scripted raw client)
through the recording relays of ``recorder.py`` on 127.0.0.1 with ports
chosen at run time, and is written to ``fixtures/<scenario>.jsonl``: one
JSON metadata line, then one line per recorded TCP chunk or UDP datagram.
See fixtures/README.md.
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")

if HERE not in sys.path:
    sys.path.insert(0, HERE)

import recorder  # noqa: E402


def main(argv) -> int:
    names = argv or list(recorder.SCENARIOS)
    unknown = [n for n in names if n not in recorder.SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; "
              f"known: {', '.join(recorder.SCENARIOS)}", file=sys.stderr)
        return 2
    os.makedirs(FIXTURES, exist_ok=True)
    print("versions:", recorder.versions())
    total = 0
    for name in names:
        rec = recorder.record_scenario(name)
        path = os.path.join(FIXTURES, f"{name}.jsonl")
        recorder.save_recording(rec, path)
        size = os.path.getsize(path)
        total += size
        print(f"{name:16s} {len(rec.events):4d} events {size:8d} bytes -> {path}")
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
