"""`python -m bot ...` for the test suite without paying Python's start-up at every run.

The suite starts the bot some two hundred times and runs its command line a hundred more; each
fresh interpreter spends most of a second importing SQLAlchemy, python-telegram-bot, httpx and
the bot itself before it does anything. A fork server imports all that once (per test process)
and forks a child for each run: the child is a real process (its own pid, signals, exit code,
file lock, database connections), made from an interpreter that has imported the bot but has
run none of it, and runs exactly `bot.cli.main(args)` as `python -m bot args` would, with its
own environment, working directory and output files.

Used by the tests (tests/conftest.py turns it on); the benchmarks keep fresh interpreters, so
the start-up figures they print are the real ones. `FLEXUS_TEST_FORK=0` turns it off.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

ENABLED = False  # set by tests/conftest.py

# What `flexus-bot run` and the commands import, loaded once in the server.
PRELOAD = (
    "bot.cli",
    "bot.app",
    "bot.serve",
    "bot.storage.db",
    "aiosqlite",
    "asyncpg",
    "alembic.command",
    "alembic.runtime.migration",
    "alembic.autogenerate",
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "telegram.ext",
    "httpx",
)


# --- the server side (its own process) -----------------------------------------------------------
def serve() -> int:
    """Read one request per line on stdin, fork a child for each, answer its pid; report each
    child's exit as it happens. Ends when stdin closes."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    answers = os.dup(1)
    children: set[int] = set()

    def say(line: str) -> None:
        os.write(answers, (line + "\n").encode())

    def reap(*_: Any) -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            say(f"exit {pid} {os.waitstatus_to_exitcode(status)}")

    signal.signal(signal.SIGCHLD, reap)
    say("ready")
    buffer = b""
    while True:
        chunk = requests.read(65536)
        if not chunk:
            return 0
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            # Held while forking, so a child's exit is never reported before its pid.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            pid = os.fork()
            if pid == 0:
                os.close(answers)
                requests.close()
                return _child(request)
            children.add(pid)
            say(f"pid {pid}")
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})


def _child(request: dict[str, Any]) -> int:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # a fresh interpreter would read TZ at start
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    if request["stderr"] is None:
        os.dup2(out, 2)
    else:
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(err, 2)
        os.close(err)
    os.close(out)
    # Fresh text streams on the new descriptors, written through as PYTHONUNBUFFERED would.
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)
    sys.argv = [os.path.join(os.path.dirname(sys.executable), "flexus-bot"), *request["args"]]
    from bot.cli import main

    try:
        return main(request["args"])
    except SystemExit as stop:
        code = stop.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1


# --- the test side -------------------------------------------------------------------------------
class _Server:
    """One fork server per test process, started at the first run."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, tests.support.forkserver as f; sys.exit(f.serve())",
            ],
            cwd=Path(__file__).resolve().parents[2],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._out: IO[bytes] = self.process.stdin
        self._lock = threading.Lock()  # one fork request at a time
        self._cond = threading.Condition()
        self._pids: list[int] = []
        self.exits: dict[int, int] = {}
        self._ready = threading.Event()
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        if not self._ready.wait(60):
            raise RuntimeError("the fork server did not start")

    def close(self) -> None:
        """The server ends when its input closes (the children it forked live on)."""
        self._out.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            word, *rest = raw.decode().split() or [""]
            with self._cond:
                if word == "ready":
                    self._ready.set()
                elif word == "pid":
                    pid = int(rest[0])
                    self.exits.pop(pid, None)  # a reused pid: the earlier child's code is old
                    self._pids.append(pid)
                elif word == "exit":
                    self.exits[int(rest[0])] = int(rest[1])
                self._cond.notify_all()
        with self._cond:  # the server is gone: nobody will report an exit any more
            self._cond.notify_all()

    def spawn(self, request: dict[str, Any]) -> int:
        with self._lock:
            with self._cond:
                self._pids.clear()
            self._out.write(json.dumps(request).encode() + b"\n")
            self._out.flush()
            with self._cond:
                if not self._cond.wait_for(lambda: self._pids, timeout=30):
                    raise RuntimeError("the fork server did not fork")
                return self._pids.pop()

    def wait_exit(self, pid: int, timeout: float | None) -> int | None:
        with self._cond:
            self._cond.wait_for(
                lambda: pid in self.exits or self.process.poll() is not None, timeout=timeout
            )
            if pid not in self.exits and self.process.poll() is not None:
                raise RuntimeError(f"the fork server ended before child {pid} did")
            return self.exits.get(pid)


_server: _Server | None = None
_server_lock = threading.Lock()


def _the_server() -> _Server:
    global _server
    with _server_lock:
        if _server is None or _server.process.poll() is not None:
            _server = _Server()
            atexit.register(_server.close)
        return _server


class ForkedProcess:
    """What the tests use of subprocess.Popen, for a child of the fork server."""

    def __init__(self, server: _Server, pid: int, args: Sequence[str]) -> None:
        self._server, self.pid, self.args = server, pid, list(args)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.exits.get(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            code = self._server.wait_exit(self.pid, timeout)
            if code is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            self.returncode = code
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def popen(
    args: Sequence[str],
    *,
    cwd: Path | str,
    env: Mapping[str, str],
    stdout: Path | str,
    stderr: Path | str | None = None,
) -> ForkedProcess | subprocess.Popen[bytes]:
    """`python -m bot ARGS` in `cwd` with exactly `env`, its output appended to `stdout` (and
    `stderr`, or the same file)."""
    if not ENABLED:
        with open(stdout, "ab") as out, open(stderr or os.devnull, "ab") as err:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", *args],
                cwd=cwd,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT if stderr is None else err,
            )
    for path in (stdout, stderr):
        if path is not None:  # there from the start, as with Popen(stdout=open(path, "ab"))
            Path(path).touch(mode=0o600)
    server = _the_server()
    request = {
        "args": list(args),
        "cwd": str(cwd),
        "env": dict(env),
        "stdout": str(stdout),
        "stderr": None if stderr is None else str(stderr),
    }
    return ForkedProcess(server, server.spawn(request), args)


def run(
    args: Sequence[str], *, cwd: Path | str, env: Mapping[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to its end, its output captured (as subprocess.run(text=True))."""
    done = run_bytes(args, cwd=cwd, env=env, timeout=timeout)
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


def run_bytes(
    args: Sequence[str], *, cwd: Path | str, env: Mapping[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[bytes]:
    """`python -m bot ARGS` to its end, its output captured as bytes."""
    if not ENABLED:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            timeout=timeout,
        )
    with tempfile.TemporaryDirectory(prefix="flexus-run-") as scratch:
        out, err = Path(scratch, "out"), Path(scratch, "err")
        process = popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            raise
        return subprocess.CompletedProcess(
            [sys.executable, "-m", "bot", *args],
            code,
            out.read_bytes() if out.exists() else b"",
            err.read_bytes() if err.exists() else b"",
        )
