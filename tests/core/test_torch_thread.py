"""Every in-process model computation runs on one thread (core.torch_thread), whoever calls and from where: two
threads in torch's OpenMP throttle each other's kernels (20-30 % slower generation on a 2-core machine)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from tiny_models import save_tiny_llama, tiny_chat_tokenizer

from core import torch_thread
from core.llm.base import GenParams
from core.llm.batching import Request

torch = pytest.importorskip("torch")


def test_run_returns_results_and_raises_errors_on_one_thread_for_every_caller():
    seen: list[int] = []

    def where(x):
        seen.append(threading.get_ident())
        return x * 2

    assert torch_thread.run(where, 21) == 42
    with pytest.raises(ZeroDivisionError):
        torch_thread.run(lambda: 1 / 0)
    callers = [threading.Thread(target=torch_thread.run, args=(where, i)) for i in range(4)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()

    async def from_a_loop():
        return await asyncio.to_thread(torch_thread.run, where, 1), await torch_thread.run_async(where, 3)

    assert asyncio.run(from_a_loop()) == (2, 6)
    # a job that asks for the torch thread again runs at once instead of waiting for itself
    assert torch_thread.run(lambda: torch_thread.run(where, 5)) == 10
    assert len(seen) == 8 and len(set(seen)) == 1 and seen[0] != threading.get_ident()


@pytest.fixture
def forward_threads():
    """The thread of every nn.Module forward in the process while the test runs (warm-ups and loads included)."""
    threads: set[str] = set()
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, output: threads.add(threading.current_thread().name)
    )
    yield threads
    handle.remove()


def test_the_local_backend_loads_generates_and_batches_on_the_torch_thread(tmp_path, forward_threads):
    from transformers import LlamaForCausalLM

    from core.llm.local import LocalBackend

    folder = save_tiny_llama(LlamaForCausalLM, tiny_chat_tokenizer(), tmp_path / "tiny")
    llm = LocalBackend(folder, max_batch=8, device="cpu")  # its warm-up runs a forward pass
    try:
        assert forward_threads == {"mathaug-torch"}
        params = GenParams(max_tokens=4, seed=1)
        direct = llm.generate_batch([Request([{"role": "user", "content": "one two"}], 2, params)])

        async def through_the_batcher():
            messages = [{"role": "user", "content": "one two"}]
            return await asyncio.gather(*(llm.chat(messages, 2, params) for _ in range(3)))

        batched = asyncio.run(through_the_batcher())
    finally:
        llm.close()
    assert [c.text for c in batched[0]] == [c.text for c in direct[0]]  # the same seeded completions either way
    assert forward_threads == {"mathaug-torch"}


def test_the_embedder_loads_and_encodes_on_the_torch_thread(tmp_path, forward_threads):
    from core.embeddings import Embedder
    from core.sentence_model import load_sentence_model

    load_sentence_model.cache_clear()  # a model loaded by an earlier test would not show its load here
    vectors = Embedder(device="cpu", cache_dir=tmp_path).embed(["Tom has 3 apples.", "He eats one."])
    assert vectors.shape[0] == 2
    assert forward_threads == {"mathaug-torch"}
