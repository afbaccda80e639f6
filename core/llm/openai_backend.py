"""`openai` backend: any OpenAI-compatible server (`vllm serve`, llama.cpp server, OpenAI itself).

Calls run concurrently under a bound; 429, 5xx, timeouts, broken JSON and empty answers are retried with
exponential backoff; other 4xx end in one clear sentence. The API key comes only from the environment
(OPENAI_API_KEY, or MATHAUG_API_KEY) and is never logged. Several base URLs spread the calls round-robin.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random

from core.errors import UserError
from core.llm.base import Completion, GenParams, Message, UsageCounter
from core.urls import redact_url

log = logging.getLogger(__name__)


class LLMCallError(Exception):
    """A call that failed for good: retries used up, or the server refused the request."""


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
        # max_retries=0: we retry ourselves, so retries are counted and empty answers are retried too
        self._clients = [
            openai.AsyncOpenAI(base_url=url, api_key=_api_key(), max_retries=0, timeout=timeout_s) for url in base_urls
        ]
        self._next_client = itertools.cycle(range(len(self._clients)))
        self._semaphore = asyncio.Semaphore(concurrency)
        self.base_urls = base_urls
        for url in base_urls:
            _check_reachable(url)

    def _transient(self, exc: Exception) -> bool:
        o = self._openai
        if isinstance(exc, o.APIStatusError):
            return exc.status_code == 429 or exc.status_code >= 500
        return isinstance(exc, o.APIConnectionError | o.APITimeoutError | o.APIResponseValidationError | ValueError)

    async def _create(self, messages: list[Message], n: int, params: GenParams) -> list[Completion]:
        client = self._clients[next(self._next_client)]
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
        async with self._semaphore:
            while len(results) < n:
                try:
                    # servers without `n` support answer one choice: ask again for the rest
                    results += await self._create(messages, n - len(results), params)
                except Exception as exc:  # noqa: BLE001 - sorted into transient / permanent below
                    if isinstance(exc, self._openai.APITimeoutError) and attempt >= self.max_retries:
                        self.usage.failures += 1
                        raise LLMCallError(
                            f"no answer within the request timeout of {self.timeout_s:g} s, {attempt + 1} tries"
                        ) from None
                    if isinstance(exc, self._openai.APIConnectionError) and attempt >= self.max_retries:
                        self.usage.failures += 1
                        raise LLMCallError(f"cannot reach the server ({type(exc).__name__})") from None
                    if not self._transient(exc) or attempt >= self.max_retries:
                        self.usage.failures += 1
                        raise LLMCallError(_describe(exc)) from None
                    attempt += 1
                    self.usage.retries += 1
                    delay = self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
                    log.debug("retry %d after %s (%.2fs)", attempt, type(exc).__name__, delay)
                    await asyncio.sleep(delay)
        self.usage.add(results[:n])
        return results[:n]

    def close(self) -> None:
        pass


def _check_reachable(url: str) -> None:
    """Fail at once, in one sentence, when nothing answers at a base URL (any HTTP answer will do)."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/models", timeout=10, headers={"Authorization": f"Bearer {_api_key()}"})
    except httpx.HTTPError as exc:
        raise UserError(
            f"Cannot reach the LLM server at {redact_url(url)} ({type(exc).__name__}); start it or fix --base-url."
        ) from None


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", exc)).splitlines()[0][:200]
    return f"HTTP {status}: {message}" if status else f"{type(exc).__name__}: {message}"
