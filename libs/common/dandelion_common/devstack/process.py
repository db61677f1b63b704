"""Child processes that cannot outlive their parent.

Each child gets its own session (a terminal's Ctrl-C reaches only the supervisor, which stops
children in order) and a parent-death signal, so even a SIGKILLed supervisor leaves nothing
behind. As root, servers that refuse root (PostgreSQL, OpenSearch) run as `nobody`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import pwd
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

_PR_SET_PDEATHSIG = 1


class DevstackError(RuntimeError):
    """The local stack cannot start; the message says why and what to do."""


def _death_signal(sig: int) -> Callable[[], None]:
    def set_pdeathsig() -> None:
        # Runs in the child after the uid switch (which would clear the setting) and before exec.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return set_pdeathsig


def is_root() -> bool:
    return os.geteuid() == 0


def unprivileged_ids() -> tuple[int, int]:
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


@dataclass(frozen=True)
class RunAs:
    """Popen's user/group/extra_groups: nobody when we are root and must drop privileges."""

    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None

    @classmethod
    def for_server(cls, unprivileged: bool) -> RunAs:
        if not (unprivileged and is_root()):
            return cls()
        uid, gid = unprivileged_ids()
        return cls(uid, gid, [])


def make_traversable(path: Path) -> None:
    """As root, let nobody reach `path`: add only the search bit (o+x, not o+r) to parents.

    A checkout in a 0700 folder (mktemp -d, /root) would otherwise hide the venv's server
    binaries and the data folder from the unprivileged server process.
    """
    if not is_root():
        return
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o001)


def hand_over(path: Path) -> None:
    """As root, give `path` to nobody and make its parents traversable."""
    if not is_root():
        return
    uid, gid = unprivileged_ids()
    for sub in [path, *path.rglob("*")]:
        os.chown(sub, uid, gid, follow_symlinks=False)
    make_traversable(path)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1", *, span: int = 1) -> int:
    """A port p with p..p+span-1 free, below the kernel's ephemeral range.

    Ports the kernel hands out for outgoing connections (the ephemeral range) could be taken
    between this check and the server's bind; ports below that range are only taken by
    explicit binds. Servers that also listen on p+10000 (SeaweedFS) use span and the offset.
    """
    high = _ephemeral_floor() - span - 10_000
    for _ in range(200):
        base = random.randrange(10_000, high)  # noqa: S311 - not security-sensitive
        ports = [base + i for i in range(span)]
        if all(port_is_free(host, p) for p in ports):
            return base
    raise DevstackError("no free local port found below the ephemeral range")


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def answers_ok(url: str) -> bool:
    """True when `url` answers 200 now (readiness polling)."""
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    log: Path | None = None  # None: share the supervisor's stdout/stderr
    unprivileged: bool = False
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 30.0
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        out: IO[bytes] | None = None
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            out = self.log.open("ab")
        run_as = RunAs.for_server(self.unprivileged)
        try:
            self.popen = subprocess.Popen(  # noqa: S603 - argv is built by us, no shell
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
                preexec_fn=_death_signal(self.stop_signal),  # noqa: PLW1509 - see _death_signal
                user=run_as.user,
                group=run_as.group,
                extra_groups=run_as.extra_groups,
            )
        finally:
            if out is not None:
                out.close()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self) -> None:
        if self.running():
            assert self.popen is not None
            self.popen.send_signal(self.stop_signal)

    def wait_stopped(self, timeout: float | None = None) -> None:
        """Wait for the child to exit after `signal()`; SIGKILL its group past the timeout."""
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=self.stop_timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        self.signal()
        self.wait_stopped()

    def log_tail(self, lines: int = 30) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, child: Child | None = None
) -> None:
    """Poll `check` until it is true; fail with the child's log if it died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if child is not None and child.popen is not None and not child.running():
            raise DevstackError(
                f"{child.name} exited with code {child.popen.returncode} before {what}.\n"
                f"{child.log_tail()}"
            )
        time.sleep(0.05)
    tail = child.log_tail() if child else ""
    raise DevstackError(f"timed out after {timeout:.0f}s waiting for {what}.\n{tail}")
