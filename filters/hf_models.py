"""Loading a scorer model (local folder or Hub id) with one clear sentence when it cannot be had."""

from __future__ import annotations

from typing import Any

from core.errors import UserError


def pick_device(device: str | None = None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def load_scorer_model(auto_class: Any, name: str, device: str | None = None, **kwargs) -> tuple[Any, Any]:
    """(model in eval mode on `device`, tokenizer) for `name`; OSError (missing, offline, gated) -> UserError."""
    import torch
    from transformers import AutoTokenizer

    device = pick_device(device)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
        model = auto_class.from_pretrained(name, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"Could not load scorer model {name!r}: pass --scorer-model a local model folder, "
            "or a Hub id while online (nothing is downloaded offline)."
        ) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(device).eval(), tokenizer
