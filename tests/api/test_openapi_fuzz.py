"""Schemathesis over the whole OpenAPI document: no input the spec allows or forbids is a 500,
and every answer is what the spec says (status, content type, headers, body schema).

Fixed seed (``derandomize``), no example database and a bounded number of examples per
operation, so that the run is the same every time and takes a few minutes at most. Each
operation gets a fresh migrated database with the demo data and an admin token.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from consent_service import create_app
from consent_service.config import Config
from consent_service.context import bootstrap
from consent_service.crypto.keyring import KeyMaterial

EXAMPLES_PER_OPERATION = 25


def _spec() -> dict[str, Any]:
    """The document as the service serves it (building it touches no database)."""
    with tempfile.TemporaryDirectory() as data_dir:
        config = Config(data_dir=Path(data_dir), master_keys=KeyMaterial.generate().to_json(), testing=True)
        context = bootstrap(config)
        try:
            return create_app(context=context).test_client().get("/openapi.json").get_json()
        finally:
            context.db.dispose()


class CurrentApp:
    """The WSGI app schemathesis calls, also for the requests its checks make on their own
    (a GET after a PUT, a call without credentials): the app of the test being run."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


current = CurrentApp()
schema = schemathesis.openapi.from_dict(_spec())
schema.app = current


@pytest.fixture
def fuzz_target(ctx: Any) -> tuple[Any, dict[str, str]]:
    from consent_service.auth.service import register_client
    from consent_service.demo import seed

    demo = seed(ctx)
    headers = {
        "Authorization": f"Bearer {register_client(ctx, 'fuzz', ['admin'])[1]}",
        "X-Site-Key": demo["site"]["site_key"],
        "Origin": "https://shop.example",
    }
    current.app = create_app(context=ctx)
    return current.app, headers


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_does_what_its_openapi_says(case: Any, fuzz_target: tuple[Any, dict[str, str]]) -> None:
    _, headers = fuzz_target
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
