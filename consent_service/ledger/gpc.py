"""Global Privacy Control as the W3C specification defines it: the ``Sec-GPC`` request header
and the site's support resource (``/.well-known/gpc.json``).

Reference: W3C, *Global Privacy Control (GPC)*, Working Draft, https://www.w3.org/TR/gpc/
(editors' draft https://w3c.github.io/gpc/): § 3.3 "The Sec-GPC Header Field for HTTP
Requests" and § 4 "GPC Support Resource". What the service then does with a signal (denials
with method ``gpc`` for ``honor_gpc`` purposes) is ``ledger.banner``'s rule.
"""

from __future__ import annotations

from collections.abc import Iterable

HEADER = "Sec-GPC"
WELL_KNOWN_PATH = "/.well-known/gpc.json"
# HTTP's optional whitespace (RFC 9110 § 5.6.3): space and horizontal tab, nothing else
_OWS = " \t"


def signal_in(field_values: Iterable[str]) -> bool:
    """Whether a request's ``Sec-GPC`` field values carry the signal.

    GPC § 3.3: a server MUST ignore a ``Sec-GPC`` header whose field value is not exactly the
    character ``1``; with several ``Sec-GPC`` headers, the request has the signal if at least one
    of them is exactly ``1``, and none otherwise. So:

    - absent, empty, ``0``, ``true``, ``01``, ``1 1``: no signal;
    - ``1``: the signal. Leading and trailing spaces and tabs are not part of a field value
      (RFC 9110 § 5.5), so `` 1 `` is the signal too;
    - several headers: WSGI servers join repeated headers into one value separated by commas
      (RFC 9110 § 5.3), so each comma-separated member is one header's value and the request has
      the signal when any member is exactly ``1``: ``1, 1`` and ``1,0`` are the signal, ``0, 0``
      is not. A single header's value holds no comma in any case the signal could be meant:
      the only value the specification gives meaning to is ``1``.

    ``field_values`` are the values as the server hands them over (``request.headers.getlist``),
    one or more per request, or none when the header is absent.
    """
    return any(member.strip(_OWS) == "1" for value in field_values for member in value.split(","))


def support_resource(last_update: str) -> dict[str, object]:
    """The GPC support representation (§ 4.1): the service abides by GPC requests (``gpc``:
    true) as of ``last_update``, the date of that statement (``CONSENT_GPC_LAST_UPDATE``)."""
    return {"gpc": True, "lastUpdate": last_update}
