"""A flow whose parameters are plain JSON values sends them to Prefect without importing FastAPI.

Prefect's `Flow.serialize_parameters` runs every parameter through FastAPI's `jsonable_encoder`, and importing
FastAPI (its OpenAPI models) costs 0.5-0.8 s of CPU at the start of each run here, before the first request,
when a Prefect server is already running (the temporary server imports FastAPI anyway). `plain_json_parameters`
makes one flow encode its parameters with the json module; a value json cannot write (a Path, a NaN, an object)
goes to Prefect's own encoder, as before.
"""

from __future__ import annotations

import json
import types
from typing import Any

from prefect import Flow


def _serialize_parameters(flow: Flow, parameters: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(parameters, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return Flow.serialize_parameters(flow, parameters)


def plain_json_parameters(flow: Flow) -> Flow:
    """Put above @flow. (A copy made by `flow.with_options` encodes the Prefect way again: slower, same result.)"""
    flow.serialize_parameters = types.MethodType(_serialize_parameters, flow)
    return flow
