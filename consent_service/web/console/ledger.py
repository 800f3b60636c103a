"""The ledger page: its head, the last verification, the latest checkpoints, the audit logs'
chains; and the verification of the whole ledger, started here and watched while it runs.

The page reads ``ledger.verification`` (head, latest verifications), ``ledger.checkpoints.recent``
and ``auditlog.service.chain_status``. "Verify the whole ledger" is a POST (``request:manage``:
it changes nothing but costs work, so DPOs and administrators start it, agents and auditors
do not) that calls ``verification.start``, the function behind ``POST /v1/ledger/verifications``,
and sends the browser to the verification's page. While the verification runs, that page's
progress is a live region (``data-live``): ``static/console.js`` fetches it again every two
seconds and loads the page once it is done; without the script a link shows the current progress.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from consent_service.auditlog.service import chain_status
from consent_service.errors import NotFound
from consent_service.ledger import checkpoints, verification
from consent_service.staff import service as staff
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.i18n import moment

STATE_NAMES = {
    "queued": _l("queued"),
    "running": _l("running"),
    "completed": _l("completed"),
    "failed": _l("failed"),
    "interrupted": _l("interrupted"),
}
LOG_NAMES = {
    "holds": _l("Legal holds"),
    "retention": _l("Retention runs"),
    "staff": _l("Staff accounts"),
    "vault": _l("Vault and key destruction"),
}
REFRESH_SECONDS = 2
VERIFY_ACTION = "request:manage"


class VerifyForm(FlaskForm):
    """Only the CSRF token: starting a verification takes no input."""


def _verification(found: dict[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return found | {
        "state_name": STATE_NAMES.get(found["state"], found["state"]),
        "started": moment(found["started_at"]),
        "finished": moment(found["finished_at"]),
        "going": found["state"] in verification.GOING,
    }


@blueprint.route("/ledger")
@requires("read")
def ledger() -> ResponseReturnValue:
    ctx, user = context(), current_user()
    assert user is not None  # requires() let a signed-in account through
    cps = [cp | {"created": moment(cp["created_at"])} for cp in checkpoints.recent(ctx)]
    logs = [entry | {"name": LOG_NAMES.get(entry["log"], entry["log"])} for entry in chain_status(ctx)]
    return render_template(
        "console/ledger/index.html",
        head=verification.head(ctx),
        latest=_verification(verification.latest(ctx)),
        completed=_verification(verification.last_completed(ctx)),
        checkpoints=cps,
        logs=logs,
        form=VerifyForm(),
        can_verify=staff.can(user["role"], VERIFY_ACTION),
        section="ledger",
    )


@blueprint.route("/ledger/verifications", methods=["POST"])
@requires(VERIFY_ACTION)
def ledger_verify() -> ResponseReturnValue:
    user = current_user()
    assert user is not None  # requires() let a signed-in account through
    started = verification.start(context(), started_by=user["email"])
    return redirect(url_for("console.ledger_verification", verification_id=started["id"]), 303)


@blueprint.route("/ledger/verifications/<verification_id>")
@requires("read")
def ledger_verification(verification_id: str) -> ResponseReturnValue:
    try:
        found = verification.get(context(), verification_id)
    except NotFound:
        return render_template("console/error.html", kind="not_found"), 404
    shown = _verification(found)
    assert shown is not None
    return render_template(
        "console/ledger/verification.html", v=shown, refresh=REFRESH_SECONDS, section="ledger"
    )
