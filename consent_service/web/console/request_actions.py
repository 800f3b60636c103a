"""The actions of the request page, each a POST to its own address that calls the service
function the API calls (``/v1/requests/<id>/verify``, ``code``, ``extend``, ``reject``, ``retry``,
``tasks/<task>/complete``), and the package download (``/package``, ``package:download``).

After an action the browser is sent back to the request page with a confirmation (post,
redirect, get). A form with an error shows the request page again with the error next to its
field (400 for the form's own checks, 422 for the service's rules, 409 for a state that does not
allow the action). A run handed to the task queue shows the request as in progress: the page
follows the run (a live region that the console's script fetches again) and never waits for it.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from flask import Response, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from consent_service.dsar import extension, package, refusal, retries, tasks
from consent_service.dsar import requests as dsar
from consent_service.errors import Conflict, DomainError, Gone, NotFound
from consent_service.web.console import blueprint
from consent_service.web.console.guard import current_user, requires
from consent_service.web.console.request_forms import (
    ExtendForm,
    NewCodeForm,
    RefuseForm,
    RunForm,
    TaskForm,
    VerifyForm,
    problem_text,
    service_errors,
)
from consent_service.web.console.requests import context, not_found, render_request

RUN_STATES = {
    "completed": _l("The request was run and is completed."),
    "in_progress": _l("The run was started; it is in progress. This page shows the result when it is done."),
    "failed": _l("The run failed; the reason is shown under Stores."),
}


def _actor() -> str:
    user = current_user()
    assert user is not None  # requires() let only the signed-in in
    return str(user["id"])


def _done(request_id: str, message: Any) -> ResponseReturnValue:
    flash(str(message))
    return redirect(url_for("console.request", request_id=request_id))


def _act(request_id: str, name: str, form: FlaskForm, call: Any, message: Any) -> ResponseReturnValue:
    """Run ``call()`` for a valid ``form``; on an error show the request page with it."""
    if not form.validate_on_submit():
        return render_request(request_id, {name: form}, status=400)
    try:
        out = call()
    except NotFound:
        return not_found()
    except DomainError as exc:
        left = service_errors(form, exc.errors, {})
        problem = problem_text(exc.detail) if not exc.errors else " ".join(map(str, left)) or None
        return render_request(
            request_id, {name: form}, problem, status=409 if isinstance(exc, Conflict) else 422
        )
    return _done(request_id, message(out) if callable(message) else message)


@blueprint.route("/requests/<request_id>/verify", methods=["POST"])
@requires("request:verify")
def request_verify(request_id: str) -> ResponseReturnValue:
    form = VerifyForm()
    return _act(
        request_id,
        "verify",
        form,
        lambda: dsar.verify(context(), request_id, code=None, dpo_note=form.note.data, actor=_actor()),
        _l("The identity was verified."),
    )


@blueprint.route("/requests/<request_id>/code", methods=["POST"])
@requires("request:verify")
def request_new_code(request_id: str) -> ResponseReturnValue:
    """New e-mail codes for the person (who lost theirs, or whose code expired), as the API's."""
    return _act(
        request_id,
        "code",
        NewCodeForm(),
        lambda: dsar.resend_code(context(), request_id, actor=_actor()),
        _l("New codes were sent to the request's e-mail addresses; the earlier codes no longer work."),
    )


@blueprint.route("/requests/<request_id>/extend", methods=["POST"])
@requires("request:manage")
def request_extend(request_id: str) -> ResponseReturnValue:
    form = ExtendForm()
    return _act(
        request_id,
        "extend",
        form,
        lambda: extension.extend(
            context(), request_id, months=int(form.months.data), reason=form.reason.data, actor=_actor()
        ),
        _l("The deadline was extended; the person is told the new date and the reason."),
    )


@blueprint.route("/requests/<request_id>/refuse", methods=["POST"])
@requires("request:manage")
def request_refuse(request_id: str) -> ResponseReturnValue:
    form = RefuseForm()
    return _act(
        request_id,
        "refuse",
        form,
        lambda: refusal.reject(
            context(), request_id, ground=form.ground.data, reason=form.reason.data, actor=_actor()
        ),
        _l("The request was refused; the person is told the ground and the reasons."),
    )


@blueprint.route("/requests/<request_id>/run", methods=["POST"])
@requires("request:manage")
def request_run(request_id: str) -> ResponseReturnValue:
    return _act(
        request_id,
        "run",
        RunForm(),
        lambda: retries.queue_retry(context(), request_id, actor=_actor()),
        lambda out: RUN_STATES.get(out["state"], RUN_STATES["in_progress"]),
    )


@blueprint.route("/requests/<request_id>/tasks/<task_id>", methods=["POST"])
@requires("request:manage")
def request_task(request_id: str, task_id: str) -> ResponseReturnValue:
    form = TaskForm(prefix=task_id)
    return _act(
        request_id,
        f"task-{task_id}",
        form,
        lambda: tasks.complete_task(context(), request_id, task_id, note=form.note.data, actor=_actor()),
        _l("The manual task was marked as done."),
    )


@blueprint.route("/requests/<request_id>/package/<fmt>")
@requires("package:download")
def request_package(request_id: str, fmt: str) -> ResponseReturnValue:
    """The access or portability package as a file (what the API's ``GET .../package`` gives):
    JSON, HTML, or CSV as a zip of one file per collection."""
    if fmt not in package.FORMATS:
        return not_found()
    try:
        content = package.read(context(), request_id, fmt)
    except NotFound:
        return not_found()
    except Gone:
        return render_request(
            request_id, problem=_l("The package has expired or the data was erased."), status=410
        )
    if fmt == "csv":
        files = io.BytesIO()
        with zipfile.ZipFile(files, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in content.items():
                archive.writestr(f"{name}.csv", text)
        return _file(files.getvalue(), "application/zip", f"{request_id}-csv.zip")
    if fmt == "html":
        return _file(content, "text/html", f"{request_id}.html")
    return _file(json.dumps(content, ensure_ascii=False, indent=2), "application/json", f"{request_id}.json")


def _file(body: str | bytes, mimetype: str, name: str) -> Response:
    # an attachment: the package is saved, never shown inside the console (it has its own style)
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
