"""The HTML report of an access package, in the language of the request.

It reads the JSON document ``package.build`` made and shows it for a person: the taxonomy's human
names instead of keys, durations in words and readable dates (``package_texts``), only the
purposes that concern this person (the document holds only those), automated decision-making
per purpose, recipients with their country and transfer safeguard, the rights with how to
exercise them and where to complain, and the data itself with the kind of each column.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from consent_service.config import Config
from consent_service.dsar import messages
from consent_service.dsar import package_texts as texts

LEGAL_BASES = {
    "en": {
        "consent": "consent (Art. 6(1)(a))",
        "contract": "contract (Art. 6(1)(b))",
        "legal_obligation": "legal obligation (Art. 6(1)(c))",
        "vital_interests": "vital interests (Art. 6(1)(d))",
        "public_task": "public task (Art. 6(1)(e))",
        "legitimate_interests": "legitimate interests (Art. 6(1)(f))",
    },
    "de": {
        "consent": "Einwilligung (Art. 6 Abs. 1 lit. a)",
        "contract": "Vertrag (Art. 6 Abs. 1 lit. b)",
        "legal_obligation": "rechtliche Verpflichtung (Art. 6 Abs. 1 lit. c)",
        "vital_interests": "lebenswichtige Interessen (Art. 6 Abs. 1 lit. d)",
        "public_task": "öffentliche Aufgabe (Art. 6 Abs. 1 lit. e)",
        "legitimate_interests": "berechtigte Interessen (Art. 6 Abs. 1 lit. f)",
    },
}


# A document the person keeps: readable on a phone (tables scroll sideways, nothing overflows),
# printable, and without any script or resource from elsewhere.
STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#1a1a1a}"
    "h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}"
    "h3{font-size:1.05rem}.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0}"
    "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#f2f2f2}td{hyphens:auto}"
)


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    """A table that scrolls on a narrow screen; ``empty`` (a sentence) when there are no rows."""
    if not rows:
        return f"<p>{html.escape(empty)}</p>"
    head = "".join(f"<th scope=col>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<div class=scroll><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _in_language(values: Mapping[str, str] | None, language: str, fallback: str) -> str:
    values = values or {}
    return values.get(language) or values.get("en") or fallback


class Report:
    """One package's report; ``t`` is a text of the report's language."""

    def __init__(self, doc: dict[str, Any], descriptions: Mapping[str, str], cfg: Config) -> None:
        self.doc = doc
        self.lang = texts.language_of(doc.get("language"))
        self.descriptions = descriptions
        self.cfg = cfg

    def t(self, name: str, **values: Any) -> str:
        return texts.text(self.lang, name, **values)

    def table(self, headers: list[str], rows: list[list[Any]]) -> str:
        return _table(headers, rows, self.t("nothing"))

    def names(self, keys: list[str] | None) -> str:
        shown = [
            self.t("unclassified") if k == "unclassified" else self.doc["names"].get(k, k) for k in keys or []
        ]
        return ", ".join(shown)

    def period(self, value: str | None) -> str:
        return texts.duration_words(value, self.lang) or self.t("as_needed")

    def title(self, purpose: dict[str, Any]) -> str:
        return _in_language(purpose.get("titles"), self.lang, purpose["key"])

    def render(self) -> str:
        esc, doc, t = html.escape, self.doc, self.t
        parts = [
            f"<!doctype html><html lang={self.lang}><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{esc(t('title', request=doc['request_id']))}</title><style>{STYLE}</style></head><body>",
            f"<h1>{esc(t('heading', controller=self.cfg.controller_name))}</h1>",
            "<p>"
            + esc(
                t(
                    "intro",
                    request=doc["request_id"],
                    type=messages.type_name(doc["type"], self.lang),
                    date=texts.date_words(doc["generated_at"], self.lang),
                    contact=self.cfg.controller_contact,
                    policy=self.cfg.policy_url,
                )
            )
            + "</p>",
        ]
        if doc["type"] == "portability":
            parts.append(f"<p>{esc(t('portability'))}</p>")
        parts += self.purposes() + self.automated() + self.categories() + self.recipients()
        parts += self.retention() + self.rights() + self.history() + self.data()
        parts.append("</body></html>")
        return "\n".join(parts)

    def purposes(self) -> list[str]:
        t, bases = self.t, LEGAL_BASES[self.lang]
        rows = [
            [
                self.title(p),
                bases.get(p["legal_basis"], p["legal_basis"]),
                self.names(p["data_categories"]),
                self.names(p["data_uses"]),
                self.period(p["retention_period"]),
            ]
            for p in self.doc["purposes"]
        ]
        headers = [t("purpose"), t("legal_basis"), t("data_categories"), t("data_uses"), t("retention")]
        return [
            f"<h2>{html.escape(t('purposes'))}</h2>",
            f"<p>{html.escape(t('purposes_rule'))}</p>",
            _table(headers, rows, t("no_purposes")),
        ]

    def automated(self) -> list[str]:
        esc, t = html.escape, self.t
        parts = [f"<h2>{esc(t('automated'))}</h2>"]
        if not self.doc["purposes"]:
            parts.append(f"<p>{esc(t('nothing'))}</p>")
        for p in self.doc["purposes"]:
            parts.append(f"<h3>{esc(self.title(p))}</h3>")
            adm = p.get("automated_decisions")
            if not isinstance(adm, dict):
                parts.append(f"<p>{esc(t('automated_none'))}</p>")
                continue
            for part in ("logic", "consequences"):
                text = _in_language(adm.get(part), self.lang, "")
                parts.append(f"<p><strong>{esc(t(part))}:</strong> {esc(text)}</p>")
        return parts

    def categories(self) -> list[str]:
        t = self.t
        rows = [
            [store, self.descriptions.get(store, ""), self.names(cats)]
            for store, cats in self.doc["categories"].items()
        ]
        return [
            f"<h2>{html.escape(t('categories'))}</h2>",
            self.table([t("store"), t("description"), t("data_categories")], rows),
        ]

    def recipients(self) -> list[str]:
        t = self.t
        heading = f"<h2>{html.escape(t('recipients'))}</h2>"
        if not self.doc["recipients"]:
            return [heading, f"<p>{html.escape(t('no_recipients'))}</p>"]
        safeguards = texts.words(texts.SAFEGUARDS, self.lang)
        events = texts.words(texts.EVENTS, self.lang)
        rows = []
        for r in self.doc["recipients"]:
            if r["country"] is None:
                safeguard = ""
            elif not r["third_country"]:
                safeguard = t("in_eea")
            else:
                safeguard = safeguards.get(r["safeguard"], r["safeguard"])
            told_of = ", ".join(events.get(e, e) for e in r["told_of"])
            rows.append([r["name"], told_of, r["country_name"], safeguard])
        return [heading, self.table([t("recipient"), t("told_of"), t("country"), t("safeguard")], rows)]

    def retention(self) -> list[str]:
        esc, t, doc = html.escape, self.t, self.doc
        rules = doc["retention"]["rules"]
        titles = {p["key"]: self.title(p) for p in doc["purposes"]}
        return [
            f"<h2>{esc(t('retention_heading'))}</h2><p>{esc(t('retention_intro'))}</p>",
            self.table(
                [t("rule"), t("version"), t("applies_to"), t("retention")],
                [
                    [
                        r["key"],
                        r["version"],
                        ", ".join(f"{name} {value}" for name, value in r["applies_to"].items()),
                        texts.rule_words(r, self.lang),
                    ]
                    for r in rules
                ],
            )
            if rules
            else f"<p>{esc(t('no_rules'))}</p>",
            f"<p>{esc(t('purpose_periods'))}</p>",
            self.table(
                [t("purpose"), t("retention_period")],
                [
                    [titles.get(p["key"], p["key"]), self.period(p["retention_period"])]
                    for p in doc["retention"]["purposes"]
                ],
            ),
            f"<p>{esc(t('holds'))}</p>",
            self.table([t("store"), t("collection"), t("kept_because")], doc["holds"]),
        ]

    def rights(self) -> list[str]:
        esc, doc = html.escape, self.doc
        items = "".join(
            f"<li><strong>{esc(r['right'])} (Art. {esc(r['article'])})</strong>: {esc(r['text'])}</li>"
            for r in doc["rights"]["rights"]
        )
        return [
            f"<h2>{esc(self.t('rights'))}</h2><ul>{items}</ul>",
            f"<p>{esc(doc['rights']['how_to_exercise'])}</p>",
            f"<h2>{esc(self.t('complaint'))}</h2><p>{esc(doc['complaint']['text'])}</p>",
        ]

    def history(self) -> list[str]:
        t = self.t
        rows = [
            [
                texts.date_words(e["recorded_at"], self.lang, time=True),
                e["kind"],
                e["target_key"],
                e["decision"],
                e["channel"],
            ]
            for e in self.doc["consent_history"]
        ]
        headers = [t("recorded_at"), t("event"), t("target"), t("decision"), t("channel")]
        return [f"<h2>{html.escape(t('history'))}</h2>", self.table(headers, rows)]

    def data(self) -> list[str]:
        esc, t, doc = html.escape, self.t, self.doc
        parts = [f"<h2>{esc(t('data'))}</h2>"]
        if not any(doc["stores"].values()):
            parts.append(f"<p>{esc(t('no_data'))}</p>")
        for store, colls in doc["stores"].items():
            for collection, rows in colls.items():
                kinds = doc["columns"][store][collection]
                columns = list(kinds)
                parts.append(f"<h3>{esc(store)}: {esc(collection)}</h3>")
                parts.append(self.table(columns, [[row.get(c) for c in columns] for row in rows]))
                parts.append(
                    self.table([t("column"), t("category")], [[c, self.names([kinds[c]])] for c in columns])
                )
                excluded = doc["left_out"].get(store, {}).get(collection)
                if excluded:
                    parts.append(f"<p>{esc(t('left_out'))}</p>")
                    parts.append(
                        self.table([t("column"), t("reason")], [[c, r] for c, r in excluded.items()])
                    )
        return parts


def to_html(doc: dict[str, Any], descriptions: Mapping[str, str], cfg: Config) -> str:
    """The report of the package ``doc``; ``descriptions`` are the stores' descriptions."""
    return Report(doc, descriptions, cfg).render()
