"""The public privacy portal: ``/privacy/`` (what a person can do here), ``/privacy/requests/new``
(make a request without an account) and ``/privacy/requests/<id>`` (enter the code, then the
status in words and the download of the package).

Pages are thin: each reads a FlaskForm (CSRF token in the public pages' own session, see
``security``), calls the service the API calls (``dsar.requests.open_request``, ``verify`` through
``dsar.portal.enter_code``; ``dsar.portal.status`` and ``download_link``) and renders or
redirects. ``?site=pk_…``, ``?lang=`` and the header are every public page's (``web.public``:
an unknown key shows the page for the controller).

The code form also offers new codes (``/privacy/requests/<id>/code``, ``dsar.portal.resend_code``
as ``requests.resend_code``), answered alike whether or not the request exists.

Abuse: a new request counts per client IP (``CONSENT_PORTAL_REQUEST_*LIMIT`` with the proof of
work solved, ``CONSENT_PORTAL_PLAIN_REQUEST_*LIMIT`` without: ``challenge``) and per e-mail
address (``CONSENT_PORTAL_EMAIL_*LIMIT``, under an HMAC of the address, never the address
itself; new codes count there too); codes per client IP (``CONSENT_PORTAL_CODE_*LIMIT``) on top
of the request's own lock-out; each per minute, hour and day. Over a limit the form answers 429
with a message. After the right code the browser keeps a status token in
an HttpOnly cookie whose path is that request's page; the id alone opens nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from consent_service.context import Context
from consent_service.dsar import portal
from consent_service.dsar import requests as dsar
from consent_service.errors import Conflict, DomainError, Gone, InvalidInput, NotFound, RateLimited
from consent_service.ratelimit import limiter_of
from consent_service.registry.public_site import PublicSite
from consent_service.subjects.service import IdentityRef
from consent_service.web import challenge, public
from consent_service.web.i18n import language
from consent_service.web.portal_forms import (
    NOTHING_TO_OBJECT_TO,
    TYPE_HINTS,
    TYPE_TITLES,
    CodeForm,
    DownloadForm,
    FindForm,
    NewCodeForm,
    RequestForm,
)

blueprint = Blueprint("portal", __name__, template_folder="templates")
STATUS_COOKIE = "privacy_request"


def _ctx() -> Context:
    context: Context = current_app.extensions["consent"]
    return context


@blueprint.before_request
def _page_site() -> None:
    g.public_site = public.site()
    public.choose_language(g.public_site)


def _site() -> PublicSite:
    site: PublicSite = g.public_site
    return site


_keep = public.keep


def _problems(form: Any) -> list[tuple[str, str, list[Any]]]:
    """Every field with errors, nested rows included, as ``(id, label, errors)`` for the summary."""
    found: list[tuple[str, str, list[Any]]] = []
    for f in form:
        if f.name == "csrf_token":
            continue
        if hasattr(f, "entries"):  # a FieldList of FormFields
            for entry in f.entries:
                found.extend(_problems(entry.form))
        elif f.errors and isinstance(f.errors, list):
            found.append((f.id, str(f.label.text), list(f.errors)))
    return found


def _render(template: str, site: PublicSite, status: int = 200, **values: Any) -> tuple[str, int]:
    form = values.get("form")
    return (
        render_template(
            template,
            problems=_problems(form) if form is not None else [],
            problem=values.pop("problem", None),
            **public.header(site),
            **values,
        ),
        status,
    )


def _client_ip() -> str:
    return request.remote_addr or "unknown"


@blueprint.route("/", methods=["GET", "POST"])
def home() -> ResponseReturnValue:
    """What a person can do here; the form that finds a request by its number."""
    site = _site()
    form = FindForm()
    if form.validate_on_submit():
        number = (form.number.data or "").strip()
        return redirect(url_for("portal.request_page", request_id=number, **_keep(site)), 303)
    return _render("privacy/portal_home.html", site, 400 if form.is_submitted() else 200, form=form)


def _purposes(site: PublicSite) -> list[tuple[str, str]]:
    return portal.purpose_choices(
        _ctx(), language(), list(site.purposes) if site.purposes is not None else None
    )


def _wait(ctx: Context, solved: bool, email: str) -> int | None:
    """Count the request against the limits: the seconds to wait when one is used up, else None."""
    limiter = limiter_of(ctx)
    config = ctx.config
    if solved:
        wait = limiter.hit_windows(
            "portal-requests", _client_ip(), config.portal_request_limit,
            config.portal_request_hourly_limit, config.portal_request_daily_limit,
        )  # fmt: skip
    else:
        wait = limiter.hit_windows(
            "portal-requests-plain", _client_ip(), config.portal_plain_request_limit,
            config.portal_plain_request_hourly_limit, config.portal_plain_request_daily_limit,
        )  # fmt: skip
    return wait or portal.address_wait(ctx, [email])


TOO_MANY_REQUESTS = _l("You have sent several requests in a short time.")
TOO_MANY_CODES = _l("You have entered many codes in a short time.")
TOO_MANY_NEW_CODES = _l("You have asked for several new codes in a short time.")


def _too_many(what: Any, wait: int) -> str:
    """The form error over a limit: what happened, and how long to wait (minutes, else hours)."""
    if wait <= 3600:
        later = _l("Please try again in %(n)s minute(s).", n=max(1, (wait + 59) // 60))
    else:
        later = _l("Please try again in %(n)s hour(s).", n=(wait + 3599) // 3600)
    return f"{what} {later}"


@blueprint.route("/requests/new", methods=["GET", "POST"])
def new_request() -> ResponseReturnValue:
    """Make a request: one form, the type first; the code is sent to the address given."""
    ctx = _ctx()
    site = _site()
    form = RequestForm(purposes=_purposes(site))

    def page(status: int = 200, problem: Any = None) -> tuple[str, int]:
        return _render(
            "privacy/portal_new.html", site, status, form=form, problem=problem,
            challenge=challenge.new_challenge(ctx),
            hints=TYPE_HINTS if form.purposes.choices else TYPE_HINTS | {"objection": NOTHING_TO_OBJECT_TO},
            nothing_to_object_to=NOTHING_TO_OBJECT_TO,
        )  # fmt: skip

    if not form.is_submitted():
        return page()
    if not form.validate():
        return page(400)
    wait = _wait(ctx, challenge.solved(ctx, form.altcha.data), form.email.data or "")
    if wait:
        return page(429, _too_many(TOO_MANY_REQUESTS, wait))
    command = dsar.OpenRequest(
        type=form.type.data or "",
        identities=[IdentityRef(kind, value) for kind, value in form.identities()],
        verification={"method": "email"},
        purposes=form.given_purposes(),
        changes=form.given_changes(),
        language=language(),
        portal=True,
        message=form.message.data or None,
    )
    try:
        opened = dsar.open_request(ctx, command, actor=portal.ACTOR)
    except DomainError as exc:
        return page(422, _problem(form, exc))
    return redirect(url_for("portal.request_page", request_id=opened["id"], sent=1, **_keep(site)), 303)


def _problem(form: RequestForm, exc: DomainError) -> Any:
    """Put the service's field errors next to the fields; the text for the top of the page."""
    fields = {"identities": form.email, "verification": form.email, "purposes": form.purposes,
              "changes": form.changes[0].form.field, "message": form.message}  # fmt: skip
    placed = False
    for name in exc.errors or {}:
        target = fields.get(name)
        if target is not None:
            target.errors = [*target.errors, _l("Please check this entry.")]
            placed = True
    if isinstance(exc, Gone):
        return _l("We cannot accept a request for this address. Please write to us.")
    return None if placed else _l("Your request could not be sent. Please check your entries and try again.")


def _granted(request_id: str) -> bool:
    return portal.check_token(_ctx(), request_id, request.cookies.get(STATUS_COOKIE))


def _status_page(request_id: str, site: PublicSite) -> tuple[str, int]:
    found = portal.status(_ctx(), request_id)
    return _render(
        "privacy/portal_status.html",
        site,
        req=found,
        type_title=TYPE_TITLES.get(found["type"], found["type"]),
        received=format_date(found["received_at"], "long"),
        due=format_date(found["due_at"], "long"),
        closed=format_date(found["closed_at"], "long") if found["closed_at"] else "",
        package_until=format_date(found["package_expires_at"], "long") if found["package_expires_at"] else "",
        download=DownloadForm(),
        purposes=portal.purpose_titles(_ctx(), language(), found["purposes"]),
    )


def _code_page(
    site: PublicSite, status: int, form: CodeForm, request_id: str, **values: Any
) -> tuple[str, int]:
    """The code form, and the one that asks for new codes."""
    return _render(
        "privacy/portal_code.html", site, status, form=form, new_code=NewCodeForm(formdata=None),
        request_id=request_id, **values,
    )  # fmt: skip


@blueprint.get("/requests/<request_id>")
def request_page(request_id: str) -> ResponseReturnValue:
    """The request's page: the code form, or (with the status token) its status in words."""
    site = _site()
    if _granted(request_id):
        try:
            return _status_page(request_id, site)
        except NotFound:
            pass
    return _code_page(
        site, 200, CodeForm(), request_id,
        sent=request.args.get("sent") == "1", resent=request.args.get("resent") == "1",
    )  # fmt: skip


def _code_wait(ctx: Context) -> int | None:
    """Count one code entered or asked for again against the client IP's windows
    (``CONSENT_PORTAL_CODE_*LIMIT``); the seconds to wait when one is used up."""
    config = ctx.config
    return limiter_of(ctx).hit_windows(
        "portal-codes", _client_ip(), config.portal_code_limit,
        config.portal_code_hourly_limit, config.portal_code_daily_limit,
    )  # fmt: skip


@blueprint.post("/requests/<request_id>")
def enter_code(request_id: str) -> ResponseReturnValue:
    """Check the code; the right one sets the status token and shows the status (post/redirect/get)."""
    ctx = _ctx()
    site = _site()
    form = CodeForm()

    def again(status: int, problem: Any = None) -> tuple[str, int]:
        return _code_page(site, status, form, request_id, problem=problem)

    if not form.validate():
        return again(400)
    wait = _code_wait(ctx)
    if wait:
        return again(429, _too_many(TOO_MANY_CODES, wait))
    try:
        token, expires = portal.enter_code(ctx, request_id, form.code.data or "")
    except InvalidInput:
        form.code.errors = [_l("This code is not right. Please check the e-mail and try again.")]
        return again(422)
    except Conflict:
        return again(
            409,
            _l(
                "This code can no longer be used. You can ask for a new code below. If that does not help, "
                "please write to us, and our data protection team will help you."
            ),
        )
    response = redirect(url_for("portal.request_page", request_id=request_id, **_keep(site)), 303)
    response.set_cookie(
        STATUS_COOKIE,
        token,
        expires=expires,
        path=url_for("portal.request_page", request_id=request_id),
        secure=ctx.config.public_url.lower().startswith("https://"),
        httponly=True,
        samesite="Lax",
    )
    return response


@blueprint.post("/requests/<request_id>/code")
def new_code(request_id: str) -> ResponseReturnValue:
    """Send new codes to the request's addresses (the earlier ones stop working), then the code form."""
    site = _site()
    form = NewCodeForm()

    if not form.validate():
        return _code_page(site, 400, CodeForm(formdata=None), request_id, problem=_l("Please try once more."))
    ctx = _ctx()
    try:
        wait = _code_wait(ctx)
        if wait:
            raise RateLimited("too many codes from this client", retry_after=wait)
        portal.resend_code(ctx, request_id)
    except RateLimited as exc:
        problem = _too_many(TOO_MANY_NEW_CODES, exc.retry_after)
        return _code_page(site, 429, CodeForm(formdata=None), request_id, problem=problem)
    except (NotFound, Conflict):
        pass  # answered as if sent: the id alone tells nothing; the page says whom to ask
    return redirect(url_for("portal.request_page", request_id=request_id, resent=1, **_keep(site)), 303)


@blueprint.post("/requests/<request_id>/download")
def download(request_id: str) -> ResponseReturnValue:
    """Send the person to a fresh expiring link of the package, in the format chosen."""
    site = _site()
    form = DownloadForm()
    fmt = form.format.data if form.format.data in ("json", "csv", "html") else "html"
    if not form.validate() or not _granted(request_id):
        return redirect(url_for("portal.request_page", request_id=request_id, **_keep(site)), 303)
    try:
        token = portal.download_link(_ctx(), request_id)
    except (NotFound, Gone):
        return _status_page(request_id, site)
    query: dict[str, Any] = {"format": fmt}
    if fmt == "csv" and form.collection.data:
        query["collection"] = form.collection.data
    return redirect(url_for("packages.PackageByToken", token=token, **query), 303)
