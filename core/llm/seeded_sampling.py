"""Per-row sampling for batched transformers `generate`: each completion draws from its own seeded generator.

transformers samples a whole batch from one global RNG (`torch.multinomial(probs)` in `GenerationMixin._sample`),
so a row's tokens would depend on which other rows share its batch. `SeededSampler` does the sampling itself, as
the last logits processor: per row it applies that row's temperature and top_p, draws the token with the row's own
`torch.Generator` (seeded from the request's seed and the completion's index), and returns scores that are 0 at the
drawn token and -inf elsewhere. `generate` runs with `do_sample=False`, so its greedy `argmax` takes that token.

Why this works, from the installed transformers 5 source (`transformers/generation/utils.py`):
- `_get_logits_processor` merges the caller's `logits_processor` list after the built-in processors
  (`processors = self._merge_criteria_processor_list(processors, logits_processor)`), and adds the temperature /
  top-k / top-p warpers after that only `if generation_config.do_sample:` -- with `do_sample=False` ours is last;
- `_sample` computes `next_token_scores = logits_processor(input_ids, next_token_logits)` and, without sampling,
  `next_tokens = torch.argmax(next_token_scores, dim=-1)`;
- `output_logits` keeps the raw `next_token_logits` (before processors), so logprobs are unaffected.

The draw is the Gumbel-max / exponential-race form of categorical sampling, argmax(p_i / E_i) with E_i ~ Exp(1):
a tiny float difference in one logit (batched vs alone: padding, other matmul shapes) changes the choice only when
two perturbed scores tie to within that difference, where inverse-CDF sampling over a 49K-entry cumulative sum
would flip whenever the uniform lands near any boundary.
"""

from __future__ import annotations

import hashlib
import secrets

import torch
from transformers import LogitsProcessor


def completion_seed(seed: int | None, index: int) -> int:
    """The generator seed of completion `index` of a request: a stable hash of (seed, index); random without a seed.

    >>> completion_seed(7, 0) == completion_seed(7, 0), completion_seed(7, 0) == completion_seed(7, 1)
    (True, False)
    """
    if seed is None:
        return secrets.randbits(63)
    digest = hashlib.blake2b(f"mathaug:{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class SeededSampler(LogitsProcessor):
    """Last logits processor of a batch: row r samples with temperature[r], top_p[r] and its own generator.

    A row with temperature 0 is greedy (argmax of its scores) and draws nothing. A sampled row draws exactly once
    per step, whatever the other rows do, so its t-th token depends only on its own logits and seed.
    """

    def __init__(self, seeds: list[int], temperatures: list[float], top_ps: list[float], device: str | torch.device):
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        self.temperatures = torch.tensor(temperatures, dtype=torch.float32, device=device)
        self.top_ps = torch.tensor(top_ps, dtype=torch.float32, device=device)
        self.sampled = self.temperatures > 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        chosen = scores.argmax(dim=-1)  # greedy rows
        if self.sampled.any():
            rows = self.sampled.nonzero().flatten().tolist()
            # one draw of Exp(1) noise per sampled row and step, from that row's own generator
            noise = torch.stack([
                torch.empty(scores.shape[1], dtype=torch.float32, device=scores.device).exponential_(
                    generator=self.generators[r]
                )
                for r in rows
            ])  # fmt: skip
            logp = torch.log_softmax(scores[rows].float() / self.temperatures[rows, None], dim=-1)
            top_p = self.top_ps[rows]
            if bool((top_p < 1.0).any()):
                logp = _nucleus(logp, top_p)
            chosen[rows] = (logp - noise.log()).argmax(dim=-1)
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, chosen[:, None], 0.0)
        return out


def _nucleus(logp: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Per row, -inf outside the smallest set of most likely tokens whose probability reaches top_p (>= 1 token)."""
    sorted_logp, order = logp.sort(dim=-1, descending=True)
    probs = sorted_logp.exp()
    before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above each one
    drop_sorted = before >= top_p[:, None]
    drop = torch.zeros_like(drop_sorted).scatter_(1, order, drop_sorted)
    return logp.masked_fill(drop, float("-inf"))
