"""Pipeline vs raw batched generation on the local backend, same prompts: the ratio of generated tokens/s.

raw:      the AnsAug prompts of N problems sent straight to the backend's generate_batch, in full batches.
pipeline: `augment-gsm8k --augmenters ansaug` on the same problems (Prefect flow, shard tasks, the batcher
          gathering concurrent augmenter calls, the journal), timed over its generation phase (stats.json).
batcher:  the same requests as concurrent chat() calls through the batcher, no Prefect (the batcher's own cost).
continuous: transformers' own continuous batching (`model.generate_batch`) on the same prompts, for comparison; it
          cannot seed each request (see continuous_rate), so the local backend does not use it.

Each line prints the machine's load and the batches run (the pipeline's: the batcher's batch sizes and the worker's
idle / gather / generate seconds). With per-request seeds, raw and pipeline generate the very same tokens, so their
token counts must agree.

    python bench/bench_pipeline.py --problems 8 --n 4 --max-tokens 96 --max-batch 16 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def raw_rate(problems: list[dict], n: int, max_tokens: int, max_batch: int, seed: int) -> tuple[int, float, str]:
    from augmenters.base import AugmentConfig, solver_messages
    from core.llm.batching import Request
    from core.llm.local import LocalBackend

    backend = LocalBackend(max_batch=max_batch)
    cfg = AugmentConfig(max_tokens=max_tokens, seed=seed)
    requests = [Request(solver_messages(p["question"]), n, cfg.params(seed_key=f"{p['id']}:ansaug")) for p in problems]
    backend.generate_batch(requests[:1])  # warm-up
    tokens, started, batches = 0, time.perf_counter(), []
    per_batch = max(1, max_batch // n)
    for i in range(0, len(requests), per_batch):
        batch, batch_started = requests[i : i + per_batch], time.perf_counter()
        for completions in backend.generate_batch(batch):
            tokens += sum(c.completion_tokens for c in completions)
        batches.append((sum(r.n for r in batch), round(time.perf_counter() - batch_started, 2)))
    backend.close()
    return tokens, time.perf_counter() - started, f"batches (completions, seconds): {batches}"


def batcher_rate(problems: list[dict], n: int, max_tokens: int, max_batch: int, seed: int) -> tuple[int, float, str]:
    """The same requests as concurrent `chat()` calls through the batcher, without Prefect: the batcher's own cost."""
    from augmenters.base import AugmentConfig, solver_messages
    from core.llm.local import LocalBackend

    backend = LocalBackend(max_batch=max_batch)
    cfg = AugmentConfig(max_tokens=max_tokens, seed=seed)

    async def run() -> list:
        calls = [(solver_messages(p["question"]), cfg.params(seed_key=f"{p['id']}:ansaug")) for p in problems]
        return await asyncio.gather(*(backend.chat(messages, n, params) for messages, params in calls))

    started = time.perf_counter()
    replies = asyncio.run(run())
    seconds = time.perf_counter() - started
    backend.close()
    tokens = sum(c.completion_tokens for reply in replies for c in reply)
    return tokens, seconds, f"batcher {backend.batch_stats()}"


def continuous_rate(problems: list[dict], n: int, max_tokens: int, max_batch: int, seed: int) -> tuple[int, float, str]:
    """transformers 5's own continuous batching (`model.generate_batch`) on the same prompts and model.

    It samples every row from one global generator (continuous_batching/model_runner.py `_sample`:
    `torch.multinomial(probs, num_samples=1)`, seeded once per manager in distributed.py `set_tp_seed`), so it
    cannot give each request its own seed; measured here for its speed only.
    """
    from transformers import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    from augmenters.base import AugmentConfig, solver_messages
    from core.llm.local import LocalBackend

    backend = LocalBackend(max_batch=max_batch)
    tok, model = backend.tokenizer, backend.model
    params = AugmentConfig(max_tokens=max_tokens, seed=seed).params()
    inputs = [
        tok.apply_chat_template(solver_messages(p["question"]), add_generation_prompt=True, tokenize=True,
                                return_dict=False)
        for p in problems
        for _ in range(n)
    ]  # fmt: skip
    config = GenerationConfig(
        do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0, max_new_tokens=max_tokens,
        eos_token_id=sorted(backend._eos_ids()), pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    cb_config = ContinuousBatchingConfig(max_requests_per_batch=max_batch, seed=seed)
    model.generate_batch(inputs[:1], generation_config=config, continuous_batching_config=cb_config)  # warm-up
    started = time.perf_counter()
    outputs = model.generate_batch(inputs, generation_config=config, continuous_batching_config=cb_config)
    seconds = time.perf_counter() - started
    tokens = sum(len(o.generated_tokens) for o in outputs.values())
    failed = sum(o.error is not None for o in outputs.values())
    backend.close()
    return tokens, seconds, f"{len(outputs)} sequences, {failed} failed, at most {max_batch} at a time"


def pipeline_rate(problems: list[dict], n: int, max_tokens: int, max_batch: int, seed: int) -> tuple[int, float, str]:
    from flows.augment import augment_gsm8k

    with tempfile.TemporaryDirectory() as out:
        asyncio.run(
            augment_gsm8k(
                limit=len(problems),
                augmenters=("ansaug",),
                out=out,
                config={"ansaug_n": n, "max_tokens": max_tokens, "seed": seed},
                filters={"dedup_threshold": None, "decontaminate": None},
                report=False,
                max_batch=max_batch,
            )
        )
        stats = json.loads((Path(out) / "stats.json").read_text())
    return stats["usage"]["completion_tokens"], stats["generation_seconds"], f"batcher {stats.get('batches')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=4, help="AnsAug samples per problem")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2, help="run every side this many times, in rotating order")
    parser.add_argument(
        "--sides", default="raw,batcher,pipeline,continuous",
        help="comma-separated, raw first: raw, batcher, pipeline, continuous (transformers' own continuous batching)",
    )  # fmt: skip
    args = parser.parse_args()

    from core.datasets import load_problems

    problems = load_problems("sample", limit=args.problems).to_dicts()
    known = {"raw": raw_rate, "batcher": batcher_rate, "pipeline": pipeline_rate, "continuous": continuous_rate}
    wanted = args.sides.split(",")
    if wanted[0] != "raw" or not set(wanted) <= set(known):
        parser.error(f"--sides takes raw first, then any of {', '.join(known)}")
    sides = {side: known[side] for side in wanted}
    head = f"problems={args.problems} n={args.n} max_tokens={args.max_tokens} max_batch={args.max_batch}"
    print(head, flush=True)
    lines, ratios = [head], {side: [] for side in sides if side != "raw"}
    for r in range(args.rounds):  # rotating order, so a change in machine load hits every side
        order = list(sides)[r % len(sides) :] + list(sides)[: r % len(sides)]
        rates = {}
        for side in order:
            tokens, seconds, detail = sides[side](problems, args.n, args.max_tokens, args.max_batch, args.seed)
            rates[side] = tokens / seconds
            lines.append(
                f"round {r + 1} {side:<10}: {tokens} tokens in {seconds:.1f} s = {rates[side]:.1f} tokens/s "
                f"({_load()}; {detail})"
            )
            print(lines[-1], flush=True)
        for side in ratios:
            ratios[side].append(rates[side] / rates["raw"])
            lines.append(f"round {r + 1} {side}/raw ratio: {ratios[side][-1]:.2f}")
    for side, values in ratios.items():
        lines.append(
            f"median {side}/raw ratio over {args.rounds} rounds: {statistics.median(values):.2f} "
            f"(each: {', '.join(f'{v:.2f}' for v in values)})"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
