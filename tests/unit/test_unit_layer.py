"""The unit layer's guard (tests/unit/conftest.py) and its fakes (tests/fakes.py): what a unit
test may not do fails at once, and a service that opens stores through the context's one
connector factory runs on fake connectors.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import flask
import pytest
from sqlalchemy import create_engine, text

from consent_service.errors import NotFound
from consent_service.stores.connectors.fake import FakeConnector
from consent_service.stores.registry import check_store
from consent_service.stores.spec import parse_store
from tests import fakes
from tests.unit.conftest import NotInUnitTests
from tests.unit.store_examples import shop


def test_a_database_connection_is_refused() -> None:
    engine = create_engine("sqlite://")
    with pytest.raises(NotInUnitTests, match="connected to a database"), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()


def test_a_subprocess_a_socket_and_the_flask_app_are_refused() -> None:
    with pytest.raises(NotInUnitTests, match="subprocess"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    with pytest.raises(NotInUnitTests, match="network"), socket.socket() as sock:
        sock.connect(("127.0.0.1", 9))
    with pytest.raises(NotInUnitTests, match="Flask"):
        flask.Flask("consent_service")


def test_the_fake_unit_of_work_records_commits_and_refuses_to_read() -> None:
    ctx = fakes.context()
    with ctx.uow() as uow:
        uow.session.execute(text("UPDATE x SET y = 1"))
        uow.commit()
    database = fakes.database(ctx)
    assert database.commits == 1 and len(database.session.executed) == 1
    with ctx.uow(write=False) as uow, pytest.raises(AssertionError, match="no service database"):
        uow.session.scalars(text("SELECT 1"))


def test_a_store_check_runs_on_the_context_s_fake_store() -> None:
    store = FakeConnector(parse_store("shop", shop()), {"customers": [{"id": 1, "email": "a@x.org"}]})
    ctx = fakes.context(stores={"shop": store})
    report = check_store(ctx, "shop")
    assert report["key"] == "shop" and store.calls == [("check", "*")]
    assert not report["ok"]  # the customers' rows have no name column
    with pytest.raises(NotFound):
        check_store(ctx, "crm")
