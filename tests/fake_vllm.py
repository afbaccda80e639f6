"""A stand-in `vllm` package that follows vLLM's documented async API, for tests on machines without a GPU.

What it honours (from vLLM's v1 `AsyncLLM` and `SamplingParams`):
- `AsyncLLM.from_engine_args(AsyncEngineArgs(...))`; `engine.model_config.max_model_len`; `engine.shutdown()`.
- `engine.generate(prompt, sampling_params, request_id)` is an async generator, one request per call, each with its
  own SamplingParams; requests run concurrently, one token per scheduler step each (continuous batching), and a
  request finishes when its own sequences do.
- `n > 1` fans out into child requests whose seeds are `seed + index` (vllm/v1/engine/parallel_sampling.py); with a
  seed the draw is reproducible, without one it is random; temperature 0 is greedy (the same for every seed).
- `output_kind=RequestOutputKind.FINAL_ONLY` yields only the finished RequestOutput.
- A prompt longer than max_model_len is rejected (ValueError) for that request only; a cancelled generate() aborts
  only its own request.
- `prompt` is a TokensPrompt dict {"prompt_token_ids": [...]}.

Bookkeeping for assertions: `FakeAsyncLLM.live` (engines not shut down), `FakeAsyncLLM.most_live` (the most ever
alive at once), `engine.requests` (every SamplingParams received), `engine.aborted` (request ids),
`engine.finished` (SamplingParams in finishing order), `engine.prompts` (token ids).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import random
import sys
import time
import types

WORDS = ("add", "carry", "seven", "twelve", "half", "total", "so", "then", "each", "apples", "minus", "times")


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


@dataclasses.dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = 16
    seed: int | None = None
    logprobs: int | None = None
    output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE

    def __post_init__(self) -> None:  # vLLM's own checks (SamplingParams._verify_args)
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}.")
        if self.temperature < 0:
            raise ValueError(f"temperature must be non-negative, got {self.temperature}.")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}.")


@dataclasses.dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclasses.dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None


@dataclasses.dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: None
    outputs: list[CompletionOutput]
    finished: bool


@dataclasses.dataclass
class AsyncEngineArgs:
    model: str
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    dtype: str = "auto"
    trust_remote_code: bool = False
    seed: int | None = 0


@dataclasses.dataclass
class _ModelConfig:
    max_model_len: int


class FakeAsyncLLM:
    live: list[FakeAsyncLLM] = []
    most_live = 0
    built: list[FakeAsyncLLM] = []
    default_max_len = 2048
    step_s = 0.0005  # one scheduler step
    build_s = 0.0  # how long from_engine_args blocks (loading weights, profiling memory)

    def __init__(self, args: AsyncEngineArgs) -> None:
        self.args = args
        self.model_config = _ModelConfig(args.max_model_len or self.default_max_len)
        self.requests: list[SamplingParams] = []
        self.aborted: list[str] = []
        self.finished: list[SamplingParams] = []  # in the order requests finished
        self.prompts: list[list[int]] = []
        self.dead = False

    @classmethod
    def from_engine_args(cls, engine_args: AsyncEngineArgs, **_) -> FakeAsyncLLM:
        time.sleep(cls.build_s)
        engine = cls(engine_args)
        cls.live.append(engine)
        cls.built.append(engine)
        cls.most_live = max(cls.most_live, len(cls.live))
        return engine

    @classmethod
    def reset(cls) -> None:
        cls.live, cls.built, cls.most_live, cls.build_s = [], [], 0, 0.0

    def shutdown(self, timeout: float | None = None) -> None:
        self.dead = True
        if self in FakeAsyncLLM.live:
            FakeAsyncLLM.live.remove(self)

    async def generate(self, prompt: dict, sampling_params: SamplingParams, request_id: str, **_):
        if self.dead:
            raise RuntimeError("EngineDeadError: the engine was shut down")
        ids = list(prompt["prompt_token_ids"])
        if len(ids) > self.model_config.max_model_len:
            raise ValueError(
                f"The decoder prompt (length {len(ids)}) is longer than the maximum model length of "
                f"{self.model_config.max_model_len}."
            )
        self.requests.append(sampling_params)
        self.prompts.append(ids)
        sp = sampling_params
        try:
            children = await asyncio.gather(*(self._child(ids, sp, i) for i in range(sp.n)))
        except asyncio.CancelledError:
            self.aborted.append(request_id)
            raise
        self.finished.append(sampling_params)
        yield RequestOutput(request_id, None, ids, None, list(children), finished=True)

    async def _child(self, ids: list[int], sp: SamplingParams, index: int) -> CompletionOutput:
        if sp.temperature == 0:
            rng = random.Random(f"greedy:{ids}")
        elif sp.seed is not None:
            rng = random.Random(f"{sp.seed + index}:{ids}")
        else:
            rng = random.Random()
        length = min(sp.max_tokens or 16, rng.randint(3, 40))
        tokens, words, steps = [], [], []
        for _ in range(length):
            await asyncio.sleep(self.step_s)  # one decode step, shared with every other running request
            k = rng.randrange(len(WORDS))
            tokens.append(k)
            words.append(WORDS[k])
            if sp.logprobs is not None:
                steps.append({k: Logprob(-0.1, 1, WORDS[k]), (k + 1) % len(WORDS): Logprob(-2.5, 2, WORDS[k - 1])})
        finish = "length" if length == sp.max_tokens else "stop"
        text = " ".join(words)
        return CompletionOutput(index, text, tokens, None, steps if sp.logprobs is not None else None, finish)


def install(monkeypatch) -> type[FakeAsyncLLM]:
    """Put the fake package into sys.modules under vLLM's module paths; returns the engine class."""
    FakeAsyncLLM.reset()
    modules = {
        "vllm": dict(SamplingParams=SamplingParams, AsyncEngineArgs=AsyncEngineArgs, AsyncLLMEngine=FakeAsyncLLM),
        "vllm.sampling_params": dict(SamplingParams=SamplingParams, RequestOutputKind=RequestOutputKind),
        "vllm.outputs": dict(RequestOutput=RequestOutput, CompletionOutput=CompletionOutput),
        "vllm.engine": {},
        "vllm.engine.arg_utils": dict(AsyncEngineArgs=AsyncEngineArgs),
        "vllm.v1": {},
        "vllm.v1.engine": {},
        "vllm.v1.engine.async_llm": dict(AsyncLLM=FakeAsyncLLM),
    }
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
    return FakeAsyncLLM
