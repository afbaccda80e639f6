"""Fixtures of the training tests: the SmolLM2 tokenizer, a tiny random model built from a config, a run folder."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from tiny_models import save_tiny_llama, smol_tokenizer

# Kept rows in the MetaMathQA layout of `flows run augment-gsm8k` (DIR/dataset/train.parquet).
KEPT_ROWS = [
    ("Tom has 3 apples and buys 4 more. How many apples does he have?", "3 + 4 = 7.\nThe answer is: 7", "GSM_AnsAug"),
    ("A box holds 6 pens. How many pens are in 2 boxes?", "6 * 2 = 12.\nThe answer is: 12", "GSM_AnsAug"),
    (
        "Sara reads 5 pages a day. How many pages does she read in 3 days?",
        "5 * 3 = 15.\nThe answer is: 15",
        "GSM_Rephrased",
    ),
    ("If 10 birds sit on a wire and 4 fly away, how many stay?", "10 - 4 = 6.\nThe answer is: 6", "GSM_SV"),
]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread while these tests run: on a shared, loaded machine torch's spinning OpenMP threads made
    SmolLM2 generation ~15x slower (170 s vs 11 s for 3 x 48 tokens, measured on 2 busy cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smol_tokenizer_dir(tmp_path_factory) -> Path:
    """The SmolLM2 tokenizer read from the bundled GGUF once, saved as a folder."""
    target = tmp_path_factory.mktemp("smol_tokenizer")
    smol_tokenizer().save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_model_dir(smol_tokenizer_dir, tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama (hidden 32) with the SmolLM2 tokenizer, saved as a model folder."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(smol_tokenizer_dir))
    return Path(save_tiny_llama(LlamaForCausalLM, tokenizer, tmp_path_factory.mktemp("tiny_model"),
                                tie_word_embeddings=True))  # fmt: skip


@pytest.fixture
def kept_run_dir(tmp_path) -> Path:
    """A run folder as `flows run augment-gsm8k --out DIR` leaves it: DIR/dataset/train.parquet of kept rows."""
    frame = pl.DataFrame(
        {
            "query": [q for q, _, _ in KEPT_ROWS],
            "response": [r for _, r, _ in KEPT_ROWS],
            "type": [t for _, _, t in KEPT_ROWS],
            "original_question": [q for q, _, _ in KEPT_ROWS],
        }
    )
    (tmp_path / "run" / "dataset").mkdir(parents=True)
    frame.write_parquet(tmp_path / "run" / "dataset" / "train.parquet")
    frame.write_ndjson(tmp_path / "run" / "dataset" / "metamathqa.jsonl")
    return tmp_path / "run"
