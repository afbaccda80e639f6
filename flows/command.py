"""How a flow plugs into the `flows` command line: a name, its options, and a function that runs it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FlowCommand:
    name: str  # as typed after `flows run`
    help: str  # one line for `flows list --verbose` and --help
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]  # runs the Prefect flow; returns the exit code
    # end the `flows` process as soon as run() returns (flows.cli._exit_after_run): for flows whose outputs are all
    # written by then and that hold no library needing its own exit hooks
    exit_at_once: bool = False
