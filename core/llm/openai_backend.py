"""`openai` backend: any OpenAI-compatible server (`vllm serve`, llama.cpp server, OpenAI itself).

Calls go to the base URL with the most room (core.llm.endpoint: per-URL adaptive concurrency under the
--concurrency ceiling). A 429 pauses its URL for the server's Retry-After and cuts that URL's concurrency; it is
retried without end, so a server that keeps answering 429 slows the run and never fails it. 5xx, timeouts, broken
JSON and empty answers are retried with exponential backoff up to `max_retries`; other 4xx end the call in one
clear sentence. When most recent requests to every URL fail for a whole-server reason (connection refused, 404
unknown model, 401 / 403 refused key), every call ends at once with ServerBroken, so the run stops in seconds.
The API key comes only from the environment (OPENAI_API_KEY, or MATHAUG_API_KEY) and is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time

from core.errors import UserError
from core.llm.base import Completion, GenParams, Message, UsageCounter
from core.llm.endpoint import Endpoint, parse_retry_after

log = logging.getLogger(__name__)


class LLMCallError(Exception):
    """A call that failed for good: retries used up, or the server refused the request."""


class ServerBroken(UserError):
    """Every base URL fails for a whole-server reason; `cause` names it in a clause."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"The LLM server cannot serve this run: {cause}.")
        self.cause = cause


def _api_key() -> str:
    return os.environ.get("MATHAUG_API_KEY") or os.environ.get("OPENAI_API_KEY") or "EMPTY"


class OpenAIBackend:
    def __init__(
        self,
        model: str | None,
        base_urls: list[str],
        concurrency: int = 32,
        max_retries: int = 6,
        timeout_s: float = 120.0,
        backoff_s: float = 0.5,
    ) -> None:
        import openai

        if not model:
            raise UserError("The openai backend needs --model: the model name the server serves.")
        if not base_urls:
            raise UserError("The openai backend needs --base-url, e.g. http://localhost:8000/v1.")
        self.name = model
        self.usage = UsageCounter()
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._openai = openai
        self.base_urls = base_urls
        for url in base_urls:
            _check_reachable(url)
        # max_retries=0: we retry ourselves, so retries are counted and empty answers are retried too
        self.endpoints = [
            Endpoint(url, openai.AsyncOpenAI(base_url=url, api_key=_api_key(), max_retries=0, timeout=timeout_s),
                     concurrency)
            for url in base_urls
        ]  # fmt: skip
        self._turn = 0  # rotates ties between URLs with equal room
        self._changed: asyncio.Event | None = None  # set when a slot frees, a pause ends or the run breaks
        self.broken: ServerBroken | None = None

    # -- scheduling over the URLs ----------------------------------------------------------------------------------
    def concurrency_levels(self) -> dict[str, str]:
        """Each URL's current concurrency level / ceiling, for the progress bar and stats.json."""
        return {ep.url: ep.describe() for ep in self.endpoints}

    def status(self) -> str:
        return "concurrency " + " + ".join(ep.describe() for ep in self.endpoints)

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait_for_change(self, timeout: float | None) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass

    def _raise_if_broken(self) -> None:
        if self.broken is not None:
            raise self.broken

    async def _acquire(self) -> Endpoint:
        while True:
            self._raise_if_broken()
            now = time.monotonic()
            usable = [ep for ep in self.endpoints if ep.broken_cause() is None] or self.endpoints
            order = usable[self._turn % len(usable) :] + usable[: self._turn % len(usable)]
            best = max(order, key=lambda ep: ep.room(now))
            if best.room(now) > 0:
                self._turn += 1
                best.in_flight += 1
                return best
            pauses = [ep.paused_until - now for ep in usable if ep.paused_until > now]
            await self._wait_for_change(min(pauses) if pauses else None)

    def _release(self, ep: Endpoint) -> None:
        ep.in_flight -= 1
        self._notify()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the run breaks."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._raise_if_broken()
            await self._wait_for_change(left)
        self._raise_if_broken()

    def _whole_server_cause(self, ep: Endpoint, exc: Exception) -> str | None:
        """A failure that says this URL cannot serve the run at all, in a clause; None for any other failure."""
        o = self._openai
        if isinstance(exc, o.APIStatusError):
            if exc.status_code == 404:
                return f"{ep.url} answers HTTP 404 ({_message(exc)}): check --model and --base-url"
            if exc.status_code in (401, 403):
                return (
                    f"{ep.url} refuses the API key with HTTP {exc.status_code} ({_message(exc)}): "
                    "set OPENAI_API_KEY or MATHAUG_API_KEY"
                )
            return None
        if isinstance(exc, o.APIConnectionError) and not isinstance(exc, o.APITimeoutError) and _refused(exc):
            return f"nothing answers at {ep.url} any more (connection refused): start the server or fix --base-url"
        return None

    def _record_whole_server_failure(self, ep: Endpoint, cause: str) -> None:
        ep.on_broken_reply(cause)
        causes = [e.broken_cause() for e in self.endpoints]
        if all(causes) and self.broken is None:
            self.broken = ServerBroken(causes[0] if len(causes) == 1 else "; ".join(causes))
            log.info("%s", self.broken)
            self._notify()

    # -- one request and its retries -------------------------------------------------------------------------------
    def _transient(self, exc: Exception) -> bool:
        o = self._openai
        if isinstance(exc, o.APIStatusError):
            return exc.status_code == 429 or exc.status_code >= 500
        return isinstance(exc, o.APIConnectionError | o.APITimeoutError | o.APIResponseValidationError | ValueError)

    async def _create(self, client, messages: list[Message], n: int, params: GenParams) -> list[Completion]:
        kwargs = dict(
            model=self.name,
            messages=messages,
            n=n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,
        )
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.logprobs is not None:
            kwargs.update(logprobs=True, top_logprobs=params.logprobs)
        response = await client.chat.completions.create(**kwargs)
        if not response.choices:
            raise ValueError("the server answered with no choices")
        usage = response.usage
        out = []
        for choice in response.choices:
            text = choice.message.content if choice.message else None
            if not text:
                raise ValueError("the server answered with empty content")
            logprobs = None
            if choice.logprobs is not None and choice.logprobs.content:
                logprobs = [{t.token: t.logprob for t in (tok.top_logprobs or [])} for tok in choice.logprobs.content]
            out.append(
                Completion(
                    text=text,
                    finish_reason=choice.finish_reason or "stop",
                    prompt_tokens=(usage.prompt_tokens if usage else 0) // max(len(response.choices), 1),
                    completion_tokens=(usage.completion_tokens if usage else 0) // max(len(response.choices), 1),
                    logprobs=logprobs,
                )
            )
        return out

    async def chat(self, messages: list[Message], n: int = 1, params: GenParams = GenParams()) -> list[Completion]:
        results: list[Completion] = []
        attempt = 0
        while len(results) < n:
            ep = await self._acquire()
            sent_at = time.monotonic()
            try:
                # servers without `n` support answer one choice: ask again for the rest
                results += await self._create(ep.client, messages, n - len(results), params)
            except Exception as exc:  # noqa: BLE001 - sorted into rate limit / transient / permanent below
                self._release(ep)
                if isinstance(exc, self._openai.APIStatusError) and exc.status_code == 429:
                    retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
                    self.usage.retries += 1
                    self.usage.extra["rate_limited"] = self.usage.extra.get("rate_limited", 0) + 1
                    pause = ep.on_rate_limited(sent_at, retry_after, self.backoff_s)
                    log.debug("429 from %s: pause %.2fs, concurrency %s", ep.url, pause, ep.describe())
                    continue  # the pause is the URL's: _acquire waits it out
                cause = self._whole_server_cause(ep, exc)
                if cause is not None:
                    self._record_whole_server_failure(ep, cause)
                    self._raise_if_broken()
                self._give_up_or_count(exc, attempt, cause)
                attempt += 1
                await self._sleep(self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            else:
                ep.on_success()
                self._release(ep)
        self.usage.add(results[:n])
        return results[:n]

    def _give_up_or_count(self, exc: Exception, attempt: int, cause: str | None) -> None:
        """Raise LLMCallError when this failure ends the call, else count the retry to come."""
        o = self._openai
        others_healthy = cause is not None and any(ep.broken_cause() is None for ep in self.endpoints)
        retry = (self._transient(exc) or others_healthy) and attempt < self.max_retries
        if not retry:
            self.usage.failures += 1
            if isinstance(exc, o.APITimeoutError):
                raise LLMCallError(
                    f"no answer within the request timeout of {self.timeout_s:g} s, {attempt + 1} tries"
                ) from None
            if isinstance(exc, o.APIConnectionError):
                raise LLMCallError(f"cannot reach the server ({type(exc).__name__})") from None
            raise LLMCallError(_describe(exc)) from None
        self.usage.retries += 1
        log.debug("retry %d after %s", attempt + 1, type(exc).__name__)

    def close(self) -> None:
        pass


def _check_reachable(url: str) -> None:
    """Fail at once, in one sentence, when nothing answers at a base URL (any HTTP answer will do)."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/models", timeout=10, headers={"Authorization": f"Bearer {_api_key()}"})
    except httpx.HTTPError as exc:
        raise UserError(
            f"Cannot reach the LLM server at {url} ({type(exc).__name__}); start it or fix --base-url."
        ) from None


def _refused(exc: BaseException) -> bool:
    """Whether a connection error comes from nothing listening (its chain holds a refused or failed connect)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ConnectionRefusedError) or type(exc).__name__ == "ConnectError":
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _message(exc: Exception) -> str:
    return str(getattr(exc, "message", exc)).splitlines()[0][:200]


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}: {_message(exc)}" if status else f"{type(exc).__name__}: {_message(exc)}"
