"""The augment flow's parameters reach Prefect as Prefect itself would encode them, without FastAPI's import."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from prefect import Flow

from flows.augment import augment_gsm8k

REPO = Path(__file__).resolve().parents[2]


def test_plain_parameters_encode_as_prefect_encodes_them():
    parameters = {
        "dataset": "sample",
        "limit": 3,
        "augmenters": ("ansaug", "rephrase"),
        "base_url": ["http://a/v1", "http://b/v1"],
        "config": {"temperature": 0.7, "seed": None, "perturb_band": (0.5, 2.0)},
        "filters": {"dedup_threshold": None, "decontaminate": "gsm8k-test"},
        "report": False,
        "engine": None,
    }
    assert augment_gsm8k.serialize_parameters(parameters) == Flow.serialize_parameters(augment_gsm8k, parameters)


def test_values_json_cannot_write_go_to_prefects_encoder():
    parameters = {"out": Path("runs/x"), "min_score": math.nan, "limit": 2}
    assert augment_gsm8k.serialize_parameters(parameters) == Flow.serialize_parameters(augment_gsm8k, parameters)


def test_plain_parameters_need_no_fastapi():
    code = (
        "import sys; from flows.augment import augment_gsm8k; "
        "augment_gsm8k.serialize_parameters({'dataset': 'sample', 'augmenters': ('ansaug',), 'config': {'seed': 1}}); "
        "print('fastapi' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.stdout.strip() == "False", result.stderr[-2000:]
