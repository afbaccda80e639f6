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

The draw is inverse-CDF sampling with one uniform number per row and step from that row's generator: the same
passes over the vocabulary as transformers' own sampling (softmax, cumulative sum), plus one small draw per row.
A row batched with others gets the same tokens as alone as long as its logits are the same; where padding or other
matmul shapes change a logit in its last bits, a token can differ only if the row's uniform falls within that
difference of a boundary of the cumulative distribution (a chance of the order of that difference per token).
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
        self._sampled_rows = [t > 0 for t in temperatures]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not bool(self.sampled.any()):
            return scores  # all greedy: generate's argmax picks the top token itself
        probs = torch.softmax(scores.float() / self.temperatures.clamp(min=1e-6)[:, None], dim=-1)
        if bool((self.top_ps < 1.0).any()):
            probs = _nucleus(probs, self.top_ps)
        cdf = probs.cumsum(dim=-1)
        # one uniform per row and step, from the row's own generator (greedy rows draw nothing)
        u = torch.stack([torch.rand(1, generator=g, device=scores.device) if s else torch.zeros(1, device=scores.device)
                         for g, s in zip(self.generators, self._sampled_rows, strict=True)])  # fmt: skip
        chosen = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp(max=scores.shape[1] - 1).flatten()
        chosen = torch.where(self.sampled, chosen, scores.argmax(dim=-1))
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, chosen[:, None], 0.0)
        return out


def _nucleus(probs: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Per row, zero outside the smallest set of most likely tokens whose probability reaches top_p (>= 1 token)."""
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs  # probability of the tokens ranked above each one
    drop = torch.zeros_like(before, dtype=torch.bool).scatter_(1, order, before >= top_p[:, None])
    return probs.masked_fill(drop, 0.0)
