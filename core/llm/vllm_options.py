"""The vLLM engine's options: a frozen record, its command-line flags, and their one-sentence checks."""

from __future__ import annotations

import argparse
import dataclasses

from core.errors import UserError

DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    """vLLM engine settings from the command line (`--tensor-parallel-size` etc.)."""

    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None  # None: the model's own
    dtype: str = "auto"
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if self.tensor_parallel_size < 1:
            raise UserError("--tensor-parallel-size must be at least 1.")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise UserError("--gpu-memory-utilization must be a share in (0, 1], e.g. 0.9.")
        if self.max_model_len is not None and self.max_model_len < 16:
            raise UserError("--max-model-len must be at least 16 tokens.")
        if self.dtype not in DTYPES:
            raise UserError(f"--dtype must be one of {', '.join(DTYPES)}.")


ENGINE_FIELDS = tuple(f.name for f in dataclasses.fields(EngineOptions))


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """`--tensor-parallel-size`, `--gpu-memory-utilization`, `--max-model-len`, `--dtype`, `--trust-remote-code`."""
    d = EngineOptions()
    group = parser.add_argument_group("vLLM engine (--backend vllm)")
    group.add_argument("--tensor-parallel-size", type=int, default=d.tensor_parallel_size, help="GPUs per model (1)")
    group.add_argument(
        "--gpu-memory-utilization", type=float, default=d.gpu_memory_utilization, help="share of each GPU (0.9)"
    )
    group.add_argument("--max-model-len", type=int, default=None, help="context length (default: the model's)")
    group.add_argument("--dtype", default=d.dtype, choices=DTYPES, help="weights' dtype (auto: the model's)")
    group.add_argument(
        "--trust-remote-code", action="store_true", help="run the model repository's own Python code (vLLM, scorers)"
    )


def engine_options(args: argparse.Namespace) -> dict:
    """The engine flags of parsed arguments as make_backend keywords; checked (one sentence on a bad value)."""
    values = {name: getattr(args, name) for name in ENGINE_FIELDS}
    EngineOptions(**values)
    return values
