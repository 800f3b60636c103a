"""The console's store pages through the test client: the list with the last connection test,
the test button, and the editor that puts each of the validator's problems under its line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from consent_service import create_app
from consent_service.stores import registry
from consent_service.web.console.store_text import as_text, key_lines, line_of, masked, problems_by_line
from tests.api.helpers import CRM_STORE
from tests.console_helpers import add_staff, sign_in, token


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def crm(ctx: Any, tmp_path: Path, *, with_name: bool = True) -> str:
    """A SQLite "crm" store with a customers table, registered as the API would; returns its URL."""
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        columns = "id INTEGER PRIMARY KEY, email TEXT" + (", name TEXT" if with_name else "")
        conn.execute(text(f"CREATE TABLE customers ({columns})"))
    engine.dispose()
    registry.save_store(ctx, "crm", CRM_STORE | {"connection": {"url": url}, "description": "the CRM"})
    return url


@pytest.fixture
def client(clocked_ctx: Any) -> Any:
    add_staff(clocked_ctx)
    web = create_app(context=clocked_ctx).test_client()
    sign_in(web)
    return web


def edit_text(client: Any, key: str = "crm") -> tuple[str, str]:
    """The editor's CSRF token and the text in its textarea."""
    html = page(client.get(f"/console/stores/{key}/edit"))
    found = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S)
    assert found, html
    import html as html_module

    return token(html), html_module.unescape(found.group(1)).lstrip("\n")


def test_the_list_shows_each_store_with_its_kind_and_not_tested_yet(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    assert "No store is registered yet" in page(
        client.get("/console/stores", headers={"Accept-Language": "en"})
    )
    crm(clocked_ctx, tmp_path)
    listed = page(client.get("/console/stores", headers={"Accept-Language": "en"}))
    assert 'href="/console/stores/crm"' in listed and "SQL database" in listed
    assert "not tested yet" in listed and "Test connection" in listed
    assert 'aria-current="page">Stores<' in listed


def test_the_test_button_records_the_result_and_the_page_shows_it(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    crm(clocked_ctx, tmp_path, with_name=False)  # the description declares a name column the table lacks
    listed = page(client.get("/console/stores"))
    answer = client.post("/console/stores/crm/test", data={"csrf_token": token(listed), "back": "list"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/stores#store-crm")
    check = registry.last_checks(clocked_ctx)["crm"]
    staff_id = sign_in_id(clocked_ctx)
    assert check["ok"] is False and check["checked_by"] == staff_id
    assert page(client.get("/console/stores", headers={"Accept-Language": "en"})).count(">failed<") == 1
    detail = page(client.get("/console/stores/crm", headers={"Accept-Language": "en"}))
    assert "Last connection test" in detail and "name" in detail and ">problem<" in detail

    engine = create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE customers ADD COLUMN name TEXT"))
    engine.dispose()
    client.post("/console/stores/crm/test", data={"csrf_token": token(detail)})
    assert registry.last_checks(clocked_ctx)["crm"]["ok"] is True
    assert ">passed<" in page(client.get("/console/stores/crm", headers={"Accept-Language": "en"}))


def sign_in_id(ctx: Any) -> str:
    from consent_service.staff import service as staff

    return next(u["id"] for u in staff.list_users(ctx) if u["email"] == "dpo@example.org")


def test_the_api_s_test_keeps_the_last_result_too(clocked_ctx: Any, tmp_path: Path):
    from consent_service.auth.service import register_client

    crm(clocked_ctx, tmp_path)
    api = create_app(context=clocked_ctx).test_client()
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'ops', ['dsar:manage'])[1]}"}
    answer = api.post("/v1/stores/crm/test", headers=headers)
    assert answer.status_code == 200 and answer.get_json()["ok"] is True
    assert answer.get_json()["checked_by"] == registry.last_checks(clocked_ctx)["crm"]["checked_by"]


def test_the_editor_shows_the_description_with_its_secret_masked(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    registry.save_store(
        clocked_ctx,
        "hooks",
        {
            "type": "http",
            "connection": {"endpoint": "http://127.0.0.1:9/erase", "secret": "s3cret-s3cret-s3cret"},
            "collections": {
                "users": {
                    "identities": {"email": "email"},
                    "fields": {"email": {"category": "user.contact.email"}},
                }
            },
        },
    )
    html = page(client.get("/console/stores/hooks/edit"))
    assert "s3cret" not in html and "***" in html
    assert 'id="line-1"' in html and '<th scope="row">5</th>' in html


def test_an_invalid_description_shows_each_problem_under_its_line_and_saves_nothing(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    crm(clocked_ctx, tmp_path)
    csrf, shown = edit_text(client)
    doc = json.loads(shown)
    doc["collections"]["customers"]["fields"]["email"]["erase"] = "shred"
    doc["collections"]["customers"]["colour"] = "blue"
    sent = json.dumps(doc, indent=2)
    erase_line = next(i for i, line in enumerate(sent.split("\n"), 1) if '"shred"' in line)
    answer = client.post(
        "/console/stores/crm/edit", data={"csrf_token": csrf, "text": sent}, headers={"Accept-Language": "en"}
    )
    assert answer.status_code == 422
    html = page(answer)
    assert (
        f'href="#line-{erase_line}">Line {erase_line} (<code>collections.customers.fields.email.erase</code>)'
        in html
    )
    under = html.split(f'id="line-{erase_line}"', 1)[1].split('id="line-', 1)[0]
    assert "must be one of nullify, mask, hash, delete, keep" in under
    assert "collections.customers.colour" in html and "Nothing was saved." in html
    assert registry.read_store(clocked_ctx, "crm")["collections"]["customers"]["fields"]["email"] == {
        "category": "user.contact.email"
    }


def test_text_that_is_not_json_is_shown_with_its_line_and_a_password_in_it_masked(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    crm(clocked_ctx, tmp_path)
    csrf, _ = edit_text(client)
    broken = '{\n  "type": "sql",\n  "connection": {"url": "postgresql://app:hunter2@db/crm"}\n  "collections": {}\n}'
    answer = client.post(
        "/console/stores/crm/edit",
        data={"csrf_token": csrf, "text": broken},
        headers={"Accept-Language": "en"},
    )
    html = page(answer)
    assert answer.status_code == 422 and 'href="#line-4">Line 4' in html and "This is not JSON" in html
    assert "hunter2" not in html and "app:***@db" in html


def test_a_valid_description_is_saved_and_keeps_the_hidden_secret(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    url = crm(clocked_ctx, tmp_path)
    csrf, shown = edit_text(client)
    doc = json.loads(shown)
    doc["description"] = "the CRM, customers only"
    doc["collections"]["customers"]["fields"]["email"]["erase"] = "mask"
    answer = client.post(
        "/console/stores/crm/edit", data={"csrf_token": csrf, "text": json.dumps(doc, indent=2)}
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/stores/crm")
    saved = registry.read_store(clocked_ctx, "crm")
    assert saved["description"] == "the CRM, customers only"
    assert saved["collections"]["customers"]["fields"]["email"]["erase"] == "mask"
    assert registry.load_spec(clocked_ctx, "crm")[1] == {"url": url}


def test_a_new_store_is_registered_and_an_existing_key_is_refused(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    html = page(client.get("/console/stores/new"))
    body = CRM_STORE | {"connection": {"url": f"sqlite:///{tmp_path / 'crm.db'}"}}
    answer = client.post(
        "/console/stores/new", data={"csrf_token": token(html), "key": "crm", "text": json.dumps(body)}
    )
    assert answer.status_code == 302
    assert registry.read_store(clocked_ctx, "crm")["type"] == "sql"
    again = client.post(
        "/console/stores/new",
        data={"csrf_token": token(html), "key": "crm", "text": json.dumps(body | {"type": "redis"})},
        headers={"Accept-Language": "en"},
    )
    assert again.status_code == 422 and "A store with this key exists" in page(again)
    assert registry.read_store(clocked_ctx, "crm")["type"] == "sql"
    bad_key = client.post(
        "/console/stores/new", data={"csrf_token": token(html), "key": "No Way", "text": "{}"}
    )
    assert bad_key.status_code == 422 and 'id="key-error"' in page(bad_key)
    empty = client.post("/console/stores/new", data={"csrf_token": token(html), "key": "", "text": ""})
    assert empty.status_code == 422
    not_object = client.post(
        "/console/stores/new", data={"csrf_token": token(html), "key": "x", "text": "[1, 2]"}
    )
    assert not_object.status_code == 422 and 'href="#line-1"' in page(not_object)
    assert [s["key"] for s in registry.read_stores(clocked_ctx)] == ["crm"]


def test_an_unknown_store_is_a_404_page(client: Any):
    assert client.get("/console/stores/nope").status_code == 404
    assert client.get("/console/stores/nope/edit").status_code == 404
    html = page(client.get("/console/stores"))
    assert client.post("/console/stores/nope/test", data={"csrf_token": token(html)}).status_code == 404
    body = json.dumps(CRM_STORE | {"connection": {"url": "sqlite://"}})
    assert (
        client.post("/console/stores/nope/edit", data={"csrf_token": token(html), "text": body}).status_code
        == 404
    )
    assert registry.read_stores(client.application.extensions["consent"]) == []  # the editor adds no store


@pytest.mark.parametrize("role", ["auditor", "agent"])
def test_readers_see_the_stores_but_every_change_is_403(clocked_ctx: Any, tmp_path: Path, role: str):
    crm(clocked_ctx, tmp_path)
    add_staff(clocked_ctx, email=f"{role}@example.org", role=role)
    web = create_app(context=clocked_ctx).test_client()
    sign_in(web, email=f"{role}@example.org")
    listed = page(web.get("/console/stores"))
    assert "crm" in listed and "Test connection" not in page(
        web.get("/console/stores", headers={"Accept-Language": "en"})
    )
    assert web.get("/console/stores/crm").status_code == 200
    csrf = token(listed)
    assert web.post("/console/stores/crm/test", data={"csrf_token": csrf}).status_code == 403
    assert web.post("/console/stores/crm/edit", data={"csrf_token": csrf, "text": "{}"}).status_code == 403
    assert (
        web.post("/console/stores/new", data={"csrf_token": csrf, "key": "x", "text": "{}"}).status_code
        == 403
    )
    assert web.get("/console/stores/crm/edit").status_code == 403
    assert registry.last_checks(clocked_ctx) == {}


def test_problem_paths_find_their_lines_or_their_nearest_ancestor():
    text_ = as_text(
        {
            "type": "sql",
            "connection": {"url": "sqlite://"},
            "collections": {"c": {"fields": {"e": {"erase": "x"}}}},
        }
    )
    lines = key_lines(text_)
    assert (
        line_of("collections.c.fields.e.erase", lines)
        == text_.split("\n").index('          "erase": "x"') + 1
    )
    assert line_of("collections.c.primary_key", lines) == lines["collections.c"]
    assert line_of("collections[0].fields", {"collections.0.fields": 7}) == 7
    assert line_of("nowhere", lines) == 1
    nested = problems_by_line(text_, {"crm": {"type": ["bad"]}})
    assert [(p.path, p.line) for p in nested] == [("crm.type", 1)]
    doc = {"type": "http", "connection": {"endpoint": "https://x", "secret": "0123456789abcdef"}}
    assert "0123" not in masked(json.dumps(doc, indent=2), doc)
    assert masked(json.dumps(doc, indent=2), doc).count("\n") == json.dumps(doc, indent=2).count("\n")
