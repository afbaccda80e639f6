"""Helpers of the reliability suite: a real Prefect server process, the `flows` CLI in a subprocess, run folders."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from core.journal import written_pairs

REPO = Path(__file__).resolve().parents[2]
REFERENCE_LIMIT = 6  # problems of the bundled sample in every run compared with the reference run
REFERENCE_AUGMENTERS = "ansaug,rephrase,fobar"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def ctrl_c_reaches_children():
    """Processes started inside get SIGINT as in a terminal's foreground. A shell starts `cmd &` with SIGINT ignored,
    and an ignored signal stays ignored across fork and exec: a suite run as a background job started `flows serve`
    deaf to the Ctrl-C that `stop` sends (measured: it did not exit within 20 s; 0.6 s otherwise). A handler of this
    process's own is reset to the default by exec."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def stop(proc: subprocess.Popen, first: int = signal.SIGINT, grace_s: float = 20) -> None:
    """Stop a process this suite started (in its own session) and everything it started: first nicely, then -9."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, first)
        proc.wait(timeout=grace_s)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


class PrefectServer:
    """`prefect server start` on 127.0.0.1:<free port> with a temporary PREFECT_HOME (its own SQLite database)."""

    def __init__(self, home: Path, startup_s: float = 120) -> None:
        self.home = Path(home)
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.startup_s = startup_s
        self.log_path = self.home / "server.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        common = {
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self.server_env = {**base, **common, "PREFECT_UI_ENABLED": "false"}
        # what every client subprocess gets: this server, never an ephemeral one
        self.env = {**base, **common, "PREFECT_API_URL": self.api_url}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> PrefectServer:
        log = self.log_path.open("w")
        with ctrl_c_reaches_children():  # stop() ends it with a Ctrl-C
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.server_env,
                cwd=self.home,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_s
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"prefect server exited early:\n{self.log_path.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"prefect server did not answer in {self.startup_s}s")
                time.sleep(0.5)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            stop(self.proc, first=signal.SIGTERM)

    def post(self, path: str, body: dict | None = None) -> list | dict:
        response = httpx.post(f"{self.api_url}{path}", json=body or {}, timeout=30)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> list | dict:
        response = httpx.get(f"{self.api_url}{path}", timeout=30)
        response.raise_for_status()
        return response.json()


def flows_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows.cli", *args]


def flows(server: PrefectServer, *args: str, timeout: int = 300):
    """The real `flows` CLI in a subprocess, against the suite's Prefect server."""
    return subprocess.run(flows_cmd(*args), capture_output=True, text=True, timeout=timeout, env=server.env, cwd=REPO)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The CLI's own error lines (Prefect's log lines share stderr)."""
    return [line for line in result.stderr.splitlines() if line.startswith(("error:", "flows"))]


def augment_args(url: str, out: Path, *extra: str, limit: int = REFERENCE_LIMIT, augmenters=REFERENCE_AUGMENTERS):
    """An augment-gsm8k run against a fake server, without the embedding filters (they need minutes here)."""
    return [
        "run", "augment-gsm8k", "--backend", "openai", "--model", "fake", "--base-url", url,
        "--limit", str(limit), "--augmenters", augmenters, "--shard-size", "2", "--concurrency", "2",
        "--no-report", "--no-near-dedup", "--no-decontaminate", "--out", str(out), *extra,
    ]  # fmt: skip


def journal_pairs(out: Path) -> list[tuple[str, str]]:
    """Every complete journal record's (problem, augmenter), in file order (a pair twice would show twice)."""
    return written_pairs(out / "journal")


def most_repeated(items: list) -> int:
    return max(Counter(items).values(), default=0)


def stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())
