"""The words of access packages in the languages requests are answered in (``SUPPORTED_LANGUAGES``).

Headings and sentences of the HTML report, the rights of the data subject (Art. 15–22) and
how to exercise them, the right to lodge a complaint (Art. 77) and to a judicial remedy
(Art. 79), retention rules in words, and the formatting of dates and durations through Babel
(``babel.dates``, ``babel.units``) in the reader's locale. A language without texts falls back
to English.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel.dates import format_date, format_datetime
from babel.units import format_unit

from consent_service.config import DATE_LOCALES, SUPPORTED_LANGUAGES
from consent_service.durations import DurationError, parse_duration
from consent_service.retention.interface import ACTION_WORDS, TRIGGER_WORDS

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your personal data: {request}",
        "heading": "Your personal data held by {controller}",
        "intro": "Request {request} ({type}), prepared on {date}. Contact: {contact}. Privacy policy: {policy}.",
        "purposes": "Purposes of the processing (Art. 15(1)(a))",
        "purposes_rule": "The purposes that concern you: those you decided on, and those that use "
        "the kinds of data we found about you.",
        "purpose": "Purpose",
        "legal_basis": "Legal basis",
        "data_categories": "Kinds of data",
        "data_uses": "Uses",
        "retention": "Retention",
        "no_purposes": "None of our purposes concerns the data found.",
        "nothing": "None.",
        "no_data": "We found no data about you in the systems we searched.",
        "automated": "Automated decision-making and profiling (Art. 15(1)(h))",
        "automated_none": "No automated decisions are made and no profiling is done for this purpose.",
        "logic": "Logic involved",
        "consequences": "Significance and envisaged consequences",
        "categories": "Categories of personal data (Art. 15(1)(b)) and their source (Art. 15(1)(g))",
        "store": "Store (source)",
        "description": "Description",
        "recipients": "Recipients (Art. 15(1)(c)) and transfers to third countries (Art. 15(2))",
        "recipient": "Recipient",
        "told_of": "Told of",
        "country": "Country",
        "safeguard": "Safeguard of the transfer",
        "no_recipients": "No recipients of your data are registered.",
        "country_not_recorded": "country not recorded",
        "in_eea": "inside the European Economic Area: no safeguard needed",
        "retention_heading": "Retention (Art. 15(1)(d))",
        "retention_intro": "How long your data is kept: the retention rules that apply to the "
        "purposes you decided on, to the kinds of data found and to where it was found.",
        "rule": "Rule",
        "version": "Version",
        "applies_to": "Applies to",
        "no_rules": "No retention rule applies to the data found.",
        "purpose_periods": "Retention period of each purpose:",
        "retention_period": "Retention period",
        "as_needed": "as long as the purpose needs",
        "holds": "Records kept under a legal obligation:",
        "collection": "Collection",
        "kept_because": "Kept because",
        "rights": "Your rights (Art. 15(1)(e), (f))",
        "complaint": "Complaints and remedies",
        "history": "Consent history",
        "recorded_at": "Recorded at",
        "event": "Event",
        "target": "Purpose or cookie",
        "decision": "Decision",
        "channel": "Channel",
        "data": "Your data",
        "column": "Column",
        "category": "Kind of data",
        "unclassified": "not classified",
        "left_out": "Left out of this copy:",
        "reason": "Reason",
        "portability": "Portability (Art. 20): this export holds the data you provided and the data "
        "observed from your use of our services; data we inferred or derived is left out.",
        "and": "and",
        "none": "none",
    },
    "de": {
        "title": "Ihre personenbezogenen Daten: {request}",
        "heading": "Ihre personenbezogenen Daten bei {controller}",
        "intro": "Antrag {request} ({type}), erstellt am {date}. Kontakt: {contact}. "
        "Datenschutzerklärung: {policy}.",
        "purposes": "Zwecke der Verarbeitung (Art. 15 Abs. 1 lit. a)",
        "purposes_rule": "Die Zwecke, die Sie betreffen: die, zu denen Sie eine Entscheidung "
        "getroffen haben, und die, für die wir die bei Ihnen gefundenen Arten von Daten verwenden.",
        "purpose": "Zweck",
        "legal_basis": "Rechtsgrundlage",
        "data_categories": "Arten von Daten",
        "data_uses": "Verwendung",
        "retention": "Speicherdauer",
        "no_purposes": "Keiner unserer Zwecke betrifft die gefundenen Daten.",
        "nothing": "Keine.",
        "no_data": "In den durchsuchten Systemen haben wir keine Daten über Sie gefunden.",
        "automated": "Automatisierte Entscheidungsfindung und Profiling (Art. 15 Abs. 1 lit. h)",
        "automated_none": "Für diesen Zweck gibt es keine automatisierten Entscheidungen und kein Profiling.",
        "logic": "Involvierte Logik",
        "consequences": "Tragweite und angestrebte Auswirkungen",
        "categories": "Kategorien personenbezogener Daten (Art. 15 Abs. 1 lit. b) und ihre Herkunft "
        "(Art. 15 Abs. 1 lit. g)",
        "store": "Speicherort (Herkunft)",
        "description": "Beschreibung",
        "recipients": "Empfänger (Art. 15 Abs. 1 lit. c) und Übermittlungen in Drittländer (Art. 15 Abs. 2)",
        "recipient": "Empfänger",
        "told_of": "Benachrichtigt über",
        "country": "Land",
        "safeguard": "Garantie der Übermittlung",
        "no_recipients": "Es sind keine Empfänger Ihrer Daten eingetragen.",
        "country_not_recorded": "Land nicht erfasst",
        "in_eea": "im Europäischen Wirtschaftsraum: keine Garantie nötig",
        "retention_heading": "Speicherdauer (Art. 15 Abs. 1 lit. d)",
        "retention_intro": "Wie lange Ihre Daten gespeichert werden: die Löschregeln für die Zwecke, "
        "zu denen Sie entschieden haben, für die gefundenen Arten von Daten und für ihren Speicherort.",
        "rule": "Regel",
        "version": "Version",
        "applies_to": "Gilt für",
        "no_rules": "Für die gefundenen Daten gilt keine Löschregel.",
        "purpose_periods": "Speicherdauer je Zweck:",
        "retention_period": "Speicherdauer",
        "as_needed": "solange der Zweck es erfordert",
        "holds": "Aufgrund einer rechtlichen Verpflichtung aufbewahrte Daten:",
        "collection": "Sammlung",
        "kept_because": "Aufbewahrt, weil",
        "rights": "Ihre Rechte (Art. 15 Abs. 1 lit. e, f)",
        "complaint": "Beschwerden und Rechtsbehelfe",
        "history": "Verlauf Ihrer Einwilligungen",
        "recorded_at": "Erfasst am",
        "event": "Ereignis",
        "target": "Zweck oder Cookie",
        "decision": "Entscheidung",
        "channel": "Kanal",
        "data": "Ihre Daten",
        "column": "Spalte",
        "category": "Art der Daten",
        "unclassified": "nicht eingeordnet",
        "left_out": "In dieser Kopie nicht enthalten:",
        "reason": "Grund",
        "portability": "Datenübertragbarkeit (Art. 20): Dieser Export enthält die Daten, die Sie "
        "bereitgestellt haben, und die bei der Nutzung unserer Dienste beobachteten Daten; "
        "von uns abgeleitete oder gefolgerte Daten sind nicht enthalten.",
        "and": "und",
        "none": "keine",
    },
}

RIGHTS: dict[str, list[tuple[str, str, str]]] = {
    "en": [
        (
            "15",
            "Access",
            "You may ask whether we process your data and get a copy of it with this information.",
        ),
        ("16", "Rectification", "You may have inaccurate data corrected and incomplete data completed."),
        (
            "17",
            "Erasure",
            "You may have your data erased when it is no longer needed, you withdraw "
            "your consent or object, or it was processed unlawfully.",
        ),
        (
            "18",
            "Restriction",
            "You may have the processing restricted while accuracy or an objection "
            "is checked, or instead of erasure.",
        ),
        (
            "20",
            "Portability",
            "You may receive the data you provided in a structured, machine-readable "
            "format and have it sent to another controller.",
        ),
        (
            "21",
            "Objection",
            "You may object at any time to processing based on legitimate interests or "
            "a public task, and to direct marketing without giving reasons.",
        ),
        (
            "22",
            "Automated decisions",
            "You may not be subject to a decision based solely on automated "
            "processing that has legal or similarly significant effects, and may ask for a person to "
            "review it.",
        ),
        (
            "7(3)",
            "Withdrawing consent",
            "You may withdraw a consent at any time; this does not affect "
            "the processing before the withdrawal.",
        ),
    ],
    "de": [
        (
            "15",
            "Auskunft",
            "Sie können erfahren, ob wir Ihre Daten verarbeiten, und eine Kopie mit diesen "
            "Informationen erhalten.",
        ),
        (
            "16",
            "Berichtigung",
            "Sie können unrichtige Daten berichtigen und unvollständige vervollständigen lassen.",
        ),
        (
            "17",
            "Löschung",
            "Sie können Ihre Daten löschen lassen, wenn sie nicht mehr nötig sind, Sie Ihre "
            "Einwilligung widerrufen oder widersprechen oder sie unrechtmäßig verarbeitet wurden.",
        ),
        (
            "18",
            "Einschränkung",
            "Sie können die Verarbeitung einschränken lassen, solange die Richtigkeit "
            "oder ein Widerspruch geprüft wird, oder statt einer Löschung.",
        ),
        (
            "20",
            "Datenübertragbarkeit",
            "Sie können die von Ihnen bereitgestellten Daten in einem "
            "strukturierten, maschinenlesbaren Format erhalten und an einen anderen Verantwortlichen "
            "übermitteln lassen.",
        ),
        (
            "21",
            "Widerspruch",
            "Sie können jederzeit der Verarbeitung aufgrund berechtigter Interessen oder "
            "einer öffentlichen Aufgabe widersprechen, der Direktwerbung ohne Angabe von Gründen.",
        ),
        (
            "22",
            "Automatisierte Entscheidungen",
            "Sie müssen keine ausschließlich automatisierte "
            "Entscheidung mit rechtlicher oder ähnlich erheblicher Wirkung hinnehmen und können die "
            "Prüfung durch einen Menschen verlangen.",
        ),
        (
            "7(3)",
            "Widerruf der Einwilligung",
            "Sie können eine Einwilligung jederzeit widerrufen; die "
            "Verarbeitung bis zum Widerruf bleibt davon unberührt.",
        ),
    ],
}

HOW_TO = {
    "en": "To exercise a right, write to {contact} or use the privacy page {policy}; we answer within "
    "one month (Art. 12(3)).",
    "de": "Um ein Recht auszuüben, schreiben Sie an {contact} oder nutzen Sie die Datenschutzseite "
    "{policy}; wir antworten innerhalb eines Monats (Art. 12 Abs. 3).",
}

COMPLAINT = {
    "en": "You have the right to lodge a complaint with a supervisory authority (Art. 77), in particular "
    "in the member state where you live or work or where the infringement took place{authority}, "
    "and the right to an effective judicial remedy against us (Art. 79).",
    "de": "Sie haben das Recht, sich bei einer Aufsichtsbehörde zu beschweren (Art. 77), insbesondere im "
    "Mitgliedstaat Ihres Aufenthaltsorts, Ihres Arbeitsplatzes oder des mutmaßlichen Verstoßes"
    "{authority}, und das Recht auf einen wirksamen gerichtlichen Rechtsbehelf gegen uns (Art. 79).",
}
AUTHORITY = {"en": "; the authority responsible for us is {name}", "de": "; für uns zuständig ist {name}"}

TRIGGERS = {
    "en": TRIGGER_WORDS,
    "de": {
        "since_field": "nach dem Zeitpunkt in {field}",
        "last_activity": "nach der letzten Aktivität ({field})",
        "contract_end": "nach Vertragsende ({field})",
        "consent_ended": "nach dem Ende der Einwilligung zu {purpose} (Widerruf, Ablehnung oder Ablauf)",
    },
}
ACTIONS = {
    "en": ACTION_WORDS,
    "de": {"delete": "gelöscht", "anonymise": "anonymisiert", "crypto_shred": "unlesbar gemacht"},
}
RULE_SENTENCE = {"en": "{period} {when}, then {action}", "de": "{period} {when}, dann {action}"}
EVENTS = {
    "en": {"erasure": "erasure", "rectification": "rectification", "restriction": "restriction"},
    "de": {"erasure": "Löschung", "rectification": "Berichtigung", "restriction": "Einschränkung"},
}
SAFEGUARDS = {
    "en": {
        "adequacy_decision": "adequacy decision of the European Commission (Art. 45)",
        "standard_contractual_clauses": "standard data protection clauses (Art. 46(2)(c))",
        "binding_corporate_rules": "binding corporate rules (Art. 47)",
        "derogation_art49": "derogation for a specific situation (Art. 49)",
    },
    "de": {
        "adequacy_decision": "Angemessenheitsbeschluss der Europäischen Kommission (Art. 45)",
        "standard_contractual_clauses": "Standarddatenschutzklauseln (Art. 46 Abs. 2 lit. c)",
        "binding_corporate_rules": "verbindliche interne Datenschutzvorschriften (Art. 47)",
        "derogation_art49": "Ausnahme für einen bestimmten Fall (Art. 49)",
    },
}
_UNITS = (
    ("years", "duration-year"),
    ("months", "duration-month"),
    ("weeks", "duration-week"),
    ("days", "duration-day"),
    ("hours", "duration-hour"),
    ("minutes", "duration-minute"),
    ("seconds", "duration-second"),
)


def language_of(language: str | None) -> str:
    """The language the package is written in: the request's, or English."""
    return language if language in SUPPORTED_LANGUAGES else "en"


def text(language: str, name: str, **values: Any) -> str:
    return TEXTS[language_of(language)][name].format(**values)


def words(table: dict[str, Any], language: str) -> Any:
    return table[language_of(language)]


def duration_words(value: str | None, language: str) -> str | None:
    """An ISO 8601 duration in words ("P1Y6M" -> "1 year and 6 months"); None stays None."""
    if not value:
        return None
    try:
        delta = parse_duration(value)
    except DurationError:
        return value
    weeks, days = divmod(delta.days, 7) if value.count("W") else (0, delta.days)
    amounts = {
        "years": delta.years,
        "months": delta.months,
        "weeks": weeks,
        "days": days,
        "hours": delta.hours,
        "minutes": delta.minutes,
        "seconds": delta.seconds,
    }
    lang = language_of(language)
    parts = [format_unit(amounts[n], unit, length="long", locale=lang) for n, unit in _UNITS if amounts[n]]
    if len(parts) < 2:
        return parts[0] if parts else value
    return f"{', '.join(parts[:-1])} {text(lang, 'and')} {parts[-1]}"


def date_words(value: str | dt.datetime | None, language: str, *, time: bool = False) -> str:
    """A date (or date and time, in UTC) as people of ``language`` write it."""
    if value is None:
        return ""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    lang = language_of(language)
    if time:
        return format_datetime(when, format="medium", tzinfo=dt.UTC, locale=DATE_LOCALES[lang]) + " UTC"
    return format_date(when, format="long", locale=DATE_LOCALES[lang])


def rights(language: str, contact: str, policy: str) -> dict[str, Any]:
    """The rights of the data subject and how to exercise them, for the JSON package."""
    lang = language_of(language)
    return {
        "language": lang,
        "rights": [{"article": a, "right": r, "text": t} for a, r, t in RIGHTS[lang]],
        "how_to_exercise": HOW_TO[lang].format(contact=contact, policy=policy),
    }


def complaint(language: str, name: str, url: str) -> dict[str, Any]:
    """The right to lodge a complaint and to a judicial remedy, naming the authority if configured."""
    lang = language_of(language)
    shown = f"{name} ({url})" if name and url else name or url
    authority = AUTHORITY[lang].format(name=shown) if shown else ""
    return {
        "authority": {"name": name or None, "url": url or None},
        "text": COMPLAINT[lang].format(authority=authority),
    }


def rule_words(rule: dict[str, Any], language: str) -> str:
    """A retention rule in words in ``language``."""
    lang = language_of(language)
    trigger = rule["trigger"]
    when = TRIGGERS[lang][trigger["type"]].format(
        field=trigger.get("field"), purpose=trigger.get("purpose") or rule["applies_to"].get("purpose")
    )
    period = duration_words(rule["period"], lang) or rule["period"]
    return RULE_SENTENCE[lang].format(period=period, when=when, action=ACTIONS[lang][rule["action"]])
