"""`flows serve` and `flows deploy`: every flow as a Prefect deployment, with optional schedules and default parameters.

serve:  one long-lived process that registers the deployments with the Prefect API, then runs each triggered or
        scheduled run in a subprocess of its own (`prefect deployment run augment-gsm8k/mathaug` triggers one).
deploy: registers the deployments with a work pool (made as a `process` pool if missing); a worker started with
        `prefect worker start --pool mathaug` runs them, on this machine or any other with mathaug installed.

Both need a Prefect server they can share with the trigger: PREFECT_API_URL must name one (`prefect server start`).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from core.errors import UserError
from core.urls import has_password, redact_url
from flows.options import existing_folder, positive_int

# `flows run` name -> "module:attribute" of its Prefect flow (the deployment is named after the Prefect flow)
FLOW_OBJECTS: dict[str, str] = {
    "augment-gsm8k": "flows.augment:augment_gsm8k",
    "diversity-report": "flows.diversity_report:diversity_report",
    "sft": "flows.train:sft_flow",
    "grpo": "flows.train:grpo_flow",
    "evaluate": "flows.evaluate:evaluate_flow",
    "export": "flows.train:export_flow",
    "prm-labels": "flows.prm_labels:prm_labels_flow",
    "self-train": "flows.self_train:self_train_flow",
    "mine-failures": "flows.mine_failures:mine_failures_flow",
    "behaviours": "flows.behaviours:behaviours_flow",
}
DEFAULT_DEPLOYMENT = "mathaug"
DEFAULT_POOL = "mathaug"


def load_flow(name: str):
    if name not in FLOW_OBJECTS:
        raise UserError(f"There is no flow named {name!r}; choose among {', '.join(FLOW_OBJECTS)}.")
    module, attr = FLOW_OBJECTS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def _pairs(values: list[str], option: str, example: str) -> list[tuple[str, str]]:
    """`NAME=VALUE` options split at the first '=', each NAME a flow."""
    out = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not rest.strip():
            raise UserError(f"{option} takes FLOW=VALUE, e.g. {option} {example}; got {value!r}.")
        if name not in FLOW_OBJECTS:
            raise UserError(f"{option} names no flow {name!r}; choose among {', '.join(FLOW_OBJECTS)}.")
        out.append((name, rest.strip()))
    return out


def parse_crons(values: list[str]) -> dict[str, str]:
    """`--cron augment-gsm8k="0 2 * * *"` -> {"augment-gsm8k": "0 2 * * *"}, each expression checked."""
    from prefect.client.schemas.schedules import CronSchedule

    crons = {}
    for name, expr in _pairs(values, "--cron", 'augment-gsm8k="0 2 * * *"'):
        try:
            CronSchedule(cron=expr)
        except ValueError:
            raise UserError(
                f'--cron {name}={expr!r} is not a cron expression; write five fields, e.g. "0 2 * * *" for 02:00.'
            ) from None
        crons[name] = expr
    return crons


def parse_params(values: list[str]) -> dict[str, dict]:
    """`--param augment-gsm8k.limit=100` -> {"augment-gsm8k": {"limit": 100}}; a value is JSON, else text."""
    params: dict[str, dict] = {}
    for value in values:
        target, sep, raw = value.partition("=")
        name, dot, key = target.rpartition(".")
        if not sep or not dot or not key:
            raise UserError(
                f"--param takes FLOW.PARAMETER=VALUE, e.g. --param augment-gsm8k.limit=100; got {redact_url(value)!r}."
            )
        if name not in FLOW_OBJECTS:
            raise UserError(f"--param names no flow {name!r}; choose among {', '.join(FLOW_OBJECTS)}.")
        if has_password(raw):  # a deployment's parameters are stored by Prefect for good
            raise UserError(
                f"--param {target} holds a password or key in a URL; put the key in MATHAUG_API_KEY or OPENAI_API_KEY."
            )
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON (or a number past Python's digit limit): take it as text
            parsed = raw
        params.setdefault(name, {})[key] = parsed
    return params


def build_deployments(
    names: list[str],
    deployment_name: str = DEFAULT_DEPLOYMENT,
    crons: dict[str, str] | None = None,
    params: dict[str, dict] | None = None,
    work_pool: str | None = None,
    job_variables: dict | None = None,
) -> list:
    """One RunnerDeployment per flow, entry points as module paths (the installed package, from any folder)."""
    from prefect.types.entrypoint import EntrypointType

    crons, params = crons or {}, params or {}
    deployments = []
    for name in names:
        flow = load_flow(name)
        known = flow.parameters.properties
        defaults = params.get(name, {})
        unknown = sorted(set(defaults) - set(known))
        if unknown:
            raise UserError(f"The flow {name} has no parameter {unknown[0]!r}; it takes {', '.join(known)}.")
        missing = [p for p in flow.parameters.required or [] if p not in defaults]
        if name in crons and missing:
            raise UserError(
                f"--cron {name} needs a default for its required parameter {missing[0]!r}: "
                f"add --param {name}.{missing[0]}=VALUE."
            )
        deployments.append(
            flow.to_deployment(
                name=deployment_name,
                cron=crons.get(name),
                parameters=defaults,
                tags=["mathaug"],
                entrypoint_type=EntrypointType.MODULE_PATH,
                work_pool_name=work_pool,
                job_variables=job_variables,
            )
        )
    return deployments


def check_api() -> str:
    """The Prefect API URL, once it answers; a served or deployed flow needs a server the trigger shares."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise UserError(
            "Set PREFECT_API_URL to a Prefect server: start one with `prefect server start`, then "
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`."
        )
    try:
        httpx.get(url.rstrip("/") + "/health", timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        raise UserError(
            f"The Prefect API at {redact_url(url)} does not answer ({type(exc).__name__}); "
            "start it with `prefect server start`."
        ) from None
    return url


def _selected(args: argparse.Namespace) -> list[str]:
    names = args.flow or list(FLOW_OBJECTS)
    for name in names:
        if name not in FLOW_OBJECTS:
            raise UserError(f"--flow {name!r} is not a flow; choose among {', '.join(FLOW_OBJECTS)}.")
    return list(dict.fromkeys(names))


def _deployments_from(
    args: argparse.Namespace, work_pool: str | None = None, job_variables: dict | None = None
) -> list:
    crons = parse_crons(args.cron)
    params = parse_params(args.param)
    names = _selected(args)
    for name in [*crons, *params]:
        if name not in names:
            raise UserError(f"{name} has a --cron or --param but is not among the --flow choices {', '.join(names)}.")
    return build_deployments(names, args.name, crons, params, work_pool=work_pool, job_variables=job_variables)


# --- the command line -------------------------------------------------------------------------------------------


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flow", action="append", default=[], help="a flow to include (repeatable; default: every flow)")
    p.add_argument("--name", default=DEFAULT_DEPLOYMENT, help=f"deployment name (default: {DEFAULT_DEPLOYMENT})")
    p.add_argument(
        "--cron",
        action="append",
        default=[],
        metavar="FLOW=EXPR",
        help='a schedule, e.g. --cron augment-gsm8k="0 2 * * *" for 02:00 nightly (repeatable)',
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="FLOW.PARAMETER=VALUE",
        help="a default parameter, JSON or text, e.g. --param augment-gsm8k.limit=100 (repeatable)",
    )


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p)
    p.add_argument("--limit", type=positive_int, default=None, help="most flow runs at once (default: no limit)")


def add_deploy_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p)
    p.add_argument("--pool", default=DEFAULT_POOL, help="work pool (made as a process pool if missing)")
    p.add_argument(
        "--workdir",
        type=existing_folder,
        default=".",
        help="folder the worker runs flows in, where relative --out paths land (default: this folder)",
    )


def serve_command(args: argparse.Namespace) -> int:
    """Serve the deployments until interrupted; each run goes to a subprocess."""
    from prefect import serve

    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be at least 1.")
    deployments = _deployments_from(args)
    url = check_api()
    print(f"serving {len(deployments)} deployments on {redact_url(url)}; stop with Ctrl-C", flush=True)
    serve(*deployments, limit=args.limit)
    return 0


def _ensure_pool(pool: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            client.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=template))
            print(f"made the process work pool {pool!r}")


def deploy_command(args: argparse.Namespace) -> int:
    """Register the deployments with a work pool; `prefect worker start --pool POOL` runs them."""
    from prefect import deploy

    workdir = Path(args.workdir).expanduser().resolve()
    if not workdir.is_dir():
        raise UserError(f"--workdir {args.workdir} is not a folder; the worker runs flows in it.")
    deployments = _deployments_from(args, work_pool=args.pool, job_variables={"working_dir": str(workdir)})
    check_api()
    _ensure_pool(args.pool)
    deploy(*deployments, work_pool_name=args.pool, build=False, push=False, ignore_warnings=True)
    print(f"start a worker to run them: prefect worker start --pool {args.pool}")
    return 0
