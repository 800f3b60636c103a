"""Every JSON and YAML example in README.md and docs/, and every curl call in README.md, is run.

JSON and YAML blocks are checked by what they show: store descriptions are parsed by the store
registry, request bodies are sent to the API, problem and callback documents are checked against
what the service reads and writes. A block this file does not know fails the test, so a new
example gets a check when it is written. README's curl calls run in order against the API with
a token of all scopes (``$TOKEN``); placeholders such as ``sub_…`` take the values earlier calls
returned.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import create_engine, text

from consent_service.registry import banner_settings, banner_texts
from consent_service.stores.spec import parse_store
from tests.api.helpers import assert_problem, consent_body

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(path: Path, languages: tuple[str, ...]) -> Iterator[tuple[int, str, str]]:
    """(line, language, text) of each fenced block in one of ``languages``."""
    source = path.read_text()
    for match in FENCE.finditer(source):
        if match.group(1) in languages:
            yield source.count("\n", 0, match.start()) + 1, match.group(1), match.group(2)


def crm_store(client: Any, headers: dict[str, str], tmp_path: Path) -> None:
    """A SQLite store with the collections the examples name."""
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, last_order_at TEXT)"))
        conn.execute(text("CREATE TABLE leads (id INTEGER PRIMARY KEY, email TEXT, created_at TEXT)"))
        conn.execute(
            text("CREATE TABLE contracts (id INTEGER PRIMARY KEY, customer_id INTEGER, ended_at TEXT)")
        )
    engine.dispose()
    stamp = {"category": "system.operations", "erase": "keep"}
    store = {
        "type": "sql",
        "connection": {"url": url},
        "collections": {
            "customers": {
                "primary_key": "id",
                "identities": {"email": "email", "customer_id": "id"},
                "fields": {
                    "email": {"category": "user.contact.email", "erase": "mask"},
                    "last_order_at": stamp,
                },
            },
            "leads": {
                "primary_key": "id",
                "identities": {"email": "email"},
                "erase": "delete",
                "fields": {"email": {"category": "user.contact.email", "erase": "mask"}, "created_at": stamp},
            },
            "contracts": {
                "primary_key": "id",
                "references": {"customer_id": "customers.id"},
                "erase": "delete",
                "fields": {"ended_at": stamp},
            },
        },
    }
    response = client.put("/v1/stores/crm", headers=headers, json=store)
    assert response.status_code == 201, response.get_data(as_text=True)


# JSON and YAML blocks ----------------------------------------------------------------------


def check_yaml(client: Any, headers: dict[str, str], where: str, doc: Any) -> None:
    if isinstance(doc, dict) and {"source", "decisions"} <= set(doc):  # an import mapping
        from consent_service.imports.mapping import parse

        parse("example", doc)  # raises InvalidInput naming every problem
        return
    assert isinstance(doc, dict) and "type" in doc and "collections" in doc, f"{where}: not a store"
    parse_store("example", doc)  # raises InvalidInput naming every problem


def demo_site(client: Any, headers: dict[str, str]) -> str:
    """The id of the demo shop, the site the settings examples are sent for."""
    listed = client.get("/v1/sites", headers=headers).get_json()
    return str(next(site["id"] for site in listed if site["name"] == "Demo shop"))


def check_json(client: Any, headers: dict[str, str], where: str, doc: Any) -> None:
    if "titles" in doc and "legal_basis" in doc:
        response = client.put("/v1/purposes/doc-example", headers=headers, json=doc)
        assert response.status_code in (200, 201), f"{where}: {response.get_data(as_text=True)}"
    elif "applies_to" in doc and "trigger" in doc:
        response = client.put("/v1/retention/rules/doc-example", headers=headers, json=doc)
        assert response.status_code == 201, f"{where}: {response.get_data(as_text=True)}"
    elif {"name", "endpoint", "events"} <= set(doc):  # a recipient
        response = client.put("/v1/recipients/doc-example", headers=headers, json=doc)
        assert response.status_code in (200, 201), f"{where}: {response.get_data(as_text=True)}"
    elif {"name", "origins", "purposes", "cookies"} <= set(doc):  # a site
        response = client.post("/v1/sites", headers=headers, json=doc)
        assert response.status_code == 201, f"{where}: {response.get_data(as_text=True)}"
    elif doc and set(doc) <= set(banner_settings.DEFAULTS):  # a site's banner settings
        answered = client.put(f"/v1/sites/{demo_site(client, headers)}/banner", headers=headers, json=doc)
        assert answered.status_code == 200, f"{where}: {answered.get_data(as_text=True)}"
        assert answered.get_json()["banner"] == banner_settings.settings(doc), where
        for lang, table in doc.get("texts", {}).items():  # an override shows in the banner's texts
            shown = banner_texts.texts(lang, banner_settings.settings(doc)["texts"])
            assert all(shown[key] == text for key, text in table.items()), where
    elif any(str(field).startswith("banner.") for field in doc.get("errors", {})):  # settings refused
        bad = {"theme": {"background": "#000000", "text": "#333333"}}
        bad["consent_mode"] = {"mapping": {"ad_storage": ["loyalty"]}}
        url = f"/v1/sites/{demo_site(client, headers)}/banner"
        answered = assert_problem(client.put(url, headers=headers, json=bad), doc["status"])
        assert {k: answered[k] for k in doc} == doc, where
    elif str(doc.get("type", "")).startswith("https://consent-service.dev/problems/"):
        answered = assert_problem(client.post("/v1/consents", headers=headers, json={}), doc["status"])
        assert set(doc) <= set(answered) | {"errors"}, where
        assert answered["type"] == doc["type"], where
    elif {"request_id", "status"} <= set(doc):  # an HTTP store's callback
        from consent_service.dsar.tasks import _callback_document

        _callback_document(json.dumps(doc).encode())
    elif doc.get("event") == "consent":  # a batch of consent changes, as consent_hooks.batch writes it
        from consent_service.api.schemas.consents import FeedEventOut
        from consent_service.dsar.consent_hooks import batch

        recorded = client.post("/v1/consents", headers=headers, json=consent_body("doc@example.org"))
        seq = recorded.get_json()["events"][0]["seq"]
        made = batch(client.application.extensions["consent"], "doc-example", seq - 1, seq)
        assert set(doc) == set(made) and made["events"], where
        assert set(doc["events"][0]) == set(made["events"][0]), where
        assert all(set(e) == set(FeedEventOut().fields) for e in doc["events"]), where
    elif {"event", "request_id", "subject_id", "occurred_at"} <= set(doc):  # a recipient webhook
        assert set(doc) <= {
            "event",
            "request_id",
            "subject_id",
            "occurred_at",
            "fields",
            "action",
            "purposes",
        }
    elif set(doc) == {"gpc", "lastUpdate"}:  # the GPC support resource
        from consent_service.config import Config
        from consent_service.config_checks import check_gpc

        answered = client.get("/.well-known/gpc.json").get_json()
        assert doc["gpc"] is answered["gpc"] is True, where
        check_gpc(Config(gpc_last_update=doc["lastUpdate"]))
    elif set(doc) == {"items", "next_cursor", "feed_after"}:  # a segment page
        client.post("/v1/consents", headers=headers, json=consent_body("segment@example.org"))
        links = "&unsubscribe_links=true" if "unsubscribe" in doc["items"][0] else ""
        answered = client.get(f"/v1/segments/newsletter?identity=email&limit=1{links}", headers=headers)
        assert answered.status_code == 200, f"{where}: {answered.get_data(as_text=True)}"
        page = answered.get_json()
        assert set(page) == set(doc) and set(page["items"][0]) == set(doc["items"][0]), where
        assert page["next_cursor"] and page["next_cursor"].isascii(), where
        if links:  # the unsubscribe link and headers as the page documents them
            shown, given = doc["items"][0]["unsubscribe"], page["items"][0]["unsubscribe"]
            assert set(shown) == set(given) == {"url", "headers"}, where
            assert set(shown["headers"]) == set(given["headers"]), where
            assert given["headers"]["List-Unsubscribe"] == f"<{given['url']}>", where
            assert shown["headers"]["List-Unsubscribe-Post"] == given["headers"]["List-Unsubscribe-Post"], (
                where
            )
            assert urlsplit(shown["url"]).path == urlsplit(given["url"]).path, where
    elif set(doc) == {"purpose", "hash", "items"}:  # a suppression list
        answered = client.get(f"/v1/suppressions/{doc['purpose']}?format=json", headers=headers)
        assert answered.status_code == 200, f"{where}: {answered.get_data(as_text=True)}"
        listed = answered.get_json()
        assert set(listed) == set(doc) and listed["hash"] == doc["hash"], where
        assert all(re.fullmatch("[0-9a-f]{64}", h) for h in doc["items"] + listed["items"]), where
    elif {"interval", "buckets", "min_subjects"} <= set(doc):  # consent statistics
        asked = f"/v1/stats/consents?purpose={doc['purpose']}&from={doc['from']}&to={doc['to']}"
        answered = client.get(asked + f"&interval={doc['interval']}", headers=headers)
        assert answered.status_code == 200, f"{where}: {answered.get_data(as_text=True)}"
        got = answered.get_json()
        assert set(got) == set(doc) and len(got["buckets"]) == len(doc["buckets"]), where
        for shown, bucket in zip(got["buckets"], doc["buckets"], strict=True):
            assert set(shown) == set(bucket) and set(shown["methods"]) == set(bucket["methods"]), where
            assert set(bucket["suppressed"]) == {k for k, v in bucket.items() if v is None} | (
                {"methods"} if None in bucket["methods"].values() else set()
            ), f"{where}: 'suppressed' names the null numbers"
    elif {"types", "min_subjects"} <= set(doc):  # request statistics
        answered = client.get(f"/v1/stats/requests?from={doc['from']}&to={doc['to']}", headers=headers)
        assert answered.status_code == 200, f"{where}: {answered.get_data(as_text=True)}"
        got = answered.get_json()
        assert set(got) == set(doc) and set(got["types"][0]) == set(doc["types"][0]), where
        assert got["types"][0]["type"] == doc["types"][0]["type"], where
    elif {"source", "rows", "written", "already_imported"} <= set(doc):  # an import's report
        from consent_service.api.schemas.imports import ImportOut

        assert set(doc) == set(ImportOut().fields), where  # tests/integration/test_imports.py runs it
    else:
        pytest.fail(f"{where}: an example this test does not know; add a check for it")


def test_every_json_and_yaml_example_is_what_the_service_takes(client, admin, demo, tmp_path) -> None:
    crm_store(client, admin, tmp_path)
    checked = 0
    for path in DOCS:
        for line, language, body in blocks(path, ("json", "yaml", "yml")):
            where = f"{path.relative_to(ROOT)}:{line}"
            if language == "json":
                check_json(client, admin, where, json.loads(body))
            else:
                check_yaml(client, admin, where, yaml.safe_load(body))
            checked += 1
    assert checked >= 9


# README's curl calls ---------------------------------------------------------------------


def curl_calls(source: str) -> Iterator[tuple[int, list[str]]]:
    """(line, argv) of each curl command in the shell blocks, read as a shell reads them:
    backslash continuations, quotes that span lines, ``#`` comments."""
    for match in FENCE.finditer(source):
        if match.group(1) != "sh":
            continue
        first = source.count("\n", 0, match.start()) + 2
        pending, start = "", 0
        for offset, line in enumerate(match.group(2).splitlines()):
            if not pending:
                start = first + offset
            if line.endswith("\\"):  # a continuation: the command goes on
                pending += line[:-1] + " "
                continue
            pending += line + "\n"
            try:
                argv = shlex.split(pending, comments=True)
            except ValueError:  # a quote still open: the command goes on
                continue
            pending = ""
            if argv[:1] == ["curl"]:
                yield start, argv


def as_request(argv: list[str]) -> tuple[str, str, dict[str, str], str | None]:
    method, url, headers, data = "GET", "", {}, None
    args = iter(argv[1:])
    for arg in args:
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(": ")
            headers[name] = value
        elif arg == "-d":
            data = next(args)
        elif not arg.startswith("-"):
            url = arg
    return method, url.split("8000", 1)[1], headers, data


def fill(text: str, known: dict[str, str]) -> str:
    for placeholder, value in known.items():
        text = text.replace(placeholder, value)
    return text


def test_the_readme_curl_calls_work_in_order(client, admin, demo, tmp_path) -> None:
    crm_store(client, admin, tmp_path)
    token = admin["Authorization"].removeprefix("Bearer ")
    learned: dict[str, str] = {"pk_…": demo["site"]["site_key"]}
    calls = list(curl_calls((ROOT / "README.md").read_text()))
    assert len(calls) >= 15
    for line, argv in calls:
        method, path, headers, data = as_request(argv)
        known = {"$TOKEN": token, **learned}
        path, data = fill(path, known), fill(data, known) if data else data
        headers = {name: fill(value, known) for name, value in headers.items()}
        response = client.open(path, method=method, headers=headers, data=data)
        assert response.status_code < 300, f"README.md:{line}: {response.get_data(as_text=True)}"
        body = response.get_json(silent=True) or {}
        if isinstance(body, dict):
            if "subject_id" in body and "sub_…" not in learned:  # anna, the first subject
                learned["sub_…"] = body["subject_id"]
            if path.startswith("/v1/retention/runs") and method == "POST":
                learned["<id>"] = body["id"]
            if path == "/v1/requests" and method == "POST":
                learned["req_…"] = body["id"]
            if "token" in body:
                learned["vt1.…"] = body["token"]
