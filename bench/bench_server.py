"""How much of a capacity-limited server a `flows run augment-gsm8k --backend openai` run uses.

A stand-in OpenAI-compatible server (its own process, asyncio, HTTP/1.1 keep-alive) has S slots; each completion
holds one slot for L seconds, so a request for n completions holds n slots, and requests beyond the slots queue.
AnsAug with `--ansaug-n 4` on the first P GSM8K train problems therefore cannot take less than the limit P*4*L/S.
For each P the bench runs the real CLI in a subprocess and prints: the limit, the generation phase (stats.json's
generation_seconds), the whole command (process start to exit), the server's busy span (first request to last
reply), and each one's ratio limit/time (1.0 = the server was full the whole time). First, a reference client sends
the same requests over raw sockets and does nothing else: its time is the ceiling the stand-in allows on this
machine (its timers run late when the machine is busy), which no real client can beat.

    python bench/bench_server.py                          # 1,000 and 4,000 problems, 64 slots x 0.2 s
    python bench/bench_server.py --problems 200 --slots 16 --latency 0.1
    PREFECT_API_URL=http://127.0.0.1:4200/api python bench/bench_server.py   # an already running Prefect server

Without PREFECT_API_URL each command starts Prefect's temporary server, which is part of the whole command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GSM8K_TRAIN = Path("/work/shared/data/gsm8k/train.jsonl")
_NUMBER = re.compile(rb"\d+")


# --- the stand-in server ------------------------------------------------------------------------------------------


def _process_cpu_s(pid_path: Path) -> float | None:
    """CPU seconds (user + system) the process whose pid `pid_path` holds has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{int(pid_path.read_text())}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def serve(port: int, slots: int, latency: float, stats_path: Path) -> None:
    """Answer chat completions: each completion waits for a free slot, holds it `latency` seconds. At the first
    request, the CPU time of the client (its pid in client.pid beside the stats file) is noted."""
    pool = asyncio.Semaphore(slots)
    stats = {"requests": 0, "completions": 0, "first": None, "last": None, "peak_busy": 0, "first_cpu": None}
    stats["idle_by_second"] = []  # slot-seconds left idle in each second after the first request
    busy, changed = 0, 0.0

    def account(change: int) -> None:
        """Adds the idle slot-time since the last change to its second, then applies the change."""
        nonlocal busy, changed
        now = time.monotonic()
        if stats["first"] is not None:
            idle, second = stats["idle_by_second"], int(changed - stats["first"])
            idle.extend([0.0] * (second + 1 - len(idle)))
            idle[second] += (slots - busy) * (now - changed)
        busy, changed = busy + change, now

    async def completion() -> None:
        async with pool:
            account(+1)
            stats["peak_busy"] = max(stats["peak_busy"], busy)
            await asyncio.sleep(latency)
            account(-1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal changed
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0]
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                if request_line.startswith(b"GET"):
                    payload = b'{"object": "list", "data": [{"id": "stand-in", "object": "model"}]}'
                else:
                    now = time.monotonic()
                    if stats["first"] is None:
                        stats["first"], stats["first_cpu"] = now, _process_cpu_s(stats_path.with_name("client.pid"))
                        changed = now
                    stats["requests"] += 1
                    request = json.loads(body)
                    n = int(request.get("n", 1))
                    stats["completions"] += n
                    await asyncio.gather(*(completion() for _ in range(n)))
                    stats["last"] = time.monotonic()
                    user = request["messages"][-1]["content"].encode()
                    number = (_NUMBER.findall(user) or [b"0"])[0].decode()
                    text = f"We add the numbers step by step.\\nThe answer is: {number}"
                    choices = ",".join(
                        f'{{"index": {i}, "message": {{"role": "assistant", "content": "{text}"}}, '
                        '"finish_reason": "stop"}'
                        for i in range(n)
                    )
                    payload = (
                        f'{{"id": "c", "object": "chat.completion", "created": 0, "model": "stand-in", '
                        f'"choices": [{choices}], "usage": {{"prompt_tokens": 200, "completion_tokens": {40 * n}, '
                        f'"total_tokens": {200 + 40 * n}}}}}'
                    ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)

    def save() -> None:  # whole or not at all: the bench may read it at any moment
        partial = stats_path.with_suffix(".partial")
        partial.write_text(json.dumps(stats))
        partial.replace(stats_path)

    async with server:
        try:
            while True:
                await asyncio.sleep(0.5)
                save()
        finally:
            save()


# --- the bench ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(slots: int, latency: float, stats_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, __file__, "--serve", str(port), "--slots", str(slots), "--latency", str(latency)]
    proc = subprocess.Popen([*args, "--stats", str(stats_path)], cwd=REPO)
    import httpx

    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(200):
        try:
            httpx.get(url + "/models", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the stand-in server did not start")


def client_env() -> dict[str, str]:
    """The command's environment: this one, with Python's default bytecode cache (a machine that sets
    PYTHONDONTWRITEBYTECODE recompiles the project's modules at every start, 0.2-0.5 s here, which users don't pay)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def warm_bytecode_cache(repo: Path) -> None:
    """Import the command's modules once, so the first measured command does not compile them."""
    code = "import flows.augment_cli, core.llm.openai_backend"
    subprocess.run([sys.executable, "-c", code], cwd=repo, env=client_env(), check=True)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(problems: int, slots: int, latency: float, concurrency: int, extra: list[str], repo: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        stats_path = Path(tmp) / "server.json"
        proc, url = start_server(slots, latency, stats_path)
        try:
            out = Path(tmp) / "run"
            cmd = [
                sys.executable, "-m", "flows.cli", "run", "augment-gsm8k", "--backend", "openai", "--model", "stand-in",
                "--base-url", url, "--dataset", str(GSM8K_TRAIN), "--limit", str(problems), "--augmenters", "ansaug",
                "--ansaug-n", "4", "--concurrency", str(concurrency), "--no-report", "--out", str(out), *extra,
            ]  # fmt: skip
            started, cpu_before = time.monotonic(), _children_cpu()
            client = subprocess.Popen(
                cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client_env()
            )
            (Path(tmp) / "client.pid").write_text(str(client.pid))
            _, stderr = client.communicate()
            whole, cpu = time.monotonic() - started, _children_cpu() - cpu_before
            if client.returncode != 0:
                raise RuntimeError(f"the command failed:\n{stderr[-3000:]}")
            time.sleep(0.6)
            server = json.loads(stats_path.read_text())
            run_stats = json.loads((out / "stats.json").read_text())
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    limit = problems * 4 * latency / slots
    busy = server["last"] - server["first"]
    idle = server["idle_by_second"][: int(busy) + 1]  # up to the last reply (the span after it is the client's end)
    return {
        "problems": problems,
        "limit_s": round(limit, 2),
        "generation_s": run_stats["generation_seconds"],
        "whole_s": round(whole, 2),
        "server_busy_s": round(busy, 2),
        "generation_ratio": round(limit / run_stats["generation_seconds"], 3),
        "whole_ratio": round(limit / whole, 3),
        "server_busy_ratio": round(limit / busy, 3),
        "first_request_s": round(server["first"] - started, 2),  # process start -> the server sees the first request
        "first_request_cpu_s": server["first_cpu"],  # the client's CPU seconds by then
        "after_last_reply_s": round(started + whole - server["last"], 2),  # the server's last reply -> exit
        "completions": server["completions"],
        "client_cpu_s": round(cpu, 1),
        "peak_busy_slots": server["peak_busy"],
        # slot-seconds the server left idle while the run was generating: in its first 2 s, in between, in its last 2 s
        "idle_slot_s": tuple(round(sum(part), 1) for part in (idle[:2], idle[2:-2], idle[-2:])),
    }


# --- a reference client -------------------------------------------------------------------------------------------


async def _reference_client(url: str, problems: int, concurrency: int) -> float:
    """The same requests (n=4 each, `concurrency` in flight) from a client that does nothing else: raw asyncio
    streams, one keep-alive connection per request in flight, no parsing. Its time is what the stand-in itself
    allows on this machine (its timers run late under load), the ceiling for the run's generation phase."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    todo = iter(range(problems))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for i in todo:
            body = json.dumps({"model": "stand-in", "messages": [{"role": "user", "content": f"{i}"}], "n": 4})
            writer.write(f"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            await reader.readexactly(length)
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - started


def reference_run(problems: int, slots: int, latency: float, concurrency: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        proc, url = start_server(slots, latency, Path(tmp) / "server.json")
        try:
            return asyncio.run(_reference_client(url, problems, concurrency))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--problems", default="1000,4000", help="comma list of problem counts (default 1000,4000)")
    p.add_argument("--slots", type=int, default=64)
    p.add_argument("--latency", type=float, default=0.2, help="seconds a completion holds a slot")
    p.add_argument("--concurrency", type=int, default=32, help="the CLI's --concurrency")
    p.add_argument("--extra", default="", help="more CLI options, space separated (e.g. '--shard-size 64')")
    p.add_argument(
        "--embedding-filters",
        action="store_true",
        help="keep the CLI's default near-dedup and decontamination (MiniLM on this machine's CPU after generation); "
        "by default the bench passes --no-near-dedup --no-decontaminate",
    )
    p.add_argument("--repo", default=str(REPO), help="the checkout whose CLI runs (to compare two side by side)")
    p.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--stats", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.slots, args.latency, Path(args.stats)))
        return
    if not GSM8K_TRAIN.exists():
        sys.exit(f"{GSM8K_TRAIN} is missing: the bench needs the full GSM8K train set there.")
    print(f"prefect: {os.environ.get('PREFECT_API_URL') or 'temporary server per command'}; cpus: {os.cpu_count()}; "
          f"load average: {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"stand-in server: {args.slots} slots x {args.latency} s per completion; AnsAug x 4 per problem")
    print(f"command run from {args.repo}")
    header = (
        "problems  limit_s  reference_s (ratio)  generation_s (ratio)  whole_s (ratio)  server_busy_s (ratio)"
        "  peak_slots  client_cpu_s"
        "  first_request_s (cpu_s)  after_last_reply_s  idle_slot_s (first 2 s / between / last 2 s)"
    )
    print(header)
    extra = args.extra.split() + ([] if args.embedding_filters else ["--no-near-dedup", "--no-decontaminate"])
    embedding = "default (near-dedup, decontamination)" if args.embedding_filters else "answer check, exact dedup"
    print(f"filters: {embedding}")
    warm_bytecode_cache(Path(args.repo))
    for problems in [int(x) for x in args.problems.split(",")]:
        reference = reference_run(problems, args.slots, args.latency, args.concurrency)
        r = run_once(problems, args.slots, args.latency, args.concurrency, extra, Path(args.repo))
        print(
            f"{r['problems']:>8}  {r['limit_s']:>7}  {reference:>7.2f} ({r['limit_s'] / reference:.3f})"
            f"      {r['generation_s']:>7} ({r['generation_ratio']:.3f})"
            f"       {r['whole_s']:>6} ({r['whole_ratio']:.3f})  {r['server_busy_s']:>8} ({r['server_busy_ratio']:.3f})"
            f"        {r['peak_busy_slots']}  {r['client_cpu_s']:>11}"
            f"  {r['first_request_s']:>15} ({r['first_request_cpu_s']})  {r['after_last_reply_s']:>18}"
            f"  {' / '.join(map(str, r['idle_slot_s']))}",
            flush=True,
        )


if __name__ == "__main__":
    main()
