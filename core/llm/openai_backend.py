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
import functools
import json
import logging
import os
import random
import ssl
import time

from core.errors import UserError
from core.llm.base import Completion, GenParams, Message, UsageCounter
from core.llm.endpoint import Endpoint, parse_retry_after
from core.urls import redact_url

log = logging.getLogger(__name__)


class LLMCallError(Exception):
    """A call that failed for good: retries used up, or the server refused the request."""


class ServerBroken(UserError):
    """Every base URL fails for a whole-server reason; `cause` names it in a clause."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"The LLM server cannot serve this run: {cause}.")
        self.cause = cause


class HTTPStatusError(Exception):
    """A non-2xx answer: its status, the server's message and its Retry-After header."""

    def __init__(self, status: int, message: str, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message, self.retry_after = status, message, retry_after


class BadReply(ValueError):
    """A 2xx answer that is not a usable chat completion (broken JSON, no choices, empty content)."""


def _api_key() -> str:
    return os.environ.get("MATHAUG_API_KEY") or os.environ.get("OPENAI_API_KEY") or "EMPTY"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The certificate-checking TLS context every client of this process shares (httpx's default: certifi's CA
    bundle, or SSL_CERT_FILE / SSL_CERT_DIR). Loading the bundle costs 0.05-0.2 s of CPU, which httpx would
    otherwise pay again for every client it builds."""
    import httpx

    return httpx.create_ssl_context()


@functools.cache
def _no_tls_context() -> ssl.SSLContext:
    """The context handed to clients of plain http URLs, which never make a TLS connection: one shared object,
    since httpx builds a fresh context for `verify=False` in every client (1.8 ms each here, 0.13 ms with this)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _verify_for(url: str) -> ssl.SSLContext:
    """What httpx checks certificates with for `url`: the shared certificate-checking context for https; for plain
    http, which never makes a TLS connection, a context that loads no CA bundle (so a run against a local server
    does not load it before its first request)."""
    return _tls_context() if url.lower().startswith("https:") else _no_tls_context()


class OpenAIBackend:
    """Chat completions over plain httpx (JSON built and read here: the openai package's request transform and
    response models cost ~10-40 ms of CPU per request, which a fast server turns into the bottleneck)."""

    def __init__(
        self,
        model: str | None,
        base_urls: list[str],
        concurrency: int = 32,
        max_retries: int = 6,
        timeout_s: float = 120.0,
        backoff_s: float = 0.5,
    ) -> None:
        if not model:
            raise UserError("The openai backend needs --model: the model name the server serves.")
        if not base_urls:
            raise UserError("The openai backend needs --base-url, e.g. http://localhost:8000/v1.")
        self.name = model
        self.usage = UsageCounter()
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.base_urls = base_urls
        for url in base_urls:
            _check_reachable(url)
        self.endpoints = [Endpoint(url, {}, concurrency) for url in base_urls]  # client: idle clients per event loop
        self._turn = 0  # rotates ties between URLs with equal room
        self._changed: asyncio.Event | None = None  # set when a slot frees, a pause ends or the run breaks
        self.broken: ServerBroken | None = None

    def _take_client(self, ep: Endpoint):
        """An idle httpx client of the endpoint for the running event loop (a client's connection belongs to one
        loop), made when none is idle; `_give_back` returns it. A client serves one request at a time over its one
        keep-alive connection, so httpcore's pool, which scans every connection of its client on each request and
        reply, has one to scan (with 8 per client, that scan took ~10 % of the event loop's CPU at 80 requests/s)."""
        import httpx

        loop = asyncio.get_running_loop()
        idle = ep.client.get(loop)
        if idle is None:
            for old in [k for k in ep.client if k.is_closed()]:
                del ep.client[old]
            idle = ep.client[loop] = []
        if idle:
            return idle.pop()
        return httpx.AsyncClient(
            base_url=ep.url.rstrip("/") + "/",
            timeout=self.timeout_s,
            headers={"Authorization": f"Bearer {_api_key()}", "Content-Type": "application/json"},
            verify=_verify_for(ep.url),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    @staticmethod
    def _give_back(ep: Endpoint, client) -> None:
        ep.client[asyncio.get_running_loop()].append(client)

    # -- scheduling over the URLs ----------------------------------------------------------------------------------
    def concurrency_levels(self) -> dict[str, str]:
        """Each URL's current concurrency level / ceiling, for the progress bar and stats.json."""
        return {redact_url(ep.url): ep.describe() for ep in self.endpoints}

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
        import httpx

        if isinstance(exc, HTTPStatusError):
            if exc.status == 404:
                return f"{redact_url(ep.url)} answers HTTP 404 ({exc.message}): check --model and --base-url"
            if exc.status in (401, 403):
                return (
                    f"{redact_url(ep.url)} refuses the API key with HTTP {exc.status} ({exc.message}): "
                    "set OPENAI_API_KEY or MATHAUG_API_KEY"
                )
            return None
        if isinstance(exc, httpx.ConnectError):
            return (
                f"nothing answers at {redact_url(ep.url)} any more (connection refused): "
                "start the server or fix --base-url"
            )
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
        import httpx

        if isinstance(exc, HTTPStatusError):
            return exc.status == 429 or exc.status >= 500
        return isinstance(exc, httpx.TransportError | BadReply)

    async def _create(self, client, messages: list[Message], n: int, params: GenParams) -> list[Completion]:
        body: dict = {
            "model": self.name,
            "messages": messages,
            "n": n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.logprobs is not None:
            body.update(logprobs=True, top_logprobs=params.logprobs)
        response = await client.post("chat/completions", content=json.dumps(body, ensure_ascii=False).encode())
        if response.status_code >= 300:
            raise HTTPStatusError(response.status_code, _error_message(response), response.headers.get("retry-after"))
        return parse_completions(response.content)

    async def chat(self, messages: list[Message], n: int = 1, params: GenParams = GenParams()) -> list[Completion]:
        results: list[Completion] = []
        attempt = 0
        while len(results) < n:
            ep = await self._acquire()
            sent_at = time.monotonic()
            try:
                client = self._take_client(ep)
                try:  # servers without `n` support answer one choice: ask again for the rest
                    results += await self._create(client, messages, n - len(results), params)
                finally:
                    self._give_back(ep, client)
            except Exception as exc:  # noqa: BLE001 - sorted into rate limit / transient / permanent below
                self._release(ep)
                if isinstance(exc, HTTPStatusError) and exc.status == 429:
                    retry_after = parse_retry_after(exc.retry_after)
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
        import httpx

        others_healthy = cause is not None and any(ep.broken_cause() is None for ep in self.endpoints)
        retry = (self._transient(exc) or others_healthy) and attempt < self.max_retries
        if not retry:
            self.usage.failures += 1
            if isinstance(exc, httpx.TimeoutException):
                raise LLMCallError(
                    f"no answer within the request timeout of {self.timeout_s:g} s, {attempt + 1} tries"
                ) from None
            if isinstance(exc, httpx.TransportError):
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
        httpx.get(
            url.rstrip("/") + "/models",
            timeout=10,
            headers={"Authorization": f"Bearer {_api_key()}"},
            verify=_verify_for(url),
        )
    except httpx.HTTPError as exc:
        raise UserError(
            f"Cannot reach the LLM server at {redact_url(url)} ({type(exc).__name__}); start it or fix --base-url."
        ) from None


def parse_completions(content: bytes) -> list[Completion]:
    """The completions of a chat.completion JSON body; BadReply when it is not one or a choice is empty."""
    try:
        data = json.loads(content)
        choices = data["choices"]
    except (ValueError, TypeError, KeyError) as exc:
        raise BadReply(f"the server answered with no chat completion ({type(exc).__name__})") from None
    if not choices:
        raise BadReply("the server answered with no choices")
    usage = data.get("usage") or {}
    share = max(len(choices), 1)
    out = []
    for choice in choices:
        text = (choice.get("message") or {}).get("content")
        if not text:
            raise BadReply("the server answered with empty content")
        logprobs = None
        content_logprobs = (choice.get("logprobs") or {}).get("content")
        if content_logprobs:
            logprobs = [{t["token"]: t["logprob"] for t in (tok.get("top_logprobs") or [])} for tok in content_logprobs]
        out.append(
            Completion(
                text=text,
                finish_reason=choice.get("finish_reason") or "stop",
                prompt_tokens=int(usage.get("prompt_tokens") or 0) // share,
                completion_tokens=int(usage.get("completion_tokens") or 0) // share,
                logprobs=logprobs,
            )
        )
    return out


def _error_message(response) -> str:
    """The server's own error message (OpenAI's {"error": {"message": ...}}), else the body's first line."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    text = str(message or response.text or response.reason_phrase or "no message")
    return (text.splitlines() or ["no message"])[0][:200]


def _describe(exc: Exception) -> str:
    if isinstance(exc, HTTPStatusError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
