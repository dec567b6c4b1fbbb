"""Property-based checks of the API against its own OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid ones, in-process over
ASGI on a writable index with an API key: no response may be a 5xx, and every
response, errors included, must have a status and a body that ``/openapi.json``
documents.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from search.engine import Engine
from search.semantic.embedders import Embedder
from search.settings import Settings

API_KEY = "schemathesis-key"
EXAMPLES = 25


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, tiny_sources: list[Path], embedder: Embedder
) -> schemathesis.BaseSchema:
    path = tmp_path_factory.mktemp("schemathesis") / "index"
    Engine.rebuild(tiny_sources, path, embedder=embedder)
    app = create_app(Settings(index=path, api_key=API_KEY))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
def test_the_api_keeps_its_documented_promises(
    api_schema: schemathesis.BaseSchema, mode: schemathesis.GenerationMode
) -> None:
    # Operations are walked here rather than through schemathesis' pytest plugin,
    # whose fixture loader does not run under pytest 9.
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            # Hypothesis re-seeds the global random for every example, and Whoosh
            # names new segments from it: without fresh entropy every write would
            # pick the name of the previous write's segment.
            random.seed()
            case.call_and_validate(
                headers={"X-API-Key": API_KEY},
                checks=[not_a_server_error, response_schema_conformance, status_code_conformance],
            )

        try:
            check()
        except Unsatisfiable:
            # Only invalid requests were asked for, and this operation accepts every
            # request its parameters can express (any path id, no parameters at all).
            assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
            continue
        checked.append(operation.label)
    assert len(checked) >= 6, checked
