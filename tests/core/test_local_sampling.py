"""The local backend samples each completion from its own seed, whatever shares its batch (tiny random Llama)."""

from __future__ import annotations

import asyncio

import pytest
from tiny_models import save_tiny_llama, tiny_chat_tokenizer

from core.llm.base import GenParams
from core.llm.batching import Request

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_local(tmp_path_factory):
    from transformers import LlamaForCausalLM

    from core.llm.local import LocalBackend

    folder = save_tiny_llama(LlamaForCausalLM, tiny_chat_tokenizer(), tmp_path_factory.mktemp("tiny_local"))
    llm = LocalBackend(folder, max_batch=64, device="cpu")
    yield llm
    llm.close()


def _request(text: str, n: int = 3, **params) -> Request:
    return Request([{"role": "user", "content": text}], n, GenParams(max_tokens=12, **params))


def _texts(completions) -> list[tuple[str, int]]:
    return [(c.text, c.completion_tokens) for c in completions]


def test_a_seeded_request_gives_the_same_completions_alone_and_in_any_batch(tiny_local):
    """Left padding changes this model's logits in the last bits (up to 6e-8 measured), so equality holds unless a
    row's uniform draw falls within that of a boundary of its cumulative distribution: exact here, and by design."""
    mine = _request("What is 2 + 3 ?", seed=11)
    [alone] = tiny_local.generate_batch([mine])
    # other prompts (other lengths, so other padding), other seeds, other temperatures, before and after it
    first = tiny_local.generate_batch([_request("Solve it", seed=11), mine, _request("seven", n=2, temperature=0.0)])
    last = tiny_local.generate_batch([_request("Solve it step by step .", seed=3, temperature=1.3), mine])
    assert _texts(first[1]) == _texts(alone)
    assert _texts(last[1]) == _texts(alone)
    assert len({t for t, _ in _texts(alone)}) == 3  # its own n completions differ from each other
    assert _texts(first[0]) != _texts(alone)  # the same seed on another prompt is another sample


def test_different_seeds_give_different_samples_and_no_seed_is_fresh_each_time(tiny_local):
    a, b = tiny_local.generate_batch([_request("What is 2 + 3 ?", seed=1), _request("What is 2 + 3 ?", seed=2)])
    assert _texts(a) != _texts(b)
    [c] = tiny_local.generate_batch([_request("What is 2 + 3 ?")])
    [d] = tiny_local.generate_batch([_request("What is 2 + 3 ?")])
    assert _texts(c) != _texts(d)


def test_temperature_zero_is_greedy_decoding(tiny_local):
    import torch

    [greedy] = tiny_local.generate_batch([_request("What is 2 + 3 ?", n=2, temperature=0.0, seed=5)])
    enc = tiny_local.tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2 + 3 ?"}], add_generation_prompt=True, return_tensors="pt",
        return_dict=True,
    )  # fmt: skip
    with torch.inference_mode():
        reference = tiny_local.model.generate(
            **enc, do_sample=False, max_new_tokens=12, pad_token_id=tiny_local.tokenizer.pad_token_id
        )
    expected = tiny_local.tokenizer.decode(reference[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert [c.text for c in greedy] == [expected, expected]


def test_a_tiny_top_p_leaves_only_the_most_likely_token(tiny_local):
    question = "What is 2 + 3 ?"
    nucleus, greedy = tiny_local.generate_batch(
        [_request(question, n=2, temperature=0.9, top_p=1e-6, seed=4), _request(question, n=1, temperature=0.0)]
    )
    assert [c.text for c in nucleus] == [greedy[0].text] * 2


def test_requests_differing_in_temperature_share_a_batch_through_chat(tiny_local):
    calls = []
    generate = tiny_local.generate_batch
    tiny_local.generate_batch = lambda requests: calls.append(len(requests)) or generate(requests)
    try:

        async def main():
            return await asyncio.gather(
                *(
                    tiny_local.chat([{"role": "user", "content": "seven"}], n=2, params=GenParams(
                        max_tokens=6, seed=i, temperature=0.0 if i % 2 else 0.9))
                    for i in range(4)
                )
            )  # fmt: skip

        results = asyncio.run(main())
    finally:
        del tiny_local.generate_batch
    assert calls == [4]
    assert results[1][0].text == results[1][1].text == results[3][0].text  # greedy rows agree with each other
