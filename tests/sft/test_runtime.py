"""Training runtime: the dtype TRL loads the model in, precision on each kind of GPU, DeepSpeed/FSDP, launch ports."""

from __future__ import annotations

import json
import socket

import pytest

import sft.runtime
from core.errors import UserError
from sft.launch import accelerate_command
from sft.runtime import GrpoOptions, SftOptions, check_distributed, distributed_args, model_init_kwargs, precision_args


@pytest.fixture
def gpu(monkeypatch):
    """Pretend a CUDA GPU of a given compute capability is visible (bf16 'supported' as torch says on every one)."""
    import torch

    def set_capability(major: int, minor: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, minor))
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)

    return set_capability


def test_precision_follows_compute_capability_not_is_bf16_supported(gpu):
    assert precision_args() == {"bf16": False, "fp16": False, "use_cpu": True}
    assert model_init_kwargs()["dtype"] == "float32"
    gpu(7, 0)  # V100 (T4 is 7.5): bf16 only emulated although torch.cuda.is_bf16_supported() says True
    assert precision_args() == {"bf16": False, "fp16": True}
    assert model_init_kwargs() == {"dtype": "float32", "device_map": None, "trust_remote_code": False}
    gpu(8, 0)  # A100
    assert precision_args() == {"bf16": True, "fp16": False}
    assert model_init_kwargs() == {"dtype": "bfloat16", "device_map": None, "trust_remote_code": False}


def test_trl_loads_the_model_in_the_training_dtype(tiny_model_dir, kept_run_dir, tmp_path, monkeypatch):
    """What TRL does with our model_init_kwargs (a CPU stand-in for a bf16 GPU: only the dtype is switched)."""
    import torch

    from sft.train_grpo import build_grpo_trainer
    from sft.train_sft import build_sft_trainer

    monkeypatch.setattr(sft.runtime, "train_dtype", lambda: "bfloat16")
    options = SftOptions(out=str(tmp_path / "s"), model=str(tiny_model_dir), run=str(kept_run_dir))
    sft_trainer = build_sft_trainer(options)
    assert {p.dtype for p in sft_trainer.model.parameters()} == {torch.bfloat16}
    assert sft_trainer.args.model_init_kwargs["device_map"] is None
    grpo = build_grpo_trainer(
        GrpoOptions(out=str(tmp_path / "g"), model=str(tiny_model_dir), limit=2, batch_size=2, num_generations=2)
    )
    assert {p.dtype for p in grpo.model.parameters()} == {torch.bfloat16}


def test_deepspeed_and_fsdp_options_are_checked_and_passed(tmp_path, gpu):
    gpu(8, 0)
    config = tmp_path / "ds.json"
    config.write_text(json.dumps({"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": "auto"}))
    with pytest.raises(UserError, match="not both"):
        check_distributed(SftOptions(out="o", deepspeed=str(config), fsdp="full_shard"))
    with pytest.raises(UserError, match="needs DeepSpeed|no such file"):  # DeepSpeed is not installed here
        check_distributed(SftOptions(out="o", deepspeed=str(config)))
    with pytest.raises(UserError, match="no such file"):
        check_distributed(SftOptions(out="o", deepspeed=str(tmp_path / "missing.json")))
    (tmp_path / "bad.json").write_text("{stage: 3")
    with pytest.raises(UserError, match="is not valid JSON"):
        check_distributed(SftOptions(out="o", fsdp="full_shard", fsdp_config=str(tmp_path / "bad.json")))
    assert distributed_args(SftOptions(out="o", deepspeed=str(config))) == {"deepspeed": str(config)}
    fsdp = SftOptions(out="o", fsdp="full_shard auto_wrap", fsdp_config=str(config))
    check_distributed(fsdp)
    assert distributed_args(fsdp) == {"fsdp": "full_shard auto_wrap", "fsdp_config": str(config)}


def test_deepspeed_without_a_gpu_is_one_sentence(tmp_path):
    with pytest.raises(UserError, match="need CUDA GPUs"):
        check_distributed(SftOptions(out="o", fsdp="full_shard"))


def test_each_launch_gets_its_own_free_port(tmp_path):
    ports = set()
    for _ in range(3):
        command = accelerate_command(tmp_path / "options.json", gpus=2)
        port = int(command[command.index("--main_process_port") + 1])
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free when chosen
        ports.add(port)
    assert 29500 not in ports and len(ports) >= 2
