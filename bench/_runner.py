"""Running one worker process, or a flood with several, and recording failures.

A result is the worker's JSON object, or ``{"error": first line, "detail":
tail, "timeout": bool}`` for a run that failed; ``timeout`` says the process
or the worker itself gave up waiting (a peer that never answered), so the
tables can print "timeout" rather than "failed".
"""
import json
import re

import _servers

__all__ = ["Runner", "error_result", "last_json"]

_TIMEOUT_TEXT = re.compile(r"time[d ]?out", re.IGNORECASE)


class Runner:
    """Starts workers with one environment and working directory.

    ``timeout`` is the default limit for a worker process (seconds).
    """

    def __init__(self, env, workdir, quick, max_rss_mb):
        self.env = env
        self.workdir = workdir
        self.quick = quick
        self.max_rss_mb = max_rss_mb
        self.timeout = 90 if quick else 300
        self.base = 0

    def next_base(self):
        """A fresh value range per flood, above anything posted before."""
        self.base += 10000000
        return self.base

    @staticmethod
    def _args(impl, workload, params):
        return impl.command + [workload] + ["%s=%s" % kv for kv in sorted(params.items())]

    def run(self, impl, workload, params, timeout=None):
        """Run a worker to completion; return its JSON result."""
        proc = _servers.Proc("%s %s" % (impl.label, workload),
                             self._args(impl, workload, params), self.env, cwd=self.workdir)
        try:
            return last_json(proc.finish(timeout or self.timeout, self.max_rss_mb))
        finally:
            proc.stop()

    def flood(self, impls, workload, params, start_flood, wait_done=None, timeout=None):
        """Start clients, wait for READY from each, flood, collect results.

        Returns ``(results, start_flood's value, wait_done's value)``.  Once
        the flood was started, ``wait_done`` is called even if a client
        failed, so the server's "done" line cannot be taken for a later
        flood's.
        """
        timeout = timeout or self.timeout
        base = self.next_base()
        params = dict(params, base=base)
        clients = []
        started = False
        try:
            for i, impl in enumerate(impls):
                clients.append(_servers.Proc("%s %s #%d" % (impl.label, workload, i),
                                             self._args(impl, workload, params), self.env,
                                             cwd=self.workdir))
            for c in clients:
                c.wait_line("READY", timeout)
            before = start_flood(base, params["n"])
            started = True
            results = [last_json(c.finish(timeout, self.max_rss_mb)) for c in clients]
            started = False
            after = wait_done() if wait_done else None
            return results, before, after
        finally:
            for c in clients:
                c.stop()
            if started and wait_done:
                try:
                    wait_done()
                except Exception:   # the client's failure is the one reported
                    pass


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise _servers.ProcError("no JSON result in output: %r" % text[-300:])


def error_result(exc):
    """The result recorded for a failed run."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    timeout = isinstance(exc, _servers.ProcTimeout) or bool(_TIMEOUT_TEXT.search(first))
    return {"error": first, "detail": text[-2000:], "timeout": timeout}
