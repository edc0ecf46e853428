"""The asyncio CA workloads (_aio.py) through caffi.aio."""
import sys

from _aio import run_main

if __name__ == "__main__":
    sys.exit(run_main("caffi.aio"))
