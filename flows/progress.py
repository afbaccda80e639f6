"""Progress of long work, shown twice: a bar on the terminal and a Prefect progress artifact.

The artifact is created and updated in background tasks of the event loop: a round trip to the Prefect server
(0.04-0.15 s measured here) never holds the work it reports on (before, the run waited for the artifact's creation
before its first request, and the pair that made an update waited for it while holding its in-flight place).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable

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
        self._sending: asyncio.Task | None = None  # the artifact call in flight, if any
        self._sent_percent = -1.0
        self._bar = tqdm(total=total, desc=description, file=sys.stderr, unit="item", dynamic_ncols=True)

    async def start(self) -> None:
        """Create the artifact in the background; the work starts at once."""
        self._sending = asyncio.ensure_future(self._call(self._create()))

    async def _create(self) -> None:
        self._artifact = await create_progress_artifact.aio(progress=0.0, key=self.key, description=self.description)
        await self._update()  # what was done while it was being created

    async def _update(self) -> None:
        percent = 100.0 * self.done / max(self.total, 1)
        if self._artifact is not None and percent != self._sent_percent:
            self._sent_percent = percent
            await update_progress_artifact.aio(artifact_id=self._artifact, progress=percent)

    @staticmethod
    async def _call(call: Awaitable[None]) -> None:
        try:
            await call
        except Exception as exc:  # noqa: BLE001 - the artifact only shows progress; the work goes on without it
            logging.getLogger(__name__).warning("progress artifact not updated: %s", exc)

    async def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.status is not None and (now - self._last_status >= 0.5 or self.done >= self.total):
            self._last_status = now
            self._bar.set_postfix_str(self.status(), refresh=False)
        self._bar.update(n)
        finished = self.done >= self.total
        if (now - self._last >= self.every_s or finished) and (self._sending is None or self._sending.done()):
            self._last = now
            self._sending = asyncio.ensure_future(self._call(self._update()))
        if finished and self._sending is not None:
            await asyncio.shield(self._sending)  # the last item: let the artifact reach 100 % before the run goes on
            await self._call(self._update())

    def close(self) -> None:
        self._bar.close()
