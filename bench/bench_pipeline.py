"""Pipeline vs raw batched generation on the local backend, same prompts: the ratio of generated tokens/s.

raw:      the AnsAug prompts of N problems sent straight to the backend's generate_batch, in full batches.
pipeline: `augment-gsm8k --augmenters ansaug` on the same problems (Prefect flow, shard tasks, the batcher
          gathering concurrent augmenter calls, the journal), timed over its generation phase (stats.json).

    python bench/bench_pipeline.py --problems 16 --n 4 --max-tokens 128 --max-batch 16
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
    tokens, started, sizes = 0, time.perf_counter(), []
    per_batch = max(1, max_batch // n)
    for i in range(0, len(requests), per_batch):
        batch = requests[i : i + per_batch]
        sizes.append(sum(r.n for r in batch))
        for completions in backend.generate_batch(batch):
            tokens += sum(c.completion_tokens for c in completions)
    backend.close()
    return tokens, time.perf_counter() - started, f"batches of {sizes} completions"


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


def pipeline_rate(limit: int, n: int, max_tokens: int, max_batch: int, seed: int) -> tuple[int, float, str]:
    from flows.augment import augment_gsm8k

    with tempfile.TemporaryDirectory() as out:
        asyncio.run(
            augment_gsm8k(
                limit=limit,
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
    parser.add_argument("--rounds", type=int, default=2, help="alternate raw and pipeline this many times")
    args = parser.parse_args()

    from core.datasets import load_problems

    problems = load_problems("sample", limit=args.problems).to_dicts()
    lines = [f"problems={args.problems} n={args.n} max_tokens={args.max_tokens} max_batch={args.max_batch}"]
    ratios = []
    for r in range(args.rounds):  # alternating order, so a change in machine load hits both sides
        order = ["raw", "pipeline"] if r % 2 == 0 else ["pipeline", "raw"]
        rates = {}
        for side in order:
            if side == "raw":
                tokens, seconds, detail = raw_rate(problems, args.n, args.max_tokens, args.max_batch, args.seed)
            else:
                tokens, seconds, detail = pipeline_rate(
                    args.problems, args.n, args.max_tokens, args.max_batch, args.seed
                )
            rates[side] = tokens / seconds
            lines.append(
                f"round {r + 1} {side:<8}: {tokens} tokens in {seconds:.1f} s = {rates[side]:.1f} tokens/s "
                f"({_load()}; {detail})"
            )
            print(lines[-1], flush=True)
        ratios.append(rates["pipeline"] / rates["raw"])
        lines.append(f"round {r + 1} pipeline/raw ratio: {ratios[-1]:.2f}")
    lines.append(f"median pipeline/raw ratio over {args.rounds} rounds: {statistics.median(ratios):.2f}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
