"""One base URL of the openai backend: its own adaptive concurrency, its Retry-After pause, and its health.

Concurrency adapts the way TCP's congestion control does (additive increase, multiplicative decrease): a run of
successes as long as the current level adds one slot (up to the ceiling, --concurrency); a 429 cuts the level to
0.75 of itself, once per burst (429s of requests sent before the last cut do not cut again), and pauses the URL for
the server's Retry-After (seconds or an HTTP date) or else an exponential backoff. A 429 never fails a call.

Health: the last outcomes of requests to the URL, counting only failures that say the server as a whole cannot
serve this run (nothing listens: connection refused; the model is unknown: 404; the key is refused: 401 / 403).
When most of them failed, the URL is broken; when every URL is broken, the run stops (core.llm.openai_backend).
"""

from __future__ import annotations

import email.utils
import time
from collections import deque
from datetime import UTC

DECREASE = 0.75
MAX_PAUSE_S = 600.0  # the longest Retry-After honoured as given; a longer one is capped
HEALTH_WINDOW = 10  # outcomes remembered per URL
HEALTH_MIN_FAILURES = 3  # fewer failures than this never make a URL broken


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None when absent or unreadable.

    >>> parse_retry_after("2")
    2.0
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_PAUSE_S)


class Endpoint:
    """The state of one base URL; used from one event loop (no locks)."""

    def __init__(self, url: str, client, ceiling: int) -> None:
        self.url, self.client = url, client
        self.ceiling = max(1, ceiling)
        self.level = float(self.ceiling)
        self.in_flight = 0
        self.paused_until = 0.0
        self.rate_limited = 0  # 429s seen
        self._successes = 0
        self._last_cut = 0.0
        self._consecutive_429 = 0
        self._recent: deque[str | None] = deque(maxlen=HEALTH_WINDOW)  # None: success; else the failure's cause

    # -- concurrency ---------------------------------------------------------------------------------------------
    def room(self, now: float) -> int:
        """How many more requests may start now."""
        if now < self.paused_until:
            return 0
        return int(self.level) - self.in_flight

    def on_success(self) -> None:
        self._consecutive_429 = 0
        self._recent.append(None)
        self._successes += 1
        if self._successes >= int(self.level) and self.level < self.ceiling:
            self.level = min(float(self.ceiling), int(self.level) + 1.0)
            self._successes = 0

    def on_rate_limited(self, sent_at: float, retry_after: float | None, backoff_s: float) -> float:
        """A 429 to a request sent at `sent_at`: cut the level once per burst, pause the URL; the pause in seconds."""
        self.rate_limited += 1
        self._consecutive_429 += 1
        now = time.monotonic()
        if sent_at >= self._last_cut:
            self.level = max(1.0, self.level * DECREASE)
            self._successes = 0
            self._last_cut = now
        pause = retry_after if retry_after is not None else min(30.0, backoff_s * 2 ** min(self._consecutive_429, 8))
        self.paused_until = max(self.paused_until, now + pause)
        return pause

    # -- health --------------------------------------------------------------------------------------------------
    def on_broken_reply(self, cause: str) -> None:
        self._recent.append(cause)

    def broken_cause(self) -> str | None:
        """The cause when most recent requests failed for a whole-server reason, else None."""
        failures = [c for c in self._recent if c is not None]
        if len(failures) >= HEALTH_MIN_FAILURES and len(failures) * 2 > len(self._recent):
            return failures[-1]
        return None

    def describe(self) -> str:
        return f"{int(self.level)}/{self.ceiling}"
