"""Child processes that die with their parent, and process groups supervised as one.

`serve` starts each child (daphne, the django-q2 cluster, the model runtime) as the leader of its
own process group and restarts the cluster (or the runtime) as a whole when its leader dies. On Linux
every process of the tree also gets `PR_SET_PDEATHSIG`, so that even `kill -9` of `serve` (or of the
cluster's leader) leaves no orphan: the kernel kills each process whose parent died, and the tree unwinds from the top.
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

# PostgreSQL keeps this many bytes of a session's application_name.
APPLICATION_NAME_MAX = 63

PR_SET_PDEATHSIG = 1

# Set by `serve` on its children: their own forks (qcluster's sentinel and workers) die with them.
DIE_WITH_PARENT_ENV = "MODELYARD_DIE_WITH_PARENT"


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; elsewhere a no-op).

    Exits at once when the parent is already gone (`parent_pid` is who the caller expects).
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the setting took effect


def die_with_parent_in_forks() -> None:
    """From now on, every process this one forks (and they fork) dies with its parent."""
    parent = {"pid": os.getpid()}

    def remember_parent() -> None:
        parent["pid"] = os.getpid()

    def follow_parent() -> None:
        die_with_parent(parent["pid"])

    os.register_at_fork(before=remember_parent, after_in_child=follow_parent)


def die_with_parent_if_asked() -> None:
    """In a child of `serve` (DIE_WITH_PARENT_ENV is set), make its forks die with their parent."""
    if os.environ.get(DIE_WITH_PARENT_ENV) == "1":
        die_with_parent_in_forks()


class ProcessGroup:
    """A command run as the leader of its own process group; stopped or killed as a whole."""

    def __init__(self, name: str, command: list[str], *, cwd: Path) -> None:
        self.name = name
        self.command = command
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self._killed = False  # once the group is gone its number may be reused: never signal it again

    def start(self) -> None:
        """Start the command in a new session; it and its forks die when this process dies."""
        parent_pid = os.getpid()
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env={**os.environ, DIE_WITH_PARENT_ENV: "1"},
            start_new_session=True,
            preexec_fn=lambda: die_with_parent(parent_pid),
        )
        self.started_at = time.monotonic()
        self._killed = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def exit_code(self) -> int | None:
        """None while the leader runs; its exit code once it has exited."""
        return None if self.process is None else self.process.poll()

    def members(self) -> list[int]:
        """PIDs of the live (not zombie) processes of the group, the leader included."""
        return [] if self.process is None else group_members(self.pid)

    def kill(self, *, timeout: float = 10) -> None:
        """SIGKILL every process of the group and wait until none is left."""
        if self.process is None or self._killed:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.poll()  # reap the leader
        _wait_until(lambda: not self.members(), timeout)
        self._killed = True

    def stop(self, *, grace: float) -> None:
        """SIGTERM the leader (it stops its own children), then kill whatever remains of the group."""
        if self.process is None or self._killed:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        self.kill()


def group_members(pgid: int) -> list[int]:
    """PIDs of the live (not zombie) processes of process group `pgid`, orphans included."""
    pids = []
    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                pids.append(process.pid)
    return pids


class RestartBackoff:
    """Delays between restarts of a crashing child: doubling up to `maximum`, reset after a good run."""

    def __init__(self, *, initial: float = 1.0, maximum: float = 30.0, healthy_after: float = 60.0) -> None:
        self.initial, self.maximum, self.healthy_after = initial, maximum, healthy_after
        self.delay = initial

    def next_delay(self, *, ran_for: float) -> float:
        """The delay before the next start, given how long the last run lasted."""
        if ran_for >= self.healthy_after:
            self.delay = self.initial
        delay = self.delay
        self.delay = min(self.delay * 2, self.maximum)
        return delay


def supervise(
    web: ProcessGroup,
    workers: ProcessGroup | None,
    *,
    stop_requested: Callable[[], bool],
    log: Callable[[str], None],
    backoff: RestartBackoff | None = None,
    others: tuple[ProcessGroup, ...] = (),
) -> int:
    """Keep `web`, `workers` and `others` (the model runtime) running until `stop_requested()`; the
    exit code for `serve`.

    When the leader of `workers` or of one of `others` dies, the rest of its group is killed and the
    group started again after a back-off (each group its own); the web group keeps serving. When the
    web group dies, this returns 1. The caller stops every group afterwards, whatever happened.
    """
    restartable = [group for group in (workers, *others) if group is not None]
    backoffs = {id(group): RestartBackoff() for group in restartable}
    if workers is not None and backoff is not None:
        backoffs[id(workers)] = backoff
    restart_at: dict[int, float] = {}

    def label(group: ProcessGroup) -> str:
        return "worker cluster" if group is workers else group.name

    while not stop_requested():
        if web.exit_code() is not None:
            log(f"web server {describe_exit(web.exit_code())}; stopping everything")
            return 1
        for group in restartable:
            if id(group) not in restart_at and group.exit_code() is not None:
                ran_for = time.monotonic() - group.started_at
                group.kill()  # what is left of the old group (the cluster's sentinel, workers, monitor, pusher)
                delay = backoffs[id(group)].next_delay(ran_for=ran_for)
                log(
                    f"{label(group)} {describe_exit(group.exit_code())} after {ran_for:.0f} s; "
                    f"its processes are stopped, restarting it in {delay:.0f} s"
                )
                restart_at[id(group)] = time.monotonic() + delay
            elif id(group) in restart_at and time.monotonic() >= restart_at[id(group)]:
                group.start()
                del restart_at[id(group)]
                log(f"{label(group)} restarted (pid {group.pid})")
        time.sleep(0.3)
    return 0


def describe_exit(code: int | None) -> str:
    """How a child ended, for the log: "exited with code 1" or "was killed by SIGKILL"."""
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def process_name(pid: int | None = None) -> str:
    """`host:pid` of this process (or of `pid` on this host): how a job's `worker` column and the
    `application_name` of a process's database sessions name it."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def application_name_of(process: str) -> str:
    """The `application_name` that the database sessions of `process` (`host:pid`) carry
    (`core.dbbackend`), so that `pg_stat_activity` tells whose a session is."""
    return f"modelyard {process}"[:APPLICATION_NAME_MAX]


def sibling_pids() -> set[int]:
    """This process and the other live children of its parent: in a django-q2 worker, the cluster
    it belongs to (its sentinel's workers, monitor and pusher)."""
    try:
        children = psutil.Process(os.getppid()).children()
    except psutil.Error:
        return {os.getpid()}
    pids = {os.getpid()}
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE:
                pids.add(child.pid)
    return pids
