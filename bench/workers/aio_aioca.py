"""The asyncio CA workloads (_aio.py) through aioca (its own venv)."""
import sys

from _aio import run_main

if __name__ == "__main__":
    sys.exit(run_main("aioca"))
