"""Orchestration throughput: `flows run augment-gsm8k` on all 7,473 GSM8K train problems against an instant-answer
local OpenAI-compatible server, so the figure is the pipeline's own cost (Prefect, shards, journal, filters), not a
model's. Prints problems/s, requests/s and the flow process's peak memory, per task runner.

    python bench/bench_orchestration.py                               # loop and threads, AnsAug (1 request/problem)
    python bench/bench_orchestration.py --task-runners loop,threads,dask --augmenters ansaug,rephrase,sv,fobar
    python bench/bench_orchestration.py --kill-trials 20 --limit 200  # kill -9 at random points, resume, compare

The dataset defaults to shared/data/gsm8k/train.jsonl beside the checkout (GSM8K's train split as JSONL); any
GSM8K-form .jsonl works. Each run is the real CLI in a subprocess; set PREFECT_API_URL to use a running server
(otherwise each run starts Prefect's ephemeral server, counted in "wall" but not in "generation").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from core.journal import written_pairs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the loopback fake server the tests use

from fake_openai import FakeOpenAI  # noqa: E402

DEFAULT_DATASET = REPO.parent / "shared" / "data" / "gsm8k" / "train.jsonl"


def cli(url: str, dataset: str, out: Path, args: argparse.Namespace, runner: str) -> list[str]:
    cmd = [
        sys.executable, "-m", "flows.cli", "run", "augment-gsm8k", "--dataset", dataset, "--backend", "openai",
        "--model", "fake", "--base-url", url, "--augmenters", args.augmenters, "--shard-size", str(args.shard_size),
        "--concurrency", str(args.concurrency), "--task-runner", runner, "--no-report", "--no-near-dedup",
        "--no-decontaminate", "--out", str(out),
    ]  # fmt: skip
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    return cmd


def env() -> dict:
    return {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120", "HF_HUB_OFFLINE": "1"}


def run_once(url: str, dataset: str, args: argparse.Namespace, runner: str, server: FakeOpenAI) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        asked = server.requests
        started = time.perf_counter()
        # a fresh interpreter measures its own peak: RUSAGE_CHILDREN would keep the largest child seen so far
        wrapped = [
            sys.executable, "-c",
            "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
            "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(code)",
            *cli(url, dataset, out, args, runner),
        ]  # fmt: skip
        done = subprocess.run(wrapped, capture_output=True, text=True, env=env(), cwd=REPO)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{runner} run failed:\n{done.stderr[-3000:]}")
        peak_kb = int(done.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
        stats = json.loads((out / "stats.json").read_text())
    problems = stats["problems"]
    gen = stats["generation_seconds"]
    return {
        "runner": runner,
        "problems": problems,
        "pairs": stats["pairs_done_now"],
        "requests": server.requests - asked,
        "generation_s": gen,
        "wall_s": round(wall, 1),
        "problems_per_s": round(problems / gen, 1),
        "problems_per_s_wall": round(problems / wall, 1),
        "requests_per_s": round((server.requests - asked) / gen, 1),
        "peak_rss_mib": round(peak_kb / 1024),
        "kept": stats["funnel"]["total"]["kept"],
    }


def throughput(args: argparse.Namespace, dataset: str) -> None:
    print(f"dataset={dataset} limit={args.limit or 'all'} augmenters={args.augmenters} shard_size={args.shard_size} "
          f"concurrency={args.concurrency} cpus={os.cpu_count()}")  # fmt: skip
    with FakeOpenAI() as server:
        for runner in args.task_runners.split(","):
            r = run_once(server.url, dataset, args, runner, server)
            print(
                f"{r['runner']:<8} {r['problems']} problems, {r['pairs']} pairs, {r['requests']} requests: "
                f"generation {r['generation_s']:.1f} s = {r['problems_per_s']} problems/s "
                f"({r['requests_per_s']} requests/s); wall {r['wall_s']} s = {r['problems_per_s_wall']} problems/s; "
                f"peak RSS {r['peak_rss_mib']} MiB; kept {r['kept']}",
                flush=True,
            )


def _pairs(out: Path) -> list[tuple[str, str]]:
    return written_pairs(out / "journal")


def kill_trials(args: argparse.Namespace, dataset: str) -> None:
    """Each trial: kill -9 after a random share of the pairs (1-3 times), resume, compare with an uninterrupted run."""
    import polars as pl

    rng = random.Random(args.seed)
    ok = 0
    with FakeOpenAI(delay_s=args.delay) as server, tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "reference"
        subprocess.run(cli(server.url, dataset, reference, args, "loop"), check=True, capture_output=True, env=env())
        want = pl.read_parquet(reference / "samples.parquet").sort("id")
        total = len(_pairs(reference))
        print(f"reference: {total} pairs, {want.filter('keep').height} kept samples")
        for trial in range(args.kill_trials):
            out = Path(tmp) / f"trial-{trial}"
            cmd = cli(server.url, dataset, out, args, "loop")
            kills = []
            for _ in range(rng.randint(1, 3)):
                at = rng.randint(0, total)  # pairs journaled when the kill lands (total: while filtering/writing)
                proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
                while proc.poll() is None and (len(_pairs(out)) if (out / "journal").exists() else 0) < at:
                    time.sleep(0.02)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills.append(f"{at}:{'killed' if proc.returncode == -signal.SIGKILL else 'ended'}")
            subprocess.run(cmd, check=True, capture_output=True, env=env())
            pairs = _pairs(out)
            got = pl.read_parquet(out / "samples.parquet").sort("id")
            same = len(pairs) == total and max(Counter(pairs).values()) == 1 and got.equals(want)
            ok += same
            verdict = "same as the reference" if same else "DIFFERENT"
            print(f"trial {trial + 1}: kills at {', '.join(kills)} pairs -> {verdict}", flush=True)
    print(f"{ok}/{args.kill_trials} trials ended equal to the uninterrupted run, without duplicates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET), help="GSM8K-form .jsonl (default: GSM8K train)")
    parser.add_argument("--limit", type=int, default=None, help="first N problems only (default: all)")
    parser.add_argument("--augmenters", default="ansaug", help="comma list (default: ansaug)")
    parser.add_argument("--task-runners", default="loop,threads", help="comma list of loop, threads, dask, ray")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--shard-size", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--kill-trials", type=int, default=0, help="run this many kill -9 / resume trials instead")
    parser.add_argument("--delay", type=float, default=0.02, help="server delay per request in kill trials (s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not Path(args.dataset).is_file():
        raise SystemExit(f"{args.dataset} does not exist; pass --dataset with a GSM8K-form .jsonl file.")
    if args.kill_trials:
        kill_trials(args, args.dataset)
    else:
        throughput(args, args.dataset)


if __name__ == "__main__":
    main()
