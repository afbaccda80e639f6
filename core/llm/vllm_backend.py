"""`vllm` backend: vLLM's async engine (AsyncLLM) in this process, on GPUs (the optional `gpu` extra).

Why the in-process async engine and not a `vllm serve` subprocess: vLLM schedules every request it has been given
token by token (continuous batching), so each `chat()` becomes one `AsyncLLM.generate` request with its own
SamplingParams (seed, temperature, n, max tokens, logprobs) and finishes as soon as its own sequences do; no
batch barrier, no port to pick, no server to wait for or leave running after a kill, and the engine is shut down
(its GPU memory freed) before the next model loads. A server is still there for whoever wants one: `vllm serve`
with `--backend openai`.

The engine lives on its own thread with its own event loop: it is built there (minutes for a large model) without
blocking the flow's event loop, and `chat()` may be awaited from any thread or event loop (Prefect's thread task
runner, `asyncio.run` per checkpoint in evaluation). Cancelling an awaiting caller aborts only its own request;
a prompt over the context length fails only its own request. One engine per process at a time (core.llm.vllm_lease).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import Future

from core.errors import UserError
from core.llm import vllm_lease
from core.llm.base import Completion, GenParams, Message, UsageCounter
from core.llm.vllm_options import EngineOptions

_SYSTEM_PROBE = "mathaug-system-probe-7f3a"


class PromptTooLongError(ValueError):
    """A prompt that does not fit the engine's context: fails its own request only."""


def fold_system_turn(messages: list[Message]) -> list[Message]:
    """For chat templates without a system role (Gemma): the system text opens the first user turn.

    >>> fold_system_turn([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}])
    [{'role': 'user', 'content': 'Be brief.\\n\\n2+2?'}]
    """
    system = [m["content"] for m in messages if m["role"] == "system"]
    if not system:
        return messages
    rest = [dict(m) for m in messages if m["role"] != "system"]
    text = "\n\n".join(system)
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{text}\n\n{rest[0]['content']}"
    else:
        rest.insert(0, {"role": "user", "content": text})
    return rest


def template_takes_system(tokenizer) -> bool:
    """Whether the tokenizer's chat template renders a system turn (Gemma's raises; some silently drop it)."""
    probe = [{"role": "system", "content": _SYSTEM_PROBE}, {"role": "user", "content": "1"}]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - jinja's TemplateError from raise_exception('System role not supported')
        return False
    return _SYSTEM_PROBE in text


def _completions(output, prompt_tokens: int) -> list[Completion]:
    """vLLM's final RequestOutput -> our Completions, in the order of its `n` samples."""
    result = []
    for o in sorted(output.outputs, key=lambda o: o.index):
        logprobs = None
        if o.logprobs is not None:
            logprobs = [{lp.decoded_token: lp.logprob for lp in step.values()} for step in o.logprobs]
        result.append(
            Completion(
                text=o.text,
                finish_reason=o.finish_reason or "stop",
                prompt_tokens=prompt_tokens,
                completion_tokens=len(o.token_ids),
                logprobs=logprobs,
            )
        )
    return result


class VLLMBackend:
    """`chat()` -> one AsyncLLM request with its own SamplingParams; see the module's docstring."""

    def __init__(self, model: str | None, options: EngineOptions | None = None) -> None:
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise UserError(
                "The vllm backend needs vLLM and a GPU: install it with `pip install 'mathaug[gpu]'`, "
                "or use --backend local or --backend openai."
            ) from None
        if not model:
            from core.llm.local import resolve_model

            _, model = resolve_model(None)
        self.name = model
        self.options = options or EngineOptions()
        self.usage = UsageCounter()
        self._engine = None
        self._tokenizer = None
        self._max_len = 0
        self._fold_system = False
        self._build_error: Exception | None = None
        self._in_flight = 0
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vllm-engine", daemon=True)
        self._thread.start()
        self._build_lock: asyncio.Lock = self._run(self._make_lock()).result()
        # start loading now, off the caller's event loop; errors surface on the first chat()
        self._run(self._ensure_engine()).add_done_callback(lambda f: f.exception())

    # -- the protocol -------------------------------------------------------------------------------------------------
    async def chat(self, messages: list[Message], n: int = 1, params: GenParams = GenParams()) -> list[Completion]:
        if self._closed:
            raise RuntimeError("this vllm backend is closed")
        # cancelling the awaiting task cancels the request's task on the engine loop, and vLLM aborts that request
        completions = await asyncio.wrap_future(self._run(self._generate(messages, n, params)))
        self.usage.add(completions)
        return completions

    def close(self) -> None:
        """Shut the engine down (GPU memory freed) and stop its thread."""
        if self._closed:
            return
        self._closed = True
        self._run(self._shutdown()).result()
        vllm_lease.give_back(self)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    # -- the lease (core.llm.vllm_lease) ---------------------------------------------------------------------------
    def in_flight(self) -> int:
        return self._in_flight

    def release_engine(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.shutdown()

    # -- the engine thread --------------------------------------------------------------------------------------------
    def _run(self, coro) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    @staticmethod
    async def _make_lock() -> asyncio.Lock:
        return asyncio.Lock()

    async def _shutdown(self) -> None:
        async with self._build_lock:  # an engine still loading is shut down once it is up, never left behind
            with vllm_lease.condition:
                self.release_engine()

    async def _ensure_engine(self):
        async with self._build_lock:
            if self._engine is None:
                if self._build_error is not None:
                    raise self._build_error
                vllm_lease.take(self)  # waits for another engine to go idle, then shuts it down
                try:
                    self._build()
                except Exception as exc:  # noqa: BLE001 - every request gets the same one sentence
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                    self._build_error = UserError(
                        f"vLLM could not start {self.name} ({first}); check --model, --gpu-memory-utilization, "
                        "--max-model-len and --tensor-parallel-size."
                    )
                    raise self._build_error from None
            return self._engine

    def _build(self) -> None:
        from transformers import AutoTokenizer
        from vllm.engine.arg_utils import AsyncEngineArgs

        try:
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError:  # before the V1 module path
            from vllm import AsyncLLMEngine as AsyncLLM

        opts = self.options
        args = AsyncEngineArgs(
            model=self.name,
            tensor_parallel_size=opts.tensor_parallel_size,
            gpu_memory_utilization=opts.gpu_memory_utilization,
            max_model_len=opts.max_model_len,
            dtype=opts.dtype,
            trust_remote_code=opts.trust_remote_code,
        )
        self._tokenizer = AutoTokenizer.from_pretrained(self.name, trust_remote_code=opts.trust_remote_code)
        self._fold_system = not template_takes_system(self._tokenizer)
        engine = AsyncLLM.from_engine_args(args)
        self._max_len = int(engine.model_config.max_model_len)
        self._engine = engine

    def _prompt_ids(self, messages: list[Message]) -> list[int]:
        if self._fold_system:
            messages = fold_system_turn(messages)
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # the template wrote the special tokens itself (as vLLM's own chat path does)
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    async def _generate(self, messages: list[Message], n: int, params: GenParams) -> list[Completion]:
        with vllm_lease.condition:  # counted before the engine is looked at: an engine in use is never released
            self._in_flight += 1
        try:
            engine = await self._ensure_engine()
            from vllm import SamplingParams
            from vllm.sampling_params import RequestOutputKind

            ids = self._prompt_ids(messages)
            room = self._max_len - len(ids)
            if room < 1:
                raise PromptTooLongError(
                    f"the prompt has {len(ids)} tokens, over the model's context of {self._max_len}; "
                    "raise --max-model-len or shorten the input"
                )
            sampling = SamplingParams(
                n=n,
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=min(params.max_tokens, room),
                seed=params.seed,
                logprobs=params.logprobs,
                output_kind=RequestOutputKind.FINAL_ONLY,
            )
            final = None
            async for output in engine.generate(
                prompt={"prompt_token_ids": ids}, sampling_params=sampling, request_id=uuid.uuid4().hex
            ):
                final = output
            if final is None:
                raise RuntimeError("vLLM returned no output for a request")
            return _completions(final, len(ids))
        finally:
            with vllm_lease.condition:
                self._in_flight -= 1
                vllm_lease.condition.notify_all()
