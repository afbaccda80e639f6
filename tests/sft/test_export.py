"""Export of a kept dataset: verl's Parquet layout, the dataset card, and the Hub upload's error path."""

from __future__ import annotations

import polars as pl
import pytest

from core.errors import UserError
from sft.export import VERL_DATA_SOURCE, export_verl, push_to_hub


def test_verl_layout_of_kept_rows_and_gsm8k_test(kept_run_dir, tmp_path):
    counts = export_verl(kept_run_dir, tmp_path / "verl", test_problems="sample")

    assert counts == {"train.parquet": 4, "test.parquet": 200}
    train = pl.read_parquet(tmp_path / "verl" / "train.parquet")
    assert train.columns == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    first = train.row(0, named=True)
    assert first["data_source"] == VERL_DATA_SOURCE and first["ability"] == "math"
    assert first["prompt"][0]["role"] == "user" and first["prompt"][0]["content"].startswith("Tom has 3 apples")
    assert first["reward_model"] == {"style": "rule", "ground_truth": "7"}
    assert first["extra_info"]["answer"] == "3 + 4 = 7.\nThe answer is: 7" and first["extra_info"]["split"] == "train"
    test = pl.read_parquet(tmp_path / "verl" / "test.parquet")
    assert test.row(0, named=True)["reward_model"]["ground_truth"] == "18"
    card = (tmp_path / "verl" / "README.md").read_text()
    assert card.startswith("---\nlicense: mit") and "| GSM_AnsAug | 2 |" in card and "Total: 4 rows." in card


def test_push_to_hub_offline_is_one_user_error(kept_run_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="Could not push .* to the Hub as someone/kept"):
        push_to_hub(kept_run_dir, "someone/kept")


def test_missing_kept_dataset_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="holds no kept dataset"):
        export_verl(tmp_path, tmp_path / "verl")
