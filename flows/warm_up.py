"""Loading what the stages after generation need while a remote server generates, so the run does not wait for it.

After its last reply, `augment-gsm8k` writes `dataset/` with `datasets` (1.5-2.5 s of imports on a 2-core
machine) and, with near-dedup or decontamination on (the defaults), embeds with MiniLM (torch,
sentence-transformers and the model: several seconds more). Against an openai server the client mostly waits
during generation, so those loads run in a background thread that starts once the first pair is done: never
before the first request, and never beside an in-process model that needs the CPU itself. The flow waits for
the thread only where it needs what it loads.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable

from flows.progress import Progress


class WarmUp:
    """Runs `loads` in order in one daemon thread; a load that fails is left to the stage that needs it, which
    loads it again itself and reports its own error."""

    def __init__(self, loads: list[Callable[[], object]]) -> None:
        self.loads = loads
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        for load in self.loads:
            try:
                load()
            except Exception:  # noqa: BLE001 - see the class docstring
                pass

    def start(self) -> None:
        if self._thread is None and self.loads:
            self._thread = threading.Thread(target=self._run, name="mathaug-warm-up", daemon=True)
            self._thread.start()

    async def start_after_first(self, progress: Progress, poll_s: float = 0.05) -> None:
        """Start once the first pair of the run is done (its requests were answered)."""
        while progress.done == 0:
            await asyncio.sleep(poll_s)
        self.start()

    def wait(self) -> None:
        """Block until every load ran (at once when none started)."""
        if self._thread is not None:
            self._thread.join()


def import_module(name: str) -> Callable[[], object]:
    return lambda: importlib.import_module(name)
