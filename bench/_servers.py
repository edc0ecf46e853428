"""Child processes for the benchmark: isolated ports, the soft IOC, caRepeater.

Every process is started through :class:`Proc`, which reads its stdout/stderr
lines on threads, and stopped by PID (terminate, then kill) by the caller's
``finally``.  Ports are picked free at run time and bound to loopback only.
"""
import os
import queue
import socket
import subprocess
import threading
import time

__all__ = ["Proc", "ProcError", "ProcTimeout", "pick_ports", "epics_env", "write_ioc_db",
           "start_ioc", "start_repeater", "cpu_seconds", "rss_kb"]


class ProcError(RuntimeError):
    """A child process failed, timed out or closed its output early."""


class ProcTimeout(ProcError):
    """A child process did not finish, or print what was awaited, in time."""


def _free_for_both(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        for host in ("127.0.0.1", ""):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind((host, port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def pick_ports(count):
    """Return ``count`` distinct ports free for TCP and UDP right now."""
    ports = []
    while len(ports) < count:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in ports and _free_for_both(port):
            ports.append(port)
    return ports


def epics_env(base=None):
    """An environment with CA and PVA confined to loopback on fresh ports."""
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if name.startswith("EPICS_") or name in ("PYTHONPATH", "PYTHONHOME"):
            del env[name]
    ca, rep, pva, pva_bcast = pick_ports(4)
    env.update({
        "EPICS_CA_SERVER_PORT": str(ca),
        "EPICS_CA_REPEATER_PORT": str(rep),
        "EPICS_CA_ADDR_LIST": "127.0.0.1",
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_MAX_ARRAY_BYTES": "100000000",
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVA_SERVER_PORT": str(pva),
        "EPICS_PVAS_SERVER_PORT": str(pva),
        "EPICS_PVA_BROADCAST_PORT": str(pva_bcast),
        "EPICS_PVAS_BROADCAST_PORT": str(pva_bcast),
        "EPICS_PVA_ADDR_LIST": "127.0.0.1",
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVA_MAX_ARRAY_BYTES": "100000000",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


class Proc:
    """A child process whose output lines are collected by reader threads."""

    def __init__(self, name, args, env, cwd=None, stdin=subprocess.PIPE):
        self.name = name
        self.args = list(args)
        self.out_q = queue.Queue()
        self.err_q = queue.Queue()
        self.out_lines = []
        self.err_lines = []
        self.proc = subprocess.Popen(self.args, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd, bufsize=0)
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out_q,
                                                      self.out_lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err_q,
                                                      self.err_lines), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, q, lines):
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                q.put(line)
        except (OSError, ValueError):
            pass
        finally:
            q.put(None)

    @property
    def pid(self):
        return self.proc.pid

    def tail(self, lines=15):
        return "".join(self.err_lines[-lines:]) + "".join(self.out_lines[-lines:])

    def wait_line(self, text, timeout, stream="out"):
        """Wait for a line containing ``text``; return it."""
        q = self.out_q if stream == "out" else self.err_q
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProcTimeout("%s: no %r within %.0f s\n%s"
                                % (self.name, text, timeout, self.tail()))
            try:
                line = q.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=10)
                last = [x.strip() for x in self.err_lines if x.strip()][-1:]
                raise ProcError("%s exited (%s) before %r%s\n%s"
                                % (self.name, self.proc.returncode, text,
                                   ": " + last[0] if last else "", self.tail()))
            if text in line:
                return line

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def finish(self, timeout, max_rss_mb=None):
        """Wait for exit; return stdout text.  Raise ProcError on failure.

        With ``max_rss_mb`` the process is killed once its RSS exceeds it (a
        client that buffers a flood without bound must not take the machine).
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.proc.wait(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise ProcTimeout("%s: timed out after %.0f s\n%s"
                                % (self.name, timeout, self.tail()))
            if max_rss_mb is not None:
                try:
                    rss = rss_kb(self.proc.pid) / 1024
                except OSError:
                    continue
                if rss > max_rss_mb:
                    self.stop()
                    raise ProcError("%s: killed, RSS %.0f MB over the %d MB limit"
                                    % (self.name, rss, max_rss_mb))
        for t in self._threads:
            t.join(timeout=5)
        if self.proc.returncode != 0:
            last = [line.strip() for line in self.err_lines if line.strip()][-1:]
            raise ProcError("%s: exit code %s%s\n%s" % (
                self.name, self.proc.returncode, ": " + last[0] if last else "", self.tail()))
        return "".join(self.out_lines)

    def stop(self, timeout=5.0):
        """Terminate by PID, kill after ``timeout`` s; close the pipes."""
        p = self.proc
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        for f in (p.stdin, p.stdout, p.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        for t in self._threads:
            t.join(timeout=2)


def write_ioc_db(path, prefix, nchan, wf_elements):
    """Write the benchmark database: ai records, a waveform, put/flood records."""
    parts = []
    for i in range(nchan):
        parts.append('record(ai, "%sai%d") {\n  field(VAL, "%d")\n  field(EGU, "mm")\n'
                     '  field(PREC, "3")\n  field(HOPR, "100")\n  field(LOPR, "-100")\n}\n'
                     % (prefix, i, i))
    parts.append('record(waveform, "%swf") {\n  field(FTVL, "DOUBLE")\n  field(NELM, "%d")\n}\n'
                 % (prefix, wf_elements))
    parts.append('record(ao, "%sput") {\n  field(PREC, "3")\n}\n' % prefix)
    parts.append('record(ao, "%sflood") {\n  field(MDEL, "-1")\n  field(PREC, "3")\n}\n'
                 % prefix)
    with open(path, "w") as f:
        f.write("".join(parts))


def start_ioc(python, db, env, cwd):
    """Start the epicscorelibs soft IOC; return it once 'IOC Running' appeared."""
    ioc = Proc("soft IOC", [python, "-m", "epicscorelibs.ioc", "-d", db], env, cwd=cwd)
    try:
        ioc.wait_line("IOC Running", timeout=60, stream="err")
    except BaseException:
        ioc.stop()
        raise
    return ioc


def start_repeater(script, env, cwd):
    """Start caRepeater on EPICS_CA_REPEATER_PORT; wait until the port is bound."""
    rep = Proc("caRepeater", [script], env, cwd=cwd)
    port = int(env["EPICS_CA_REPEATER_PORT"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if rep.proc.poll() is not None:
            rep.stop()
            raise ProcError("caRepeater exited early\n" + rep.tail())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return rep          # bound by the repeater
        finally:
            s.close()
        time.sleep(0.02)
    rep.stop()
    raise ProcError("caRepeater did not bind port %d" % port)


def cpu_seconds(pid):
    """CPU seconds of a process, all its threads.

    The sum of the live threads' ``schedstat`` run times (nanoseconds; the
    server's threads live as long as it does), else user+system from
    ``/proc/<pid>/stat`` (10 ms ticks).
    """
    total = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
        for tid in tasks:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_kb(pid):
    """Resident set size of a process in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1
