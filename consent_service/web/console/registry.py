"""The registry section of the console: an overview with links to its four lists (purposes,
cookies, sites, recipients), and what the registry's pages share.

The pages call the functions behind the API (``registry.service``, ``registry.sites``,
``dsar.recipients``): a page holds no registry rule. Every role reads; writing needs
``registry:write`` (DPO, administrator). The service's InvalidInput errors are put next to the
form fields they name (``show_errors``), in the reader's language where the page knows the
message, else as the service said it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from consent_service.auditlog import service as auditlog
from consent_service.dsar import recipients
from consent_service.errors import DomainError
from consent_service.registry import service as registry
from consent_service.registry import sites
from consent_service.registry.service import REGISTRY_LOG, Recorder
from consent_service.staff import service as staff
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, current_user, requires

WRITE = "registry:write"

# The registry's sub-navigation: (tab, endpoint, label)
TABS = (
    ("purposes", "console.purposes", _l("Purposes")),
    ("cookies", "console.cookies", _l("Cookies")),
    ("sites", "console.sites", _l("Sites")),
    ("recipients", "console.recipients", _l("Recipients")),
)

# What the service says (English) → the same in the reader's language; the groups are kept.
_PROBLEMS: tuple[tuple[re.Pattern[str], Callable[..., str]], ...] = (
    (
        re.compile(r"^not in the fideslang taxonomy: (?P<keys>.+)$"),
        lambda keys: _("Not in the fideslang taxonomy: %(keys)s", keys=keys),
    ),
    (re.compile(r"^not registered: (?P<keys>.+)$"), lambda keys: _("Not registered: %(keys)s", keys=keys)),
    (
        re.compile(r"^purpose '(?P<keys>.+)' is not registered$"),
        lambda keys: _("Not registered: %(keys)s", keys=keys),
    ),
    (re.compile(r"^must not exceed (?P<limit>\S+)$"), lambda limit: _("At most %(limit)s.", limit=limit)),
    (
        re.compile(r"^'(?P<origin>.+)' is not an origin like https://www.example.org$"),
        lambda origin: _("%(origin)s is not an origin like https://www.example.org.", origin=origin),
    ),
    (
        re.compile(r"^'?(?P<value>.*?)'? is not an ISO 8601 duration such as P12M or P30D.*$"),
        lambda value: _("%(value)s is not an ISO 8601 duration such as P12M or P30D.", value=value),
    ),
    (
        re.compile(r"^(?:(?:logic|consequences): )?missing language\(s\): (?P<languages>.+)$"),
        lambda languages: _("Missing language(s): %(languages)s", languages=languages),
    ),
    (re.compile(r"^required$"), lambda: _("Required.")),
    # the banner settings (registry.banner_settings)
    (
        re.compile(r"^text on background must reach a contrast of 4\.5:1$"),
        lambda: _("The text needs a contrast of 4.5:1 on the background."),
    ),
    (
        re.compile(r"^white text on the accent colour must reach a contrast of 4\.5:1$"),
        lambda: _("White text on the accent colour needs a contrast of 4.5:1."),
    ),
    (re.compile(r"^a list of at least one language$"), lambda: _("Choose at least one language.")),
    (
        re.compile(r"^not offered by this site: (?P<keys>.+)$"),
        lambda keys: _("Not offered by this site: %(keys)s", keys=keys),
    ),
    (
        re.compile(r"^an http\(s\) URL or a path starting with /$"),
        lambda: _("An http(s) address or a path starting with /."),
    ),
    (
        re.compile(r"^a list of ISO 3166 codes like DE or ES-CT$"),
        lambda: _("ISO 3166 codes such as DE or ES-CT, one per line."),
    ),
    (
        re.compile(r"^milliseconds from 0 to (?P<limit>\d+)$"),
        lambda limit: _("Milliseconds from 0 to %(limit)s.", limit=limit),
    ),
    (
        re.compile(r"^not a colour like #1f2328: (?P<fields>.+)$"),
        lambda fields: _("Not a colour like #1f2328: %(fields)s", fields=fields),
    ),
)


def problem_text(message: str) -> str:
    for pattern, say in _PROBLEMS:
        if found := pattern.match(message):
            return say(**found.groupdict())
    return message


def show_errors(form: FlaskForm, exc: DomainError, fields: Mapping[str, str]) -> None:
    """Put the service's field errors (keyed by its field names) next to the form's fields; a
    field the form does not have (or the mapping does not name) goes to ``fields[""]``."""
    for name, messages in (exc.errors or {}).items():
        target = fields.get(name, name)
        field = getattr(form, target, None) or getattr(form, fields[""])
        said = messages.values() if isinstance(messages, Mapping) else messages
        field.errors = [*field.errors, *(problem_text(str(m)) for m in said)]


def form_texts(form: FlaskForm, name: str, kept: dict[str, str]) -> dict[str, str]:
    """The form's English and German text of ``name`` (fields ``<name>_en``, ``<name>_de``) over
    the texts in other languages; an emptied field removes its language."""
    texts = {**kept}
    for lang in ("en", "de"):
        value = (getattr(form, f"{name}_{lang}").data or "").strip()
        if value:
            texts[lang] = value
        else:
            texts.pop(lang, None)
    return texts


def lines(text: str | None) -> list[str]:
    """The non-empty lines of a text area (keys, origins), stripped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def recorded() -> Recorder:
    """The registry change's audit entry, as the signed-in staff member (the ``registry`` log)."""
    user = current_user()
    assert user is not None, "registry writes are guarded by requires()"
    return auditlog.recorder(context(), REGISTRY_LOG, user["id"])


def may_write() -> bool:
    user = current_user()
    return user is not None and staff.can(user["role"], WRITE)


def when(value: Any) -> str:
    """A moment as the reader writes it, to the minute (3 Mar 2026, 14:05 / 03.03.2026, 14:05)."""
    return f"{format_date(value, 'medium')}, {format_time(value, 'short')}" if value else ""


def page(template: str, tab: str, status: int = 200, **values: Any) -> ResponseReturnValue:
    """A registry page: its section, tab and whether the reader may change things."""
    return (
        render_template(
            f"console/registry/{template}",
            section="registry",
            tab=tab,
            tabs=TABS,
            may_write=may_write(),
            **values,
        ),
        status,
    )


def not_found() -> ResponseReturnValue:
    return render_template("console/error.html", kind="not_found"), 404


@blueprint.route("/registry", endpoint="registry")
@requires("read")
def registry_overview() -> ResponseReturnValue:
    ctx = context()
    counts = {
        "purposes": len(registry.read_purposes(ctx)),
        "cookies": len(registry.read_cookies(ctx)),
        "sites": len(sites.read_sites(ctx)),
        "recipients": len(recipients.list_recipients(ctx)),
    }
    return page("overview.html", "", counts=counts)
