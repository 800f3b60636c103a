"""The portal's proof of work: an ALTCHA challenge (the ``altcha`` library, protocol v1), solved
by the browser (``static/portal.js``) before a request form is sent; no third-party service.

The challenge is signed with a key derived by HKDF from the current master key (info
``consent-service portal challenge``), so every worker accepts every other's, and expires after
``MINUTES``. It costs a browser a fraction of a second and a script sending thousands of
requests as many hashes each; it is no proof of a human. Without JavaScript the form is sent
without a solution: the page then counts the request against the stricter
``CONSENT_PORTAL_PLAIN_REQUEST_LIMIT`` (see ``web.portal``), with the same verification rules.
Each solution is accepted once (``dsar.portal.spend_challenge``: a table every worker shares,
emptied of expired ones by the housekeeping); sent again, the form counts as one without a
solution.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from altcha import ChallengeOptionsV1, create_challenge_v1, verify_solution_v1

from consent_service.context import Context
from consent_service.crypto.derivation import derive
from consent_service.dsar import portal

INFO = b"consent-service portal challenge"
MINUTES = 10
MAX_PAYLOAD = 2000


def _key(ctx: Context) -> bytes:
    material = ctx.crypto.material
    return derive(material.keks[material.current_kek], INFO)


def new_challenge(ctx: Context) -> str:
    """A fresh challenge as the JSON the page's script reads (algorithm, challenge, salt, ...)."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=MINUTES)
    options = ChallengeOptionsV1(
        hmac_key=_key(ctx), max_number=ctx.config.portal_challenge_max_number, expires=expires
    )
    challenge = create_challenge_v1(options)
    return json.dumps(challenge.to_dict())


def solved(ctx: Context, payload: str | None) -> bool:
    """Whether ``payload`` (the base64 JSON the script puts in the form) solves a challenge of ours
    that was not solved before; a true answer spends it."""
    if not payload or len(payload) > MAX_PAYLOAD:
        return False
    try:
        ok, _ = verify_solution_v1(payload, _key(ctx), check_expires=True)
        signature = str(json.loads(base64.b64decode(payload))["signature"]) if ok else ""
    except (TypeError, ValueError, AttributeError, KeyError, binascii.Error):  # base64 of something else
        return False
    if not ok:
        return False
    return portal.spend_challenge(
        ctx, signature, until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=MINUTES)
    )
