"""Run a Python IOC (ours) as a child process on a given CA port."""
import os
import queue
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "ioc_app.py")


class PyIOC:
    def __init__(self, prefix, port, args=(), script=APP, module=None, env=None,
                 ready="CA server on TCP port"):
        self.prefix = prefix
        self.ready = ready      # the log line telling the server is listening
        self.port = port
        self.args = list(args)
        self.script = script
        self.module = module
        self.env = dict(os.environ if env is None else env)
        self.env["EPICS_CA_SERVER_PORT"] = str(port)
        self.env.pop("EPICS_CAS_SERVER_PORT", None)
        self.proc = None
        self.lines = queue.Queue()
        self.log = []

    def start(self, timeout=20.0):
        target = ["-m", self.module] if self.module else [self.script]
        self.proc = subprocess.Popen([sys.executable, "-u"] + target + ["--prefix", self.prefix]
                                     + self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=HERE)
        threading.Thread(target=self._reader, args=(self.proc, self.lines), daemon=True).start()
        self.wait_for(self.ready, timeout)
        return self

    def _reader(self, proc, lines):
        # this process's lines to this queue: after a restart, the old
        # reader's end (None) must not reach the new process's queue
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.log.append(line)
            lines.put(line)
        lines.put(None)

    def wait_for(self, text, timeout=20.0):
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError("%r not seen; log: %s" % (text, self.log[-20:]))
            if line is None:
                raise RuntimeError("IOC exited: %s" % self.log[-20:])
            if text in line:
                return line

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.lines = queue.Queue()
        return self.start()
