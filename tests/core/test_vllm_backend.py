"""The vllm backend against tests/fake_vllm.py (vLLM's documented async API), with real transformers tokenizers."""

from __future__ import annotations

import asyncio
import time

import fake_vllm
import pytest
from tiny_models import tiny_chat_tokenizer

from core.errors import UserError
from core.llm import GenParams, make_backend, vllm_lease
from core.llm.vllm_backend import PromptTooLongError, fold_system_turn, template_takes_system

QUESTION = [{"role": "system", "content": "Solve it step by step."}, {"role": "user", "content": "What is 2 + 3?"}]
NO_SYSTEM_TEMPLATE = (  # Gemma's rule: a system turn is an error
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> dict[str, str]:
    """Two 'models' (tokenizer folders; the fake engine needs no weights): ChatML, and one refusing system turns."""
    chatml = tmp_path_factory.mktemp("chatml")
    tiny_chat_tokenizer().save_pretrained(chatml)
    gemma = tmp_path_factory.mktemp("gemma_like")
    tiny_chat_tokenizer(NO_SYSTEM_TEMPLATE).save_pretrained(gemma)
    return {"chatml": str(chatml), "gemma": str(gemma)}


@pytest.fixture
def engine_cls(monkeypatch):
    cls = fake_vllm.install(monkeypatch)
    yield cls
    vllm_lease.release_gpu()


def _run(coro):
    return asyncio.run(coro)


def test_each_request_keeps_its_own_sampling_params_and_seed(engine_cls, model_dirs):
    llm = make_backend("vllm", model=model_dirs["chatml"])
    try:

        async def draw():
            params = [
                GenParams(temperature=0.8, max_tokens=30, seed=1),
                GenParams(temperature=0.8, max_tokens=30, seed=2),
                GenParams(temperature=0.8, max_tokens=30, seed=1),
                GenParams(temperature=0.0, max_tokens=7, seed=3, logprobs=2),
            ]
            return await asyncio.gather(*(llm.chat(QUESTION, n=2, params=p) for p in params))

        a, b, again, greedy = _run(draw())
        engine = engine_cls.built[0]
        got = sorted((p.seed, p.temperature, p.max_tokens, p.logprobs, p.n) for p in engine.requests)
        assert got == [(1, 0.8, 30, None, 2), (1, 0.8, 30, None, 2), (2, 0.8, 30, None, 2), (3, 0.0, 7, 2, 2)]
        # the same prompt in one batch: distinct seeds give distinct samples, the same seed the same ones
        assert [c.text for c in a] != [c.text for c in b]
        assert [c.text for c in a] == [c.text for c in again]
        assert a[0].text != a[1].text  # the n samples of one request differ (children seeded seed + index)
        assert greedy[0].text == greedy[1].text and greedy[0].logprobs and len(greedy[0].logprobs[0]) == 2
        assert all(c.prompt_tokens > 10 and c.completion_tokens == len(c.text.split()) for c in a)
        assert llm.usage.completions == 8
    finally:
        llm.close()


def test_requests_finish_on_their_own_no_batch_barrier(engine_cls, model_dirs):
    engine_cls.step_s = 0.003
    llm = make_backend("vllm", model=model_dirs["chatml"])
    try:
        long_params, short_params = GenParams(max_tokens=200, seed=5), GenParams(max_tokens=2, seed=6)

        async def both():
            return await asyncio.gather(llm.chat(QUESTION, params=long_params), llm.chat(QUESTION, params=short_params))

        long, short = _run(both())
        assert short[0].finish_reason == "length" and short[0].completion_tokens == 2
        assert long[0].finish_reason == "stop" and long[0].completion_tokens >= 10
        # the short request came back first: it did not wait for its neighbour's longer sequence
        assert [p.max_tokens for p in engine_cls.built[0].finished] == [2, 200]
    finally:
        llm.close()
        engine_cls.step_s = 0.0005


def test_a_cancelled_or_too_long_request_fails_alone(engine_cls, model_dirs):
    llm = make_backend("vllm", model=model_dirs["chatml"], max_model_len=64)
    try:

        async def mixed():
            params = GenParams(max_tokens=40, seed=1)
            first = asyncio.ensure_future(llm.chat(QUESTION, params=params))
            doomed = asyncio.ensure_future(llm.chat(QUESTION, params=GenParams(max_tokens=40, seed=2)))
            too_long = [{"role": "user", "content": "seven " * 200}]
            overflow = asyncio.ensure_future(llm.chat(too_long, params=params))
            last = asyncio.ensure_future(llm.chat(QUESTION, params=GenParams(max_tokens=40, seed=3)))
            await asyncio.sleep(0.005)
            doomed.cancel()
            return await asyncio.gather(first, doomed, overflow, last, return_exceptions=True)

        first, doomed, overflow, last = _run(mixed())
        assert isinstance(doomed, asyncio.CancelledError)
        assert isinstance(overflow, PromptTooLongError) and "over the model's context of 64" in str(overflow)
        assert first[0].text and last[0].text
        engine = engine_cls.built[0]
        deadline = time.monotonic() + 5
        while not engine.aborted and time.monotonic() < deadline:  # the abort runs on the engine's own loop
            time.sleep(0.01)
        assert len(engine.aborted) == 1 and len(engine.finished) == 2
        assert llm.in_flight() == 0
    finally:
        llm.close()


def test_one_engine_at_a_time_and_released_before_the_next_loads(engine_cls, model_dirs):
    one = make_backend("vllm", model=model_dirs["chatml"], gpu_memory_utilization=0.5, tensor_parallel_size=2)
    _run(one.chat(QUESTION, params=GenParams(seed=1)))
    two = make_backend("vllm", model=model_dirs["gemma"])  # an evaluation's next checkpoint, a verifier model...
    _run(two.chat(QUESTION, params=GenParams(seed=1)))
    assert engine_cls.most_live == 1 and engine_cls.built[0].dead
    _run(one.chat(QUESTION, params=GenParams(seed=1)))  # the first backend, asked again, loads again
    assert engine_cls.most_live == 1 and len(engine_cls.built) == 3 and engine_cls.built[1].dead
    vllm_lease.release_gpu()  # what a GPU scorer does before it loads its model
    assert engine_cls.live == []
    two.close()
    one.close()
    args = engine_cls.built[0].args
    assert (args.gpu_memory_utilization, args.tensor_parallel_size, args.dtype) == (0.5, 2, "auto")
    with pytest.raises(RuntimeError, match="closed"):
        _run(one.chat(QUESTION))


def test_the_engine_is_built_off_the_event_loop(engine_cls, model_dirs):
    engine_cls.build_s = 0.6

    async def flow():
        started = time.monotonic()
        llm = make_backend("vllm", model=model_dirs["chatml"])
        built_in = time.monotonic() - started
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        tick = asyncio.ensure_future(ticker())
        await llm.chat(QUESTION, params=GenParams(seed=1))
        tick.cancel()
        llm.close()
        return built_in, ticks

    built_in, ticks = _run(flow())
    assert built_in < 0.3 and ticks >= 10  # the loop kept running while the engine loaded


def test_a_template_without_system_turns_gets_the_system_text_in_the_first_user_turn(engine_cls, model_dirs):
    from transformers import AutoTokenizer

    gemma = AutoTokenizer.from_pretrained(model_dirs["gemma"])
    assert not template_takes_system(gemma)
    assert template_takes_system(AutoTokenizer.from_pretrained(model_dirs["chatml"]))
    llm = make_backend("vllm", model=model_dirs["gemma"])
    try:
        [completion] = _run(llm.chat(QUESTION, params=GenParams(seed=1)))
        assert completion.text
        turn = "<start_of_turn>user\nSolve it step by step.\n\nWhat is 2 + 3?<end_of_turn>\n"
        expected = gemma(turn + "<start_of_turn>model\n", add_special_tokens=False)["input_ids"]
        assert engine_cls.built[0].prompts[0] == expected and gemma.unk_token_id not in expected
    finally:
        llm.close()
    assert fold_system_turn([{"role": "system", "content": "S"}]) == [{"role": "user", "content": "S"}]


def test_bad_engine_options_are_one_sentence():
    with pytest.raises(UserError, match="--gpu-memory-utilization must be a share"):
        make_backend("vllm", gpu_memory_utilization=1.5)
    with pytest.raises(UserError, match="--dtype must be one of"):
        make_backend("vllm", dtype="int3")
    with pytest.raises(UserError, match="--tensor-parallel-size"):
        make_backend("vllm", tensor_parallel_size=0)


def test_an_engine_that_cannot_start_fails_each_request_with_one_sentence(engine_cls, model_dirs, monkeypatch):
    def no_gpu(args, **_):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB\nmore detail")

    monkeypatch.setattr(engine_cls, "from_engine_args", classmethod(lambda cls, args, **kw: no_gpu(args)))
    llm = make_backend("vllm", model=model_dirs["chatml"])
    try:
        with pytest.raises(UserError, match=r"^vLLM could not start .* \(CUDA out of memory\. Tried to allocate"):
            _run(llm.chat(QUESTION))
    finally:
        llm.close()
