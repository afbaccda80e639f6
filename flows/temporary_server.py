"""Prefect's temporary server ends with the command that started it, however the command ends.

Without PREFECT_API_URL, a flow run starts Prefect's temporary server: a uvicorn subprocess that Prefect stops at
the interpreter's exit. A command killed outright (kill -9, the kernel's OOM killer, a pre-empted node) runs no exit
code, so that server served on, orphaned, holding its memory and port, one more after every such kill (measured: the
test suite's kill -9 test left one behind per run). Here a thread watches for the server Prefect starts (only when it
starts one: a bad option still fails before any server) and hands its pid to a watchdog process that holds the read
end of a pipe only this process can write to: when this process ends, by any means, the pipe closes and the
watchdog stops the server, after checking that the pid still names that server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

# The watchdog: blocks until the pipe's other end closes, then terminates the server if the pid is still it.
_WATCHDOG = """
import os, signal, subprocess, sys
fd, pid = int(sys.argv[1]), int(sys.argv[2])
while os.read(fd, 1):
    pass
try:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        command = f.read().decode(errors="replace")
except OSError:
    command = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True).stdout
if "uvicorn" in command and "server:create_app" in command:  # Prefect's server (its module, then the factory)
    os.kill(pid, signal.SIGTERM)
"""
_held: list[int] = []  # the pipes' write ends, open for the life of this process


def uses_temporary_server() -> bool:
    """Whether a flow run in this process would start Prefect's temporary server (no PREFECT_API_URL)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


def watch(pid: int) -> subprocess.Popen:
    """Start a watchdog that terminates process `pid` (if it is still a Prefect server) once this process ends."""
    read_end, write_end = os.pipe()  # both not inherited by other children; the watchdog gets the read end only
    try:
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(read_end), str(pid)],
            pass_fds=(read_end,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the terminal's process group does not end it first
        )
    finally:
        os.close(read_end)
    _held.append(write_end)
    return watchdog


def server_processes() -> list[subprocess.Popen]:
    """The temporary servers' processes Prefect started in this process, read from its registry without importing
    it (nothing when no flow started one)."""
    module = sys.modules.get("prefect.server.api.server")
    instances = getattr(getattr(module, "SubprocessASGIServer", None), "_instances", None) or {}
    processes = (getattr(server, "server_process", None) for server in list(instances.values()))
    return [process for process in processes if process is not None]


def guard_when_started(poll_s: float = 0.1) -> threading.Thread | None:
    """When the run would use Prefect's temporary server: a daemon thread that, once Prefect has started it, has it
    stopped when this process ends (`watch`)."""
    if not uses_temporary_server():
        return None

    def wait_and_watch() -> None:
        while not (started := server_processes()):
            time.sleep(poll_s)
        watch(started[0].pid)

    thread = threading.Thread(target=wait_and_watch, name="mathaug-server-guard", daemon=True)
    thread.start()
    return thread
