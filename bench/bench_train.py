"""Time SFT and GRPO steps of a small Llama built from a config (SmolLM2 tokenizer), on a GPU or the CPU.

    python bench/bench_train.py                       # hidden 512, 8 layers, 20 SFT + 6 GRPO steps
    python bench/bench_train.py --hidden 576 --layers 30 --heads 9 --kv-heads 3   # SmolLM2-135M's shape
    python bench/bench_train.py --vllm colocate       # GRPO generation with vLLM (needs vllm and a GPU)

Prints one line per step (seconds) and a summary: median step time, tokens/s for SFT, completions/s for GRPO.
The data: the bundled GSM8K train sample as a kept dataset (SFT) and as prompts (GRPO).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl


def build_model(folder: Path, hidden: int, layers: int, heads: int, kv_heads: int) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from core.llm.local import bundled_gguf

    gguf = bundled_gguf()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3 // 64 * 64 or 64,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    millions = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"model: {millions:.1f}M parameters, hidden {hidden}, {layers} layers")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def write_kept(run: Path) -> None:
    from core.datasets import load_problems

    problems = load_problems("sample", split="train")
    solutions = [s.split("####")[0].strip() for s in problems["solution"].to_list()]
    frame = pl.DataFrame(
        {
            "query": problems["question"],
            "response": [f"{s}\nThe answer is: {a}" for s, a in zip(solutions, problems["answer"], strict=True)],
            "type": ["GSM_AnsAug"] * problems.height,
            "original_question": problems["question"],
        }
    )
    (run / "dataset").mkdir(parents=True)
    frame.write_parquet(run / "dataset" / "train.parquet")


def step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._start = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter() - self._start)
            print(f"  step {state.global_step}: {self.times[-1]:.3f} s", flush=True)

    return StepTimer()


def summarize(name: str, times: list[float], unit: str, per_step: float) -> None:
    steady = times[1:] or times  # the first step includes warm-up (kernels, allocator)
    median = statistics.median(steady)
    print(f"{name}: {len(times)} steps, first {times[0]:.3f} s, median {median:.3f} s, {per_step / median:.1f} {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--sft-steps", type=int, default=20)
    parser.add_argument("--sft-batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--grpo-steps", type=int, default=6)
    parser.add_argument("--grpo-batch-size", type=int, default=16)
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--max-completion-length", type=int, default=256)
    parser.add_argument("--vllm", choices=["colocate", "server"])
    parser.add_argument("--vllm-server-url")
    args = parser.parse_args()

    from sft.runtime import GrpoOptions, SftOptions, has_cuda
    from sft.train_grpo import build_grpo_trainer
    from sft.train_sft import build_sft_trainer

    print(f"device: {'cuda' if has_cuda() else 'cpu'}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_model(root / "model", args.hidden, args.layers, args.heads, args.kv_heads)
        write_kept(root / "run")

        if args.sft_steps:
            trainer = build_sft_trainer(
                SftOptions(
                    out=str(root / "sft"),
                    model=str(root / "model"),
                    run=str(root / "run"),
                    max_steps=args.sft_steps,
                    batch_size=args.sft_batch_size,
                    max_length=args.max_length,
                    learning_rate=1e-4,
                    logging_steps=max(1, args.sft_steps),
                )
            )
            timer = step_timer()
            trainer.add_callback(timer)
            tokens = sum(len(row["input_ids"]) for row in trainer.train_dataset) / len(trainer.train_dataset)
            trainer.train()
            summarize("sft", timer.times, "tokens/s (unpadded, mean length)", tokens * args.sft_batch_size)

        if args.grpo_steps:
            trainer = build_grpo_trainer(
                GrpoOptions(
                    out=str(root / "grpo"),
                    model=str(root / "model"),
                    problems="sample",
                    max_steps=args.grpo_steps,
                    batch_size=args.grpo_batch_size,
                    num_generations=args.num_generations,
                    max_completion_length=args.max_completion_length,
                    learning_rate=1e-6,
                    logging_steps=1,
                    vllm=args.vllm,
                    vllm_server_url=args.vllm_server_url,
                )
            )
            timer = step_timer()
            trainer.add_callback(timer)
            trainer.train()
            summarize("grpo", timer.times, "completions/s", float(args.grpo_batch_size))


if __name__ == "__main__":
    main()
