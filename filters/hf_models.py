"""Loading a scorer model (local folder or Hub id): its real architecture, all of its weights, or one clear sentence.

- A checkpoint that ships its own model code (Qwen2.5-Math-PRM's Qwen2ForProcessRewardModel, InternLM2's
  InternLM2ForRewardModel: `auto_map` in config.json) loads with that class, and only when the user allows it
  (`--trust-remote-code`); a generic class would give it a new, random head.
- Any weight the checkpoint lacks ("newly initialized") or had in another shape is an error, not a warning:
  a scorer with a random head gives random scores.
- A vLLM engine of this process is shut down first (core.llm.vllm_lease), so the two never share the GPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core import torch_thread
from core.errors import UserError


def pick_device(device: str | None = None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def config_dict(name: str) -> dict:
    """The raw config.json of a model folder or Hub id (no remote code runs); {} when it cannot be read."""
    path = Path(name).expanduser() / "config.json"
    if path.is_file():
        return json.loads(path.read_text())
    try:
        from transformers import PretrainedConfig

        return PretrainedConfig.get_config_dict(name)[0]
    except (OSError, ValueError):
        return {}


def remote_class(name: str, auto_names: tuple[str, ...]) -> tuple[str, str] | None:
    """(auto class name, the checkpoint's own class) when its config maps one of `auto_names` to remote code."""
    auto_map = config_dict(name).get("auto_map") or {}
    for auto_name in auto_names:
        if auto_name in auto_map:
            target = auto_map[auto_name]
            target = target[0] if isinstance(target, list | tuple) else target
            return auto_name, str(target).split(".")[-1]
    return None


def require_remote_code(name: str, own_class: str, trust_remote_code: bool) -> None:
    if not trust_remote_code:
        raise UserError(
            f"The scorer model {name!r} needs its own model code ({own_class}) to load its scoring head; "
            "allow it with --trust-remote-code if you trust that repository."
        )


def check_all_weights_loaded(name: str, info: dict) -> None:
    """Refuse a model some of whose weights were not in the checkpoint (randomly initialised) or had another shape."""
    missing = sorted(info.get("missing_keys") or [])
    mismatched = sorted(str(k[0] if isinstance(k, list | tuple) else k) for k in info.get("mismatched_keys") or [])
    bad = missing + mismatched
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise UserError(
            f"The scorer model {name!r} has no trained weights for {shown} (they would be newly initialized, "
            "giving random scores): pass a checkpoint of this scorer's kind, or --trust-remote-code if it ships "
            "its own model class."
        )


def load_scorer_model(
    auto_class: Any, name: str, device: str | None = None, *, trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """(model in eval mode on `device`, tokenizer) for `name`, every weight loaded; else one UserError sentence.
    Loaded on the thread that scores (core.torch_thread)."""
    return torch_thread.run(_load_scorer_model, auto_class, name, device, trust_remote_code)


def _load_scorer_model(auto_class: Any, name: str, device: str | None, trust_remote_code: bool) -> tuple[Any, Any]:
    import torch
    from transformers import AutoTokenizer

    device = pick_device(device)
    if device.startswith("cuda"):
        from core.llm import vllm_lease

        vllm_lease.release_gpu()
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
        model, info = auto_class.from_pretrained(
            name, dtype=dtype, trust_remote_code=trust_remote_code, output_loading_info=True
        )
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(
            f"Could not load scorer model {name!r} ({first}): pass --scorer-model a local model folder, "
            "or a Hub id while online (nothing is downloaded offline)."
        ) from None
    check_all_weights_loaded(name, info)
    if tokenizer.pad_token_id is None:  # token-level scorers read positions under the attention mask: any pad works
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def pad_for_pooling(model: Any, tokenizer: Any) -> None:
    """Make padding and the model's pooling agree on a pad id that is not eos.

    A sequence-classification model reads the rightmost token that is not `config.pad_token_id`. With no pad token
    the usual fix (pad = eos) makes a chat that ends in eos (ChatML's <|im_end|>, Llama 3's <|eot_id|>) pool one
    token early. The model's own pad id wins; else the tokenizer's when it is not eos; else another special
    token that is not eos (unk, bos, or any added one).
    """
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    eos = {tokenizer.eos_token_id, *_as_list(getattr(config, "eos_token_id", None))}
    candidates = [getattr(config, "pad_token_id", None), tokenizer.pad_token_id, tokenizer.unk_token_id]
    candidates += [tokenizer.bos_token_id, *tokenizer.all_special_ids]
    pad = next((i for i in candidates if i is not None and i not in eos), None)
    if pad is None:
        raise UserError(
            "The scorer model's tokenizer has no token to pad with besides its end-of-sequence token; "
            "add a pad token to its tokenizer."
        )
    tokenizer.pad_token = tokenizer.convert_ids_to_tokens(pad)
    config.pad_token_id = pad
    if config is not model.config:
        model.config.pad_token_id = pad


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
