"""LLM backends behind one protocol (core.llm.base.LLM): `local`, `openai`, `vllm`."""

from __future__ import annotations

from core.errors import UserError
from core.llm.base import LLM, Completion, GenParams, Message, UsageCounter

BACKENDS = ("local", "openai", "vllm")

__all__ = ["BACKENDS", "LLM", "Completion", "GenParams", "Message", "UsageCounter", "make_backend"]


def make_backend(
    name: str,
    model: str | None = None,
    base_url: str | list[str] | None = None,
    concurrency: int = 32,
    max_batch: int | None = None,
    request_timeout: float = 120.0,
    max_retries: int = 6,
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
    dtype: str = "auto",
    trust_remote_code: bool = False,
) -> LLM:
    """Build a backend by name; imports its engine only when chosen. `request_timeout` (seconds per request) and
    `max_retries` apply to the openai backend; the engine options (tensor parallel size ... trust_remote_code) to
    the vllm backend, which batches continuously itself (`max_batch` is for the local backend)."""
    if name == "local":
        from core.llm.local import LocalBackend

        return LocalBackend(model, max_batch=max_batch or 16)
    if name == "openai":
        from core.llm.openai_backend import OpenAIBackend

        urls = [base_url] if isinstance(base_url, str) else list(base_url or [])
        urls = [u.strip() for url in urls for u in url.split(",") if u.strip()]
        return OpenAIBackend(model, urls, concurrency=concurrency, max_retries=max_retries, timeout_s=request_timeout)
    if name == "vllm":
        from core.llm.vllm_backend import VLLMBackend
        from core.llm.vllm_options import EngineOptions

        options = EngineOptions(tensor_parallel_size, gpu_memory_utilization, max_model_len, dtype, trust_remote_code)
        return VLLMBackend(model, options)
    raise UserError(f"Unknown backend {name!r}; choose one of {', '.join(BACKENDS)}.")
