"""`vllm` backend: vLLM's offline engine on GPUs (the optional `gpu` extra), imported only when chosen."""

from __future__ import annotations

from core.errors import UserError
from core.llm.base import Completion
from core.llm.batching import BatchingBackend, Request


class VLLMBackend(BatchingBackend):
    def __init__(self, model: str | None, max_batch: int = 256, **engine_kwargs) -> None:
        super().__init__(max_batch=max_batch, gather_ms=50)
        try:
            import vllm
        except ImportError:
            raise UserError(
                "The vllm backend needs vLLM and a GPU: install it with `pip install 'mathaug[gpu]'`, "
                "or use --backend local or --backend openai."
            ) from None
        if not model:
            from core.llm.local import resolve_model

            _, model = resolve_model(None)
        self._vllm = vllm
        self.name = model
        self.engine = vllm.LLM(model=model, **engine_kwargs)

    def generate_batch(self, requests: list[Request]) -> list[list[Completion]]:
        p = requests[0].params
        sampling = [
            self._vllm.SamplingParams(
                n=req.n,
                temperature=p.temperature,
                top_p=p.top_p,
                max_tokens=p.max_tokens,
                seed=p.seed,
                logprobs=p.logprobs,
            )
            for req in requests
        ]
        outputs = self.engine.chat([req.messages for req in requests], sampling_params=sampling, use_tqdm=False)
        results = []
        for out in outputs:
            completions = []
            for o in out.outputs:
                logprobs = None
                if o.logprobs is not None:
                    logprobs = [{lp.decoded_token: lp.logprob for lp in step.values()} for step in o.logprobs]
                completions.append(
                    Completion(
                        text=o.text,
                        finish_reason=o.finish_reason or "stop",
                        prompt_tokens=len(out.prompt_token_ids or []),
                        completion_tokens=len(o.token_ids),
                        logprobs=logprobs,
                    )
                )
            results.append(completions)
        return results
