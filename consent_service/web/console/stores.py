"""The stores pages: the registered data stores, their last connection test, and the editor of a
store's description.

They call what ``/v1/stores`` calls (``stores.registry``): ``read_stores``/``read_store`` (no
secret ever leaves them), ``run_check`` (the API's test, kept as the store's last test) and
``save_store`` (validates everything and writes nothing while anything is wrong). The editor
holds the description as JSON text; each of the validator's problems is shown under the line of
the text its path points at (``store_text``).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _

from consent_service.errors import InvalidInput, NotFound
from consent_service.staff import service as staff
from consent_service.stores import registry
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.console.store_text import (
    NotJson,
    Problem,
    as_text,
    masked,
    masked_loosely,
    parse,
    problems_by_line,
)
from consent_service.web.console.stores_forms import (
    STORE_TYPE_NAMES,
    NewStoreForm,
    StoreTestForm,
    StoreTextForm,
)

WRITE = "registry:write"


def actor() -> str:
    """Who the audit log and the records name for a change made on a page: the staff account."""
    user = current_user()
    assert user is not None  # requires() let only a signed-in account through
    return str(user["id"])


def may(action: str) -> bool:
    user = current_user()
    return user is not None and staff.can(user["role"], action)


def staff_name(actor_id: str) -> str:
    """The e-mail address of the staff account that did something, else the actor as recorded."""
    user = staff.get_user(context(), actor_id)
    return str(user["email"]) if user else actor_id


def not_found() -> ResponseReturnValue:
    return render_template("console/error.html", kind="not_found"), 404


def _check_row(check: dict[str, Any] | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return check | {
        "when": format_datetime(check["checked_at"], "medium"),
        "by": staff_name(check["checked_by"]),
    }


@blueprint.route("/stores")
@requires("read")
def stores() -> ResponseReturnValue:
    ctx = context()
    checks = registry.last_checks(ctx)
    rows = [s | {"check": _check_row(checks.get(s["key"]))} for s in registry.read_stores(ctx)]
    return render_template(
        "console/stores/list.html",
        rows=rows,
        test_form=StoreTestForm(),
        may_write=may(WRITE),
        type_names=STORE_TYPE_NAMES,
        section="stores",
    )


@blueprint.route("/stores/<key>")
@requires("read")
def store(key: str) -> ResponseReturnValue:
    ctx = context()
    try:
        found = registry.read_store(ctx, key)
    except NotFound:
        return not_found()
    return render_template(
        "console/stores/detail.html",
        store=found,
        check=_check_row(registry.last_checks(ctx).get(key)),
        test_form=StoreTestForm(),
        may_write=may(WRITE),
        type_names=STORE_TYPE_NAMES,
        section="stores",
    )


@blueprint.route("/stores/<key>/test", methods=["POST"])
@requires(WRITE)
def store_test(key: str) -> ResponseReturnValue:
    try:
        registry.run_check(context(), key, actor())
    except NotFound:
        return not_found()
    if request.form.get("back") == "list":
        return redirect(url_for("console.stores") + f"#store-{key}")
    return redirect(url_for("console.store", key=key) + "#last-test")


def _save(form: StoreTextForm, key: str) -> tuple[list[Problem], str]:
    """Save the form's text as store ``key``; the problems found (nothing saved) and the text to show."""
    text = form.text.data or ""
    try:
        doc = parse(text)
    except NotJson as exc:
        message = _(
            "This is not JSON (column %(column)d): %(problem)s", column=exc.column, problem=exc.message
        )
        return [Problem(exc.line, "", message)], masked_loosely(text)
    shown = masked(text, doc)
    if not isinstance(doc, dict):
        return [Problem(1, "", _("The description is a JSON object: { ... }."))], shown
    try:
        registry.save_store(context(), key, doc)
    except InvalidInput as exc:
        return problems_by_line(shown, dict(exc.errors or {"store": [exc.detail]})), shown
    return [], shown


def _editor(form: StoreTextForm, key: str | None, problems: list[Problem], shown: str) -> ResponseReturnValue:
    if problems:
        form.text.errors = [
            _("%(count)d problems; each is shown under its line below.", count=len(problems))
            if len(problems) > 1
            else _("1 problem; it is shown under its line below.")
        ]
    lines = shown.split("\n")
    by_line: dict[int, list[Problem]] = {}
    for problem in problems:
        by_line.setdefault(min(problem.line, len(lines)), []).append(problem)
    form.text.data = shown
    status = 422 if problems or form.errors else 200
    return (
        render_template(
            "console/stores/edit.html",
            form=form,
            key=key,
            lines=lines,
            by_line=by_line,
            problems=problems,
            section="stores",
        ),
        status,
    )


@blueprint.route("/stores/<key>/edit", methods=["GET", "POST"])
@requires(WRITE)
def store_edit(key: str) -> ResponseReturnValue:
    try:
        current = registry.read_store(context(), key)  # the editor changes a store, never adds one
    except NotFound:
        return not_found()
    form = StoreTextForm()
    if form.validate_on_submit():
        problems, shown = _save(form, key)
        if not problems:
            return redirect(url_for("console.store", key=key))
        return _editor(form, key, problems, shown)
    shown = form.text.data if form.is_submitted() else as_text(current)
    return _editor(form, key, [], masked_loosely(shown or ""))


@blueprint.route("/stores/new", methods=["GET", "POST"])
@requires(WRITE)
def store_new() -> ResponseReturnValue:
    form = NewStoreForm()
    if form.validate_on_submit():
        key = form.key.data or ""
        if key in {s["key"] for s in registry.read_stores(context())}:
            form.key.errors = [_("A store with this key exists; edit it instead.")]
            return _editor(form, None, [], masked_loosely(form.text.data or ""))
        problems, shown = _save(form, key)
        if not problems:
            return redirect(url_for("console.store", key=key))
        return _editor(form, None, problems, shown)
    template = {"type": "sql", "description": "", "connection": {"url": ""}, "collections": {}}
    shown = form.text.data if form.is_submitted() else as_text(template)
    return _editor(form, None, [], masked_loosely(shown or ""))
