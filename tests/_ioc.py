"""Helpers to run test servers (a soft IOC, the CA repeater) as child processes.

The IOC is ``python -m epicscorelibs.ioc``: after ``iocInit`` it prints
``IOC Running`` on stderr and then runs an interactive Python console on
stdin, where ``ioc("<iocsh command>")`` runs an IOC shell command.  ``IOC.run``
writes such a command followed by a marker ``print`` and waits for the marker,
so commands are synchronous from the test's point of view.
"""
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
IOC_DIR = os.path.join(HERE, "ioc")
TEST_DB = os.path.join(IOC_DIR, "test.db")
TEST_ACF = os.path.join(IOC_DIR, "test.acf")


class ServerError(RuntimeError):
    pass


def _port_free(port, host="127.0.0.1"):
    """True if ``port`` can be bound on ``host`` for both TCP and UDP."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    # Also the wildcard address: the repeater and RSRV's UDP sockets may bind it.
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_free_ports(n, exclude=()):
    """Return ``n`` distinct port numbers each free for TCP and UDP on 127.0.0.1."""
    ports = []
    taken = set(exclude)
    for _ in range(1000):
        if len(ports) == n:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port in taken or port in ports:
            continue
        if _port_free(port):
            ports.append(port)
    if len(ports) != n:
        raise ServerError("could not find %d free TCP+UDP ports" % n)
    return ports


def _die_with_parent():
    """In the child before exec: get SIGTERM when the test process dies (Linux),
    so that a killed pytest leaves no servers behind."""
    import ctypes
    import signal
    try:
        libc = ctypes.CDLL(None)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:
        pass


class _Proc:
    """A child process whose stdout/stderr lines are read by threads into queues."""

    def __init__(self, name):
        self.name = name
        self.proc = None
        self.out_q = queue.Queue()
        self.err_q = queue.Queue()
        self.out_lines = []
        self.err_lines = []
        self._lock = threading.Lock()
        self._threads = []

    def _spawn(self, args, env, stdin=subprocess.PIPE):
        self.proc = subprocess.Popen(
            args,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=HERE,
            bufsize=0,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        for stream, q, lines in (
            (self.proc.stdout, self.out_q, self.out_lines),
            (self.proc.stderr, self.err_q, self.err_lines),
        ):
            t = threading.Thread(
                target=self._reader, args=(stream, q, lines), daemon=True,
                name="%s-reader" % self.name,
            )
            t.start()
            self._threads.append(t)

    def _reader(self, stream, q, lines):
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace")
                with self._lock:
                    lines.append(line)
                q.put(line)
        except (OSError, ValueError):
            pass
        finally:
            q.put(None)  # EOF

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        with self._lock:
            return "--- stdout ---\n%s--- stderr ---\n%s" % (
                "".join(self.out_lines), "".join(self.err_lines))

    def _wait_line(self, q, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerError("%s: timed out after %.1f s waiting for %s\n%s"
                                  % (self.name, timeout, what, self.output()))
            try:
                line = q.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                # EOF: the process is gone (or closed the stream).
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                raise ServerError("%s: stream closed (exit code %r) while waiting for %s\n%s"
                                  % (self.name, self.proc.poll(), what, self.output()))
            if predicate(line):
                return line

    def stop(self, timeout=10.0):
        """Terminate the process by PID, kill it after ``timeout`` s."""
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.terminate()
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=timeout)
        for f in (p.stdin, p.stdout, p.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        for t in self._threads:
            t.join(timeout=5)
        return p.returncode


_AS_LAUNCHER = (
    "import sys\n"
    "from epicscorelibs import ioc as _m\n"
    "acf = sys.argv.pop(1)\n"
    "if _m.dbCore.asSetFilename(acf.encode()):\n"
    "    raise SystemExit('asSetFilename(%r) failed' % acf)\n"
    "sys.argv[0] = 'epicscorelibs.ioc'\n"
    "_m.main()\n"
)


class IOC(_Proc):
    """A soft IOC (``python -m epicscorelibs.ioc``) in a child process.

    ``env`` is the environment to run it with (default: ``os.environ``);
    ``ca_port`` overrides the CA server port (``EPICS_CA_SERVER_PORT``);
    ``macros`` are passed to ``dbLoadRecords``; ``acf`` is an access security
    file installed after ``iocInit`` with ``asSetFilename`` and ``asInit``.
    """

    def __init__(self, dbfile=TEST_DB, macros="", env=None, ca_port=None, acf=None,
                 name="ioc", start_timeout=30.0):
        super().__init__(name)
        self.dbfile = dbfile
        self.macros = macros
        self.env = dict(os.environ if env is None else env)
        if ca_port is not None:
            self.env["EPICS_CA_SERVER_PORT"] = str(ca_port)
            self.env.pop("EPICS_CAS_SERVER_PORT", None)
        self.ca_port = int(self.env.get("EPICS_CA_SERVER_PORT", 5064))
        self.acf = acf
        self.start_timeout = start_timeout
        self._marker = 0
        self._run_lock = threading.Lock()

    def start(self):
        if self.acf is None:
            args = [sys.executable, "-u", "-m", "epicscorelibs.ioc"]
        else:
            # Access security must be configured before iocInit (asInit after
            # iocInit only re-reads a file given earlier): set the file, then
            # run epicscorelibs.ioc's main() as ``-m epicscorelibs.ioc`` would.
            args = [sys.executable, "-u", "-c", _AS_LAUNCHER, self.acf]
        if self.macros:
            args += ["-m", self.macros]
        args += ["-d", self.dbfile]
        self._spawn(args, self.env)
        try:
            self._wait_line(self.err_q, lambda line: "IOC Running" in line,
                            self.start_timeout, "'IOC Running'")
            # C stdio of the IOC writes into a pipe (fully buffered): flush it
            # after each command so its output precedes our marker.
            self.py("import ctypes as __ct; __libc = __ct.CDLL(None)")
            if self.acf is not None:
                # Re-initialising access security at run time must work too.
                rc, out = self.run("asInit")
                if rc != 0:
                    raise ServerError("%s: asInit failed (%r)\n%s" % (self.name, rc, self.output()))
        except BaseException:
            self.stop()
            raise
        return self

    def py(self, statement, timeout=20.0):
        """Run one line of Python in the IOC console; return (repr of ``__r``, stdout text).

        ``statement`` must be a single simple statement; it may assign ``__r``
        to return a value.
        """
        if not self.alive():
            raise ServerError("%s is not running\n%s" % (self.name, self.output()))
        with self._run_lock:
            self._marker += 1
            mark = "__mark_%d__" % self._marker
            # Drain what is left over from earlier commands.
            while True:
                try:
                    self.out_q.get_nowait()
                except queue.Empty:
                    break
            text = "__r = None\n%s\n" % statement
            text += "__fl = __libc.fflush(None) if '__libc' in globals() else None\n"
            text += "print(%r, repr(__r), flush=True)\n" % mark
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
            collected = []

            def pred(line):
                collected.append(line)
                return mark in line

            line = self._wait_line(self.out_q, pred, timeout,
                                   "marker %s after %r" % (mark, statement))
            result = line.split(mark, 1)[1].strip()
            out = "".join(collected[:-1])
            out = out.replace(">>> ", "").replace("... ", "")
            return result, out

    def run(self, cmd, timeout=20.0):
        """Run an IOC shell command; return (iocsh status, stdout text)."""
        result, out = self.py("__r = ioc(%r)" % cmd, timeout=timeout)
        try:
            rc = int(result)
        except ValueError:
            raise ServerError("%s: command %r gave %r\n%s" % (self.name, cmd, result, self.output()))
        return rc, out

    def dbpf(self, pv, value):
        """Put ``value`` (a string as typed in the IOC shell) into ``pv`` with dbpf."""
        if isinstance(value, str):
            value = '"%s"' % value.replace('"', '\\"')
        rc, out = self.run("dbpf %s %s" % (pv, value))
        if rc != 0 or "failed" in out.lower() or "error" in out.lower():
            raise ServerError("%s: dbpf %s %r failed: rc=%r\n%s" % (self.name, pv, value, rc, out))
        return out

    def dbpf_array(self, pv, values):
        """Put a list into an array field with ``dbpf PV '[...]'`` (JSON)."""
        import json
        text = json.dumps(list(values))
        rc, out = self.run("dbpf %s '%s'" % (pv, text))
        if rc != 0:
            raise ServerError("%s: dbpf %s %s failed: rc=%r\n%s" % (self.name, pv, text, rc, out))
        return out

    def dbgf(self, pv):
        """Return the text ``dbgf`` prints for ``pv``."""
        rc, out = self.run("dbgf %s" % pv)
        return out


# --------------------------------------------------------------------------- #
# CA repeater

CA_PROTO_REPEATER_CONFIRM = 17
CA_PROTO_REPEATER_REGISTER = 24


def repeater_registered(port, timeout=10.0, proc=None):
    """Register with the CA repeater on ``port``; True once it confirms.

    Sends CA_PROTO_REPEATER_REGISTER datagrams until CA_PROTO_REPEATER_CONFIRM
    comes back (or ``timeout`` expires, or ``proc`` exits).
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        addr = struct.unpack("!I", socket.inet_aton("127.0.0.1"))[0]
        msg = struct.pack("!HHHHII", CA_PROTO_REPEATER_REGISTER, 0, 0, 0, 0, addr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return False
            s.sendto(msg, ("127.0.0.1", port))
            s.settimeout(0.2)
            try:
                while True:
                    data, _ = s.recvfrom(4096)
                    if len(data) >= 16:
                        cmd = struct.unpack("!H", data[:2])[0]
                        if cmd == CA_PROTO_REPEATER_CONFIRM:
                            return True
            except socket.timeout:
                continue
        return False
    finally:
        s.close()


class Repeater(_Proc):
    """The ``caRepeater`` console script on the repeater port of ``env``."""

    def __init__(self, script, env, name="caRepeater"):
        super().__init__(name)
        self.script = script
        self.env = dict(env)
        self.port = int(self.env["EPICS_CA_REPEATER_PORT"])

    def start(self, timeout=20.0):
        # -v: keep its output in our pipes, for the error report below.
        self._spawn([self.script, "-v"], self.env, stdin=subprocess.DEVNULL)
        if not repeater_registered(self.port, timeout=timeout, proc=self.proc):
            out = self.output
            self.stop()
            raise ServerError("caRepeater (%s) did not confirm registration on port %d "
                              "(exit code %r)\n%s"
                              % (self.script, self.port, self.proc.returncode, out()))
        return self


# --------------------------------------------------------------------------- #
# Small test helpers

def wait_for(predicate, timeout=5.0, what="condition", interval=0.01):
    """Poll ``predicate`` until true; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Collector:
    """A callback that records its arguments and lets tests wait for them."""

    def __init__(self, name="callback"):
        self.name = name
        self.calls = []
        self.threads = []
        self._cond = threading.Condition()

    def __call__(self, arg):
        with self._cond:
            self.calls.append(arg)
            self.threads.append(threading.current_thread())
            self._cond.notify_all()

    def wait(self, n=1, timeout=5.0, predicate=None):
        """Wait until ``n`` calls (matching ``predicate`` if given) arrived; return them."""
        def matching():
            if predicate is None:
                return list(self.calls)
            return [c for c in self.calls if predicate(c)]

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = matching()
                if len(got) >= n:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("%s: %d of %d calls after %.1f s: %r"
                                         % (self.name, len(got), n, timeout, self.calls[-5:]))
                self._cond.wait(remaining)

    @property
    def n(self):
        """Number of calls so far.  (No ``__len__``: a callback must work even
        if it is falsy; test_ca_channel checks that separately.)"""
        with self._cond:
            return len(self.calls)

    @property
    def last(self):
        with self._cond:
            return self.calls[-1]

    def clear(self):
        with self._cond:
            del self.calls[:]
            del self.threads[:]


def run_in_thread(fn, timeout=30.0, name="test-thread"):
    """Run ``fn()`` in a new thread; re-raise its exception; return its result."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: B902 - re-raised in the caller
            result["error"] = exc

    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise AssertionError("thread %s did not finish within %.1f s" % (name, timeout))
    if "error" in result:
        raise result["error"]
    return result.get("value")


def run_python(code, timeout=60.0, env=None):
    """Run ``code`` in a fresh interpreter; return (returncode, stdout, stderr).

    A crash (segfault, abort) shows as a negative return code instead of
    taking pytest down with it.
    """
    proc = subprocess.run(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dict(os.environ if env is None else env),
        cwd=HERE, timeout=timeout,
    )
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), \
        proc.stderr.decode("utf-8", "replace")


# --------------------------------------------------------------------------- #
# Channel Access shorthands (import caffi lazily: the servers above do not need it)

def ca_get(chid, timeout=5.0, **kwargs):
    """``ca.get`` without callback + ``pend_io``; return the value."""
    from caffi import ca
    status, dbrvalue = ca.get(chid, **kwargs)
    assert status == ca.ECA.NORMAL, status
    assert dbrvalue is not None
    assert ca.pend_io(timeout) == ca.ECA.NORMAL
    return dbrvalue.get()


def ca_get_cb(chid, timeout=5.0, **kwargs):
    """``ca.get`` with callback; wait for it and return the callback's dict."""
    from caffi import ca
    cb = Collector("get callback")
    status, dbrvalue = ca.get(chid, callback=cb, **kwargs)
    assert status == ca.ECA.NORMAL, status
    assert dbrvalue is None
    assert ca.flush_io() == ca.ECA.NORMAL
    (arg,) = cb.wait(1, timeout)
    return arg


def ca_put(chid, value, timeout=5.0, **kwargs):
    """``ca.put`` with callback; wait for completion and return the callback's dict."""
    from caffi import ca
    cb = Collector("put callback")
    status = ca.put(chid, value, callback=cb, **kwargs)
    assert status == ca.ECA.NORMAL, status
    assert ca.flush_io() == ca.ECA.NORMAL
    (arg,) = cb.wait(1, timeout)
    return arg
