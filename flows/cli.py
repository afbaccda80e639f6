"""The `flows` command: `flows list`, `flows run NAME [options]`, `flows serve` and `flows deploy` (deployments).

Errors a user can cause end in one sentence on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import threading

from core import heap
from core.errors import UserError
from core.urls import redact_url
from flows import deploy, signals, temporary_server  # light: none imports prefect until used
from flows.command import FlowCommand

# name -> "module:attribute" of its FlowCommand; imported only when used, so `flows list` is instant.
FLOWS: dict[str, str] = {
    "augment-gsm8k": "flows.augment_cli:COMMAND",
    "diversity-report": "flows.diversity_report:COMMAND",
    "sft": "flows.train:SFT_COMMAND",
    "grpo": "flows.train:GRPO_COMMAND",
    "evaluate": "flows.evaluate:EVALUATE_COMMAND",
    "export": "flows.train:EXPORT_COMMAND",
    "prm-labels": "flows.prm_labels:COMMAND",
    "self-train": "flows.self_train:COMMAND",
    "mine-failures": "flows.mine_failures:COMMAND",
    "behaviours": "flows.behaviours:COMMAND",
}


def load_command(name: str, own_process: bool = False) -> FlowCommand:
    """The flow's command. In the command's own process (`flows run`), its imports are frozen out of the garbage
    collector's walks (core.heap); an in-process caller's heap is left as it is."""
    if name not in FLOWS:
        raise UserError(f"There is no flow named {name!r}; `flows list` shows the flows there are.")
    module, attr = FLOWS[name].split(":")
    return getattr(heap.import_long_lived(module) if own_process else importlib.import_module(module), attr)


class _OptionError(Exception):
    """A bad option: its one line is printed by main, which returns 2 (in-process callers get a code, no exit)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one sentence (exit 2) instead of usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        message = redact_url(" ".join(message.split()))  # one line, and no key a URL carried
        # "argument --limit: must be at least 1" (flows.options) -> "--limit must be at least 1"
        if m := re.match(r"argument (\S+?)(?:/\S+)?: (must .*)", message):
            message = f"{m[1]} {m[2]}"
        elif m := re.match(r"argument (\S+?)(?:/\S+)?: (.*)", message):
            message = f"{m[1]}: {m[2]}"
        raise _OptionError(f"{self.prog}: {message[0].upper()}{message[1:]}; see `{self.prog} --help`.")


def _prepare_environment() -> None:
    # Prefect's ephemeral server can take ~25 s to start on a small machine; give it room.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network here to send it to
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _quiet_late_heartbeats() -> None:
    """Prefect (3.8) sends a flow run's first heartbeat from a daemon thread; when the run ends at once (a bad input
    file), that event can come after the events worker stopped, and Prefect logs a traceback under the one-sentence
    error. The event is lost either way; only that logger's report is silenced (measured: 9 of 12 concurrent failing
    runs printed it before)."""
    import logging

    logging.getLogger("prefect.events.utilities").setLevel(logging.CRITICAL)


INTERRUPTED = "interrupted: finished work is saved; run the same command again to resume.\n"
SIGNAL_GRACE_S = 5.0  # after SIGTERM / Ctrl-C, the longest a run may take to unwind before it is ended outright


def _stop_temporary_prefect_server() -> None:
    """Terminate the temporary Prefect server this process started, if any (os._exit skips Prefect's atexit)."""
    for process in temporary_server.server_processes():
        if process.poll() is None:
            process.terminate()


def _exit_now(code: int) -> None:
    """End the process at once: every journal line is already written (flushed or fsynced when appended), and
    Prefect's exit hooks would wait minutes on its events worker ("Still processing items") for a server that
    may be gone."""
    _stop_temporary_prefect_server()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


EXIT_DRAIN_S = 10.0  # the longest a finished run waits for Prefect to send its last logs and events


def _exit_after_run(code: int) -> None:
    """End a finished run's process without the interpreter's teardown, which takes 1-2.5 s after a large run here
    (measured: bench/bench_server.py). Prefect's queued logs and events are sent first (for at most EXIT_DRAIN_S),
    every output file is already written and closed, and the temporary Prefect server is stopped. A process that
    loaded Ray or Dask ends the ordinary way, so their own exit hooks run."""
    if any(name in sys.modules for name in ("ray", "distributed")):
        return
    services = sys.modules.get("prefect._internal.concurrency.services")
    if services is not None:
        try:
            services._QueueServiceBase.drain_all(timeout=EXIT_DRAIN_S)
        except Exception:  # noqa: BLE001 - a service that cannot drain loses its last items, as at any exit
            pass
    _exit_now(code)


_signal_received = [signal.SIGINT]  # the signal that interrupted the run (a KeyboardInterrupt of its own: Ctrl-C)


def _end_promptly_on_signals() -> dict:
    """SIGTERM and Ctrl-C unwind the run as a KeyboardInterrupt; if that takes more than SIGNAL_GRACE_S, or a
    second signal comes, the process ends outright. Either way the journal is intact and the same command resumes."""

    def on_signal(signum: int, frame) -> None:
        _signal_received[0] = signum

        def hard_exit() -> None:
            sys.stderr.write(INTERRUPTED)
            _exit_now(128 + signum)

        signal.signal(signal.SIGINT, lambda *_: hard_exit())
        signal.signal(signal.SIGTERM, lambda *_: hard_exit())
        timer = threading.Timer(SIGNAL_GRACE_S, hard_exit)
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return {}
    before = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    signals.register({signum: on_signal for signum in before})  # in force while the flow's function runs too
    return before


def _restore_signals(before: dict) -> None:
    signals.register({})
    for signum, handler in before.items():
        signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    """The `flows` command; with no argv (the process's own command line), a flow whose FlowCommand says
    `exit_at_once` ends the process as soon as it finished (in-process callers always get the exit code back)."""
    try:
        return _main(sys.argv[1:] if argv is None else argv, end_process=argv is None)
    except _OptionError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2


def _main(argv: list[str], end_process: bool = False) -> int:
    _prepare_environment()  # before any flow module imports prefect, which reads its settings then
    parser = _Parser(prog="flows", description="mathaug flows: augment GSM8K, report diversity, train, evaluate.")
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    sub.add_parser("list", help="print the flow names, one per line")
    run = sub.add_parser("run", help="run one flow: flows run NAME [options]", add_help=False)
    run.add_argument("name", nargs="?")
    run.add_argument("-h", "--help", action="store_true")
    serve_help = "serve every flow as a Prefect deployment until Ctrl-C; runs come from `prefect deployment run`"
    deploy_help = "register every flow as a deployment of a work pool; `prefect worker start --pool POOL` runs them"
    deploy.add_serve_arguments(sub.add_parser("serve", help=serve_help, description=serve_help))
    deploy.add_deploy_arguments(sub.add_parser("deploy", help=deploy_help, description=deploy_help))
    args, rest = parser.parse_known_args(argv)

    if args.verb in ("list", "serve", "deploy") and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.verb == "list":
        print("\n".join(FLOWS))
        return 0

    try:
        if args.verb in ("serve", "deploy"):
            return deploy.serve_command(args) if args.verb == "serve" else deploy.deploy_command(args)
        if args.name is None:
            if args.help:
                run.print_help()
                print("\nflows:\n  " + "\n  ".join(FLOWS))
                return 0
            raise UserError("Name the flow to run, e.g. `flows run augment-gsm8k`; `flows list` shows them all.")
        command = load_command(args.name, own_process=end_process)
        _quiet_late_heartbeats()
        flow_parser = _Parser(prog=f"flows run {command.name}", description=command.help)
        command.add_arguments(flow_parser)
        flow_args = flow_parser.parse_args(rest + (["--help"] if args.help else []))
        handlers = _end_promptly_on_signals()
        try:
            temporary_server.guard_when_started()  # without PREFECT_API_URL: a server that ends with this process
            code = command.run(flow_args)
        finally:
            _restore_signals(handlers)
        if end_process and command.exit_at_once:
            _exit_after_run(code)
        return code
    except UserError as exc:
        sys.stderr.write(f"error: {redact_url(' '.join(str(exc).split()))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED)
        _exit_now(128 + _signal_received[0])  # 130 for Ctrl-C, 143 for SIGTERM
        return 130  # not reached
    except BaseException as exc:
        # while a flow runs, Prefect's own SIGTERM handler replaces ours and raises its TerminationSignal, which can
        # also come inside an exception group (from a task group that was running when the signal came)
        if not _is_termination(exc):
            raise
        sys.stderr.write(INTERRUPTED)
        _exit_now(128 + signal.SIGTERM)
        return 143  # not reached


def _is_termination(exc: BaseException) -> bool:
    """A signal's exception (Prefect's TerminationSignal, a KeyboardInterrupt), alone or in an exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_termination(e) for e in exc.exceptions)
    return isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "TerminationSignal"


if __name__ == "__main__":
    sys.exit(main())
