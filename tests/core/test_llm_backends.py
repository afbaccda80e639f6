"""LLM backends: the batcher's scheduling, the openai backend's retries, and the real SmolLM2 in batches."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from fake_openai import FakeOpenAI

from core.errors import UserError
from core.llm import GenParams, make_backend
from core.llm.base import Completion
from core.llm.batching import BatchingBackend
from core.llm.openai_backend import LLMCallError, ServerBroken


class Recording(BatchingBackend):
    """generate_batch records each batch; a scheduling test double (the real engine is tested below)."""

    name = "recording"

    def __init__(self, max_batch: int, fail: bool = False) -> None:
        super().__init__(max_batch=max_batch, gather_ms=50)
        self.batches: list[list[tuple[str, int, GenParams]]] = []
        self.fail = fail

    def generate_batch(self, requests):
        if self.fail:
            raise RuntimeError("engine broke")
        self.batches.append([(r.messages[0]["content"], r.n, r.params) for r in requests])
        return [
            [Completion(text=f"{r.messages[0]['content']}#{k}", finish_reason="stop") for k in range(r.n)]
            for r in requests
        ]


async def ask(llm, text, n=1, params=GenParams()):
    return await llm.chat([{"role": "user", "content": text}], n=n, params=params)


def test_concurrent_calls_are_gathered_into_batches():
    llm = Recording(max_batch=8)

    async def main():
        return await asyncio.gather(*(ask(llm, f"q{i}", n=2, params=GenParams(seed=i)) for i in range(8)))

    results = asyncio.run(main())
    llm.close()
    assert [[c.text for c in r] for r in results] == [[f"q{i}#0", f"q{i}#1"] for i in range(8)]
    assert len(llm.batches) == 2  # 16 completions in batches of 8, seeds notwithstanding
    assert all(sum(n for _, n, _ in batch) <= 8 for batch in llm.batches)
    stats = llm.batch_stats()  # what stats.json reports for the run
    assert stats["batches"] == 2 and stats["completions_per_batch"] == {8: 2}
    assert stats["idle_s"] >= 0 and stats["gather_s"] >= 0 and stats["generate_s"] >= 0


def test_different_sampling_params_never_share_a_batch():
    llm = Recording(max_batch=16)

    async def main():
        await asyncio.gather(
            *(ask(llm, f"q{i}", params=GenParams(temperature=0.0 if i % 2 else 0.7)) for i in range(6))
        )

    asyncio.run(main())
    llm.close()
    for batch in llm.batches:
        assert len({p.temperature for _, _, p in batch}) == 1
    assert sum(len(b) for b in llm.batches) == 6


def test_calls_from_several_threads_and_event_loops_share_the_engine():
    llm = Recording(max_batch=32)
    results = []

    def worker(i):
        results.append(asyncio.run(ask(llm, f"t{i}"))[0].text)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    llm.close()
    assert sorted(results) == [f"t{i}#0" for i in range(4)]


def test_an_engine_error_reaches_every_caller():
    llm = Recording(max_batch=8, fail=True)

    async def main():
        return await asyncio.gather(*(ask(llm, f"q{i}") for i in range(3)), return_exceptions=True)

    errors = asyncio.run(main())
    llm.close()
    assert all(isinstance(e, RuntimeError) for e in errors)


def test_openai_backend_retries_faults_and_counts_them():
    with FakeOpenAI(fault_share=0.2) as server:
        llm = make_backend("openai", model="fake", base_url=server.url)
        llm.backoff_s = 0.01

        async def main():
            return await asyncio.gather(*(ask(llm, f"Question {i}?", n=2) for i in range(20)))

        results = asyncio.run(main())
    assert all(len(r) == 2 and r[0].text.endswith(f"The answer is: {i}") for i, r in enumerate(results))
    assert server.faults > 0
    assert llm.usage.retries == server.faults  # every 429 / 500 / empty / broken answer was retried once
    assert llm.usage.completions == 40


def test_openai_backend_gives_up_on_a_4xx_in_one_sentence():
    with FakeOpenAI(reject_for=lambda text: "prompt too long" if "long" in text else None) as server:
        llm = make_backend("openai", model="fake", base_url=server.url)
        with pytest.raises(LLMCallError, match="HTTP 400.*prompt too long"):
            asyncio.run(ask(llm, "a long one"))
    assert llm.usage.retries == 0 and llm.broken is None  # one bad request is not a broken server


def test_openai_backend_with_a_wrong_model_name_stops_every_call_in_one_sentence():
    with FakeOpenAI() as server:
        llm = make_backend("openai", model="missing", base_url=server.url)
        llm.backoff_s = 0.01

        async def main():
            return await asyncio.gather(*(ask(llm, f"q {i}") for i in range(8)), return_exceptions=True)

        results = asyncio.run(main())
    assert all(isinstance(r, ServerBroken) for r in results)
    message = str(results[0])
    assert "HTTP 404" in message and "does not exist" in message and "--model" in message
    assert len(message.splitlines()) == 1


def test_openai_backend_spreads_calls_over_several_urls():
    with FakeOpenAI() as a, FakeOpenAI() as b:
        llm = make_backend("openai", model="fake", base_url=f"{a.url},{b.url}")

        async def main():
            await asyncio.gather(*(ask(llm, f"q {i}") for i in range(10)))

        asyncio.run(main())
    assert a.requests == 5 and b.requests == 5


def test_openai_backend_keeps_one_connection_per_request_in_flight_and_reuses_them():
    """64 requests at concurrency 8 against a keep-alive server: never more than 8 connections (one per request in
    flight, each reused by later requests), plus the start-up check's own."""
    with FakeOpenAI(keep_alive=True, delay_s=0.02) as server:
        llm = make_backend("openai", model="fake", base_url=server.url, concurrency=8)

        async def main():
            return await asyncio.gather(*(ask(llm, f"Question {i}?") for i in range(64)))

        results = asyncio.run(main())
    assert [r[0].text.endswith(f"The answer is: {i}") for i, r in enumerate(results)] == [True] * 64
    assert server.chat_requests == 64 and server.peak_in_flight == 8
    assert server.connections <= 8 + 1


def test_openai_backend_needs_a_reachable_server_and_a_model():
    with pytest.raises(UserError, match="Cannot reach the LLM server"):
        make_backend("openai", model="m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UserError, match="needs --model"):
        make_backend("openai", model=None, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UserError, match="Unknown backend"):
        make_backend("magic")


def test_openai_backend_checks_certificates_for_https_only(monkeypatch):
    """Plain http never makes a TLS connection, so a run against a local server does not load the CA bundle
    (0.05-0.2 s of CPU before its first request); https keeps the certificate-checking context."""
    import ssl

    from core.llm import openai_backend

    loads = []
    real_load = ssl.SSLContext.load_verify_locations
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", lambda self, *a, **k: loads.append(a or k))
    openai_backend._tls_context.cache_clear()
    with FakeOpenAI() as server:
        llm = make_backend("openai", model="fake", base_url=server.url)
        assert [c.text for c in asyncio.run(ask(llm, "2+2?"))]
    assert loads == []
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", real_load)
    openai_backend._tls_context.cache_clear()
    context = openai_backend._verify_for("HTTPS://api.example.com/v1")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    # plain http: one shared context for every client (httpx would build one per client for verify=False)
    plain = openai_backend._verify_for("http://127.0.0.1:8000/v1")
    assert plain is openai_backend._verify_for("http://10.0.0.2:8000/v1") and plain.verify_mode == ssl.CERT_NONE


def test_vllm_backend_without_vllm_says_how_to_get_it():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="pip install 'mathaug\\[gpu\\]'"):
            make_backend("vllm")
    else:
        pytest.skip("vLLM is installed here")


@pytest.mark.slow
def test_local_smollm2_batches_concurrent_calls_and_returns_logprobs():
    llm = make_backend("local", max_batch=8)
    calls = []
    generate = llm.generate_batch
    llm.generate_batch = lambda requests: calls.append(sum(r.n for r in requests)) or generate(requests)
    params = GenParams(max_tokens=8, temperature=0.7)

    async def main():
        return await asyncio.gather(*(ask(llm, f"Say a number bigger than {i}.", n=2, params=params) for i in range(4)))

    results = asyncio.run(main())
    greedy = asyncio.run(ask(llm, "What is 2 + 2?", params=GenParams(max_tokens=4, temperature=0.0, logprobs=3)))
    llm.close()
    assert llm.name == "SmolLM2-135M-Instruct"
    assert all(len(r) == 2 and all(c.text and c.completion_tokens > 0 for c in r) for r in results)
    assert calls[0] == 8  # the four concurrent calls went out as one batch of 8
    [c] = greedy
    assert c.logprobs is not None and 1 <= len(c.logprobs) <= 4 and all(len(step) == 3 for step in c.logprobs)


def test_retry_after_is_read_as_seconds_or_an_http_date():
    from email.utils import format_datetime

    from core.llm.endpoint import parse_retry_after

    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("-4") == 0.0
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 7, UTC), usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(7.0, abs=1.0)


def test_openai_backend_waits_out_retry_after_before_asking_again():
    with FakeOpenAI(burst_429=(0, 1), retry_after="1") as server:
        llm = make_backend("openai", model="fake", base_url=server.url, max_retries=0)
        [reply] = asyncio.run(ask(llm, "Question 5?"))
    assert reply.text.endswith("The answer is: 5")
    (limited_at, first), (retried_at, second) = server.arrivals
    assert (first, second) == (429, 200)
    assert retried_at - limited_at >= 0.95  # the server said one second
    assert llm.usage.retries == 1 and llm.usage.extra["rate_limited"] == 1


def test_openai_backend_concurrency_falls_under_429s_and_recovers():
    with FakeOpenAI(delay_s=0.02, burst_429=(20, 12), retry_after="0") as server:
        llm = make_backend("openai", model="fake", base_url=server.url, concurrency=8, max_retries=0)
        [endpoint] = llm.endpoints
        levels = []

        async def call(i):
            await ask(llm, f"Question {i}?")
            levels.append(endpoint.level)

        async def main(first, count):
            await asyncio.gather(*(call(i) for i in range(first, first + count)))

        asyncio.run(main(0, 40))  # the burst: 12 answers of 429, none of them a failure
        lowest = min(levels)
        asyncio.run(main(40, 100))  # plain sailing again: one more slot per run of successes
    assert server.fault_counts["429-limit"] == 12 and llm.usage.failures == 0
    assert lowest <= 6  # cut to 0.75 of 8 at least once
    assert endpoint.level == 8  # and back to the ceiling
    assert llm.status() == "concurrency 8/8"


def test_openai_backend_under_a_server_that_keeps_answering_429_slows_down_and_never_fails():
    with FakeOpenAI(delay_s=0.05, max_in_flight=3, retry_after="0") as server:
        llm = make_backend("openai", model="fake", base_url=server.url, concurrency=24, max_retries=0)

        async def main():
            return await asyncio.gather(*(ask(llm, f"Question {i}?") for i in range(60)))

        results = asyncio.run(main())
    assert all(r[0].text.endswith(f"The answer is: {i}") for i, r in enumerate(results))
    assert server.fault_counts["429-limit"] > 0 and llm.usage.failures == 0
    assert llm.endpoints[0].level < 12  # it learned that the server holds far fewer than 24
