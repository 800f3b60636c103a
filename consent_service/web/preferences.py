"""The preference centre at ``/privacy/preferences`` and one-click unsubscribe at ``/privacy/unsubscribe``.

Pages, one task each (the rules are in ``preferences.service`` and ``preferences.unsubscribe``):

- ``GET/POST /privacy/preferences``: the person enters an e-mail address and is sent a sign-in
  link; the answer is the same whether the address is known or not (429 page when rate limited);
- ``GET /privacy/preferences/signin?token=``: what the link opens and a button (a GET changes
  nothing: mail scanners fetch links, and the link stays usable); its ``POST`` uses the link up,
  sets the session cookie (``consent_prefs``, path ``/privacy/preferences``, HttpOnly,
  SameSite=Strict, half an hour) and redirects. A used or expired link says so (410) and
  offers a new one;
- ``GET /privacy/preferences/choices``: each purpose with its notice text and the current choice
  in words, and two equal buttons (allow, do not allow); nothing is pre-selected. ``POST`` (with
  Flask-WTF's CSRF token of the public pages' session, ``consent_privacy``) records the change and redirects back with a link to its receipt,
  ``GET /privacy/preferences/receipts/<id>`` (the signed receipt as a JSON download);
- ``POST /privacy/preferences/signout`` (with the CSRF token) ends the session;
- ``GET /privacy/unsubscribe?token=`` shows one button; ``POST`` with the form records the
  withdrawal, and so does ``POST`` with the body ``List-Unsubscribe=One-Click`` from a mail
  provider (RFC 8058: no cookie, no CSRF token; the signed token is the authority) with 200.

``?site=pk_…`` names the site: its name, languages and policy link are shown, and only the
purposes it offers are listed; ``?lang=`` picks one of its languages (both are every public
page's, ``web.public``: an unknown key shows the page for the controller, with every purpose).

Two cookies, each for its own job: ``consent_privacy`` (Flask's session of every public page,
path ``/privacy``, SameSite=Lax) holds only the forms' CSRF token; ``consent_prefs`` carries who
signed in, so it is narrower: the preference centre's path only, SameSite=Strict (a link from
another site never arrives signed in), and a signed token that expires half an hour after the
link's button was pressed, whatever the browser keeps.

CSRF: asking for a link, changing a choice and signing out carry Flask-WTF's token (another
site cannot make a browser mail a person links, or sign them out); without a valid one the form
is shown again, saying nothing was done (400). The forms whose authority is a signed link token
carry none: the sign-in button (the link's token is what a forger cannot know) and unsubscribe,
whose one-click POST comes from a mail provider without any cookie (RFC 8058).
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from consent_service.config import SUPPORTED_LANGUAGES
from consent_service.context import Context
from consent_service.errors import Conflict, Gone, InvalidInput, NotFound, RateLimited
from consent_service.ledger.service import truncate_ip
from consent_service.preferences import service as prefs
from consent_service.preferences import tokens
from consent_service.preferences import unsubscribe as unsub
from consent_service.registry.public_site import PublicSite
from consent_service.web import public
from consent_service.web.i18n import moment

blueprint = Blueprint("preferences", __name__, template_folder="templates")
COOKIE = "consent_prefs"
COOKIE_PATH = "/privacy/preferences"


def _ctx() -> Context:
    context: Context = current_app.extensions["consent"]
    return context


def _ip() -> str | None:
    return truncate_ip(request.remote_addr) if request.remote_addr else None


def _page(template: str, site: PublicSite, status: int = 200, **values: Any) -> tuple[str, int]:
    return render_template(template, **public.header(site), **values), status


def _limited(site: PublicSite, exc: RateLimited) -> Response:
    minutes = max(1, (exc.retry_after + 59) // 60)
    html, status = _page("privacy/preferences_message.html", site, 429, kind="wait", minutes=minutes)
    response = make_response(html, status)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


# ---- sign-in ------------------------------------------------------------------------------------


def _csrf_ok() -> bool:
    """Whether the form carries the CSRF token of the public pages' session."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return False
    return True


@blueprint.get("/preferences")
def start() -> ResponseReturnValue:
    site = public.site()
    public.choose_language(site)
    return _page("privacy/preferences_start.html", site, ended=request.args.get("ended") == "1")


@blueprint.post("/preferences")
def send_link() -> ResponseReturnValue:
    site = public.site()
    language = public.choose_language(site)
    address = (request.form.get("email") or "")[: prefs.MAX_ADDRESS + 1]
    if not _csrf_ok():
        return _page("privacy/preferences_start.html", site, 400, email=address, problem="csrf")
    try:
        prefs.request_signin(
            _ctx(), address, ip=request.remote_addr or "unknown", language=language, site=site
        )
    except InvalidInput:
        return _page("privacy/preferences_start.html", site, 422, email=address, error="email")
    except RateLimited as exc:
        return _limited(site, exc)
    return _page("privacy/preferences_message.html", site, kind="sent")


def _token() -> str:
    return (request.values.get("token") or "")[: tokens.MAX_TOKEN]


@blueprint.get("/preferences/signin")
def signin_page() -> ResponseReturnValue:
    """What the link opens, and the button; a GET opens no session."""
    try:
        signin = prefs.read_signin(_ctx(), _token())
    except (Gone, NotFound) as exc:
        extra = {key: str(value) for key, value in (exc.extra or {}).items() if value}
        site = public.site(extra.get("site_key"))
        public.choose_language(site, extra.get("language"))  # the e-mail's, for a genuine link
        reason = extra.get("reason", "invalid")
        return _page(
            "privacy/preferences_message.html", site, 404 if reason == "invalid" else 410, kind=reason
        )
    site = public.site(signin.site_key)
    public.choose_language(site, signin.language)
    return _page("privacy/preferences_signin.html", site, token=_token())


@blueprint.post("/preferences/signin")
def signin() -> ResponseReturnValue:
    try:
        signin, session_token = prefs.open_session(_ctx(), _token())
    except (Gone, NotFound):
        return signin_page()
    site = public.site(signin.site_key)
    query: dict[str, Any] = {"site": site.key} if site.key else {}
    language = (
        request.form.get("lang") if request.form.get("lang") in SUPPORTED_LANGUAGES else signin.language
    )
    response = redirect(url_for("preferences.choices", **query, lang=language), 303)
    response.set_cookie(
        COOKIE,
        session_token,
        max_age=tokens.SESSION_VALIDITY,
        path=COOKIE_PATH,
        secure=_ctx().config.public_url.lower().startswith("https://"),
        httponly=True,
        samesite="Strict",
    )
    return response


@blueprint.post("/preferences/signout")
def signout() -> ResponseReturnValue:
    session = _session()
    if session is not None and not _csrf_ok():
        site = public.site(session.site_key)
        public.choose_language(site, session.language)
        return _choices_page(session, site, 400, problem="csrf_signout")
    site = public.site()
    query: dict[str, Any] = {"site": site.key} if site.key else {}
    response = redirect(url_for("preferences.start", **query, lang=request.form.get("lang", "")), 303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


# ---- the choices --------------------------------------------------------------------------------


def _session() -> prefs.Session | None:
    return prefs.read_session(_ctx(), request.cookies.get(COOKIE, ""))


def _ended(site_key: str | None) -> ResponseReturnValue:
    query: dict[str, Any] = {"site": site_key} if site_key else {}
    return redirect(url_for("preferences.start", **query, ended=1, lang=request.values.get("lang", "")), 303)


def _choices_page(
    session: prefs.Session, site: PublicSite, status: int = 200, **values: Any
) -> tuple[str, int]:
    language = public.keep(site)["lang"]
    return _page(
        "privacy/preferences_choices.html",
        site,
        status,
        choices=prefs.choices(_ctx(), session.subject_id, site, language),
        moment=moment,
        **values,
    )


@blueprint.get("/preferences/choices")
def choices() -> ResponseReturnValue:
    session = _session()
    site = public.site(session.site_key if session else None)
    if session is None:
        return _ended(site.key)
    public.choose_language(site, session.language)
    changed = request.args.get("changed", "")[:64]
    return _choices_page(session, site, changed=changed, changed_purpose=request.args.get("purpose", "")[:64])


@blueprint.post("/preferences/choices")
def change() -> ResponseReturnValue:
    session = _session()
    site = public.site(session.site_key if session else None)
    if session is None:
        return _ended(site.key)
    language = public.choose_language(site, session.language)
    if not _csrf_ok():
        return _choices_page(session, site, 400, problem="csrf")
    decision = request.form.get("decision")
    purpose = request.form.get("purpose", "")[:64]
    if decision not in ("allow", "refuse"):
        return _choices_page(session, site, 422, problem="decision")
    try:
        receipt_id = prefs.change(
            _ctx(),
            session,
            purpose,
            decision == "allow",
            site=site,
            language=language,
            ip=_ip(),
            user_agent=request.headers.get("User-Agent"),
        )
    except InvalidInput:
        return _choices_page(session, site, 422, problem="purpose")
    except Conflict:  # the person's data was erased after the session began
        return _page("privacy/preferences_message.html", site, 410, kind="erased")
    except RateLimited as exc:
        return _limited(site, exc)
    query: dict[str, Any] = {"site": site.key} if site.key else {}
    # no fragment: the notice is at the top, and a jump to it would hide the site's name and links
    return redirect(
        url_for("preferences.choices", **query, lang=language, changed=receipt_id, purpose=purpose), 303
    )


@blueprint.get("/preferences/receipts/<receipt_id>")
def receipt(receipt_id: str) -> ResponseReturnValue:
    session = _session()
    if session is None:
        return _ended(None)
    try:
        document = prefs.receipt(_ctx(), session.subject_id, receipt_id[:64])
    except NotFound:
        site = public.site(session.site_key)
        public.choose_language(site, session.language)
        return _page("privacy/preferences_message.html", site, 404, kind="no_receipt")
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{receipt_id[:64]}.json"'},
    )


# ---- unsubscribe --------------------------------------------------------------------------------


def _unsubscribe_page(status: int = 200, **values: Any) -> tuple[str, int]:
    site = public.site()
    language = public.choose_language(site)
    target = values.get("target")
    title = ""
    if target is not None:
        title = (
            target.titles.get(language) or target.titles.get("en") or next(iter(target.titles.values()), "")
        )
    return _page("privacy/unsubscribe.html", site, status, token=_token(), purpose_title=title, **values)


@blueprint.get("/unsubscribe")
def unsubscribe_page() -> ResponseReturnValue:
    """What the link unsubscribes from, and one button; a GET records nothing."""
    try:
        target = unsub.inspect(_ctx(), _token())
    except (NotFound, Gone):
        return _unsubscribe_page(404, target=None)
    return _unsubscribe_page(target=target, done="already" if target.done else None)


@blueprint.post("/unsubscribe")
def unsubscribe() -> ResponseReturnValue:
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    try:
        recorded = unsub.unsubscribe(
            _ctx(),
            _token(),
            way="one_click" if one_click else "page",
            ip=_ip(),
            user_agent=request.headers.get("User-Agent"),
        )
        target = unsub.inspect(_ctx(), _token())
    except (NotFound, Gone):
        if one_click:
            return Response("This unsubscribe link is not valid.\n", 404, mimetype="text/plain")
        return _unsubscribe_page(404, target=None)
    if one_click:
        return Response(
            "Unsubscribed.\n" if recorded else "Unsubscribed already.\n", 200, mimetype="text/plain"
        )
    return _unsubscribe_page(target=target, done="now" if recorded else "already")
