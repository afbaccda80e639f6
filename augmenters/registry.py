"""The augmenters by name (as given to --augmenters); each module has `async def augment(problem, llm, cfg)`."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from core.errors import UserError

AUGMENTERS: dict[str, str] = {
    "ansaug": "augmenters.answer_aug",
    "rephrase": "augmenters.rephrase",
    "sv": "augmenters.self_verify",
    "fobar": "augmenters.fobar",
    "muggle": "augmenters.muggle",
    "perturb": "augmenters.perturb",
    "primed": "augmenters.primed",  # the style comes from --primed-style
}
DEFAULT_AUGMENTERS = ("ansaug", "rephrase", "sv", "fobar")

Augment = Callable[..., Awaitable[list[dict]]]


def parse_augmenters(spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in AUGMENTERS]
    if unknown or not names:
        raise UserError(f"--augmenters takes a comma list of {', '.join(AUGMENTERS)}; got {spec!r}.")
    return list(dict.fromkeys(names))


def get_augmenter(name: str) -> Augment:
    return importlib.import_module(AUGMENTERS[name]).augment
