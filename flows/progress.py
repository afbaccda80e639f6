"""Progress of long work, shown twice: a bar on the terminal and a Prefect progress artifact."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from tqdm import tqdm


class Progress:
    def __init__(
        self,
        total: int,
        description: str,
        key: str,
        every_s: float = 2.0,
        status: Callable[[], str] | None = None,
    ) -> None:
        """`status()` (e.g. the openai backend's current concurrency per URL) shows beside the bar."""
        self.total, self.done = total, 0
        self.description = description
        self.key = key
        self.every_s = every_s
        self.status = status
        self._last = 0.0
        self._last_status = 0.0
        self._artifact = None
        self._bar = tqdm(total=total, desc=description, file=sys.stderr, unit="item", dynamic_ncols=True)

    async def start(self) -> None:
        self._artifact = await create_progress_artifact.aio(progress=0.0, key=self.key, description=self.description)

    async def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.status is not None and (now - self._last_status >= 0.5 or self.done >= self.total):
            self._last_status = now
            self._bar.set_postfix_str(self.status(), refresh=False)
        self._bar.update(n)
        if self._artifact is not None and (now - self._last >= self.every_s or self.done >= self.total):
            self._last = now
            percent = 100.0 * self.done / max(self.total, 1)
            await update_progress_artifact.aio(artifact_id=self._artifact, progress=percent)

    def close(self) -> None:
        self._bar.close()
