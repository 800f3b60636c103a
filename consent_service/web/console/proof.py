"""The proof of consent of one subject for one purpose: a printable page and the same as PDF.

Both render one document template (``subjects/_document.html``) from
``staff.subject_access.view_proof``: the events with the notice texts of their purpose
versions, the receipts and whether their signatures verify, the proof's events verified now and
the last verification of the whole ledger. The PDF is made by xhtml2pdf (pure Python on ReportLab, installed from PyPI alone) from
a page of its own with a style sheet it understands; the texts are the same, in the staff
member's language.
"""

from __future__ import annotations

import io

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from xhtml2pdf import pisa

from consent_service.errors import UnknownPurpose, UnknownSubject
from consent_service.staff import subject_access
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.console.subjects import actor, labels, masked_identities
from consent_service.web.i18n import language


def _document(subject_id: str, form: str) -> dict[str, object] | None:
    purpose = request.args.get("purpose", "")
    if not purpose:
        return None
    try:
        document = subject_access.view_proof(
            context(),
            actor=actor(),
            subject_id=subject_id,
            purpose_key=purpose,
            language=language(),
            form=form,
        )
    except (UnknownSubject, UnknownPurpose):
        return None
    return {
        "doc": document,
        "identities": masked_identities(document["identities"]),
        "generated_at": context().now(),
        "generated_by": current_user(),
        "section": "subjects",
        **labels(),
    }


def _not_found() -> ResponseReturnValue:
    return render_template("console/error.html", kind="not_found"), 404


@blueprint.route("/subjects/<subject_id>/proof")
@requires("read")
def subject_proof(subject_id: str) -> ResponseReturnValue:
    values = _document(subject_id, "html")
    if values is None:
        return _not_found()
    return render_template("console/subjects/proof.html", **values)


@blueprint.route("/subjects/<subject_id>/proof.pdf")
@requires("read")
def subject_proof_pdf(subject_id: str) -> ResponseReturnValue:
    values = _document(subject_id, "pdf")
    if values is None:
        return _not_found()
    html = render_template("console/subjects/proof_pdf.html", pdf=True, **values)
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if result.err:
        raise RuntimeError(f"the proof of consent could not be turned into a PDF ({result.err} errors)")
    purpose = request.args["purpose"]
    return Response(
        out.getvalue(),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="proof-of-consent-{subject_id}-{purpose}.pdf"'
        },
    )


@blueprint.app_template_filter("spaced")
def spaced(value: object, width: int) -> str:
    """A long token (a hash, a signature) in pieces of ``width`` characters: the PDF wraps at spaces."""
    text = str(value)
    return " ".join(text[i : i + width] for i in range(0, len(text), width))
