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
from consent_service.crypto.keyring import KeyMaterial
from consent_service.wiring import bootstrap

EXAMPLES_PER_OPERATION = 25

# positive_data_acceptance ("a body the document allows is not refused with 422") runs on every
# operation but these, whose bodies are also checked for what OpenAPI 3.0 cannot state. Each
# reason is in docs/api.md; an operation leaves this table when its rule can be stated.
IDENTITY = "an identity type is built in or registered (/v1/identity-types: data, not the document)"
NOT_STATABLE = {
    ("PUT", "/v1/purposes/{key}"): "title and description maps are keyed by language tags of 2-8 "
    "characters (OpenAPI 3.0 has no propertyNames)",
    ("PUT", "/v1/cookies/{name}"): "the descriptions map is keyed by language tags of 2-8 characters "
    "(no propertyNames)",
    ("POST", "/v1/requests"): "keys of `changes` are 1-100 characters (no propertyNames); e-mail "
    "verification needs an email identity (no `contains`); `received_at` is not in the future; " + IDENTITY,
    ("POST", "/v1/consents"): "a purpose or cookie is decided at most once per request; " + IDENTITY,
    **dict.fromkeys(
        (
            ("POST", "/v1/decisions"),
            ("POST", "/v1/decisions/batch"),
            ("POST", "/v1/subjects/resolve"),
            ("POST", "/v1/subjects/link"),
            ("POST", "/v1/vault/encrypt"),
            ("POST", "/v1/vault/encrypt/batch"),
        ),
        IDENTITY,
    ),
    ("POST", "/v1/public/consents"): "a purpose or cookie is decided at most once per request",
    ("POST", "/v1/vault/decrypt"): "a token is checked cryptographically",
    ("GET", "/v1/segments/{purpose}"): "a cursor is one a previous page handed out (checked, opaque); "
    "identity values need a second scope, vault:decrypt; " + IDENTITY,
    ("PUT", "/v1/identity-types/{key}"): "a key is lower case and 2-40 characters, a built-in key is "
    "refused (409), and a pattern must compile as a regular expression",
    **dict.fromkeys(
        (("GET", "/v1/stats/consents"), ("GET", "/v1/stats/requests")),
        "`from` is not after `to`, the range is at most 3,700 days from 1970 to 9000, and a "
        "`purpose` or `site` is registered",
    ),
    ("GET", "/v1/ledger/proofs/inclusion"): "`seq` or `event`, not both; `seq` and `size` are within "
    "the tree's size at the time (an event is in the tree once the ledger thread added it)",
    ("GET", "/v1/ledger/proofs/consistency"): "`from` is not above `to`, and `to` is within the tree's "
    "size at the time",
    ("POST", "/v1/imports"): "the file's rows are checked against the mapping row by row (times, "
    "identities, registered purposes)",
    ("PUT", "/v1/stores/{key}"): "store descriptions are checked per store type (docs/dsar-stores.md) "
    "and HTTP endpoints must resolve to allowed addresses",
    ("PUT", "/v1/recipients/{key}"): "endpoints must resolve to allowed addresses; a country outside "
    "the EEA needs a safeguard (and one inside refuses it)",
    **dict.fromkeys(
        (("POST", "/v1/sites"), ("PUT", "/v1/sites/{site_id}"), ("PUT", "/v1/sites/{site_id}/banner")),
        "banner settings: the theme's text and accent colours reach a 4.5:1 contrast, re-ask periods "
        "are at most P13M, and Consent Mode maps only purposes the site offers",
    ),
}


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
# The document says that strings are text without NUL (refused with 422 at the boundary, which
# tests/api/test_boundary.py covers): valid examples are generated without it.
schema.config.generation.update(allow_x00=False)


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


def test_the_exceptions_name_real_operations() -> None:
    operations = {
        (method.upper(), path)
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert set(NOT_STATABLE) <= operations


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
    unstated = (case.operation.method.upper(), case.operation.path) in NOT_STATABLE
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance] if unstated else [])
