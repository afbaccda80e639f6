"""The `flows` command with the openai backend's request timeout cut from 120 s to 1 s; nothing else differs.

A test server's stalled replies then cost a second each, so a run through timeouts fits in a test. Run it as
`python tests/reliability/short_timeout_flows.py run augment-gsm8k ...`.
"""

from __future__ import annotations

import functools
import sys

from core.llm import openai_backend
from flows.cli import main

TIMEOUT_S = 1.0
_original_init = openai_backend.OpenAIBackend.__init__


@functools.wraps(_original_init)
def _init_with_short_timeout(self, *args, **kwargs):
    kwargs.setdefault("timeout_s", TIMEOUT_S)
    _original_init(self, *args, **kwargs)


openai_backend.OpenAIBackend.__init__ = _init_with_short_timeout

if __name__ == "__main__":
    sys.exit(main())
