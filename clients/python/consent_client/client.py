"""``ConsentClient``: the calls a CRM or marketing tool makes, synchronous, standard library only."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from consent_client.errors import ApiError, TransportError
from consent_client.operations import OPERATIONS, Operation
from consent_client.types import (
    BatchDecision,
    Decision,
    DecisionIn,
    Event,
    FeedPage,
    Recorded,
    SegmentMember,
    SegmentPage,
    Subject,
)

USER_AGENT = "consent-client/0.1"


class ConsentClient:
    """A client of one service with one bearer token.

    ``base_url`` is where the service answers (``https://consent.example``); ``token`` a client
    token with the scopes of the calls made (``consent:write`` to record, ``decisions:read`` for
    the gate, ``consent:read`` for the feed). Operations that change nothing are sent again, at
    most ``retries`` times, when the service answers 429 or 503, after its ``Retry-After`` (capped
    at ``max_wait_s``); recording consent is never sent twice by the client.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
        max_wait_s: float = 30.0,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_wait_s = max_wait_s
        self._opener = opener or urllib.request.build_opener()

    # -- recording and the gate -------------------------------------------------------------

    def record_consent(
        self,
        decisions: Sequence[DecisionIn],
        *,
        channel: str,
        method: str,
        subject: Subject | None = None,
        subject_id: str | None = None,
        collection_point: str | None = None,
        language: str | None = None,
        jurisdiction: str | None = None,
        proof: Mapping[str, Any] | None = None,
    ) -> Recorded:
        """Record decisions for one subject (``POST /v1/consents``); answers the events and the receipt."""
        body = _subject(subject, subject_id) | _present(
            decisions=list(decisions),
            channel=channel,
            method=method,
            collection_point=collection_point,
            language=language,
            jurisdiction=jurisdiction,
            proof=dict(proof) if proof is not None else None,
        )
        return cast(Recorded, self._call("record_consent", body=body))

    def receipt(self, event_id: str) -> dict[str, Any]:
        """The receipt of a recorded event again (``GET /v1/receipts/{event_id}``), with its
        events' inclusion proofs against the log's latest checkpoint (``inclusion`` is None until
        they are in one, about a second after the write). Keep it: ``consent-service-verify
        receipt`` checks it offline, years later."""
        return cast(
            dict[str, Any], self._call("receipt", path_params={"event_id": event_id.removeprefix("rcpt_")})
        )

    def decide(
        self,
        *,
        purpose: str | None = None,
        cookie: str | None = None,
        subject: Subject | None = None,
        subject_id: str | None = None,
    ) -> Decision:
        """The gate for one subject and a purpose or a cookie (``POST /v1/decisions``)."""
        if (purpose is None) == (cookie is None):
            raise ValueError("give exactly one of purpose or cookie")
        body = _subject(subject, subject_id) | _present(purpose=purpose, cookie=cookie)
        return cast(Decision, self._call("decide", body=body))

    def may(self, purpose: str, *, subject: Subject | None = None, subject_id: str | None = None) -> bool:
        """Whether the gate allows ``purpose`` for the subject now."""
        return self.decide(purpose=purpose, subject=subject, subject_id=subject_id)["allowed"]

    def decide_batch(self, purpose: str, subjects: Sequence[str | Subject]) -> BatchDecision:
        """The gate for up to 10,000 subjects (ids or identities), answers in the same order."""
        return cast(
            BatchDecision, self._call("decide_batch", body={"purpose": purpose, "subjects": list(subjects)})
        )

    # -- the event feed ---------------------------------------------------------------------

    def events(
        self,
        after: int = 0,
        *,
        limit: int = 100,
        purposes: Iterable[str] | None = None,
        subject_id: str | None = None,
    ) -> FeedPage:
        """One page of the change feed after ``after`` (``GET /v1/events``)."""
        query = _present(
            after=after,
            limit=limit,
            purpose=",".join(purposes) if purposes is not None else None,
            subject_id=subject_id,
        )
        return cast(FeedPage, self._call("events", query=query))

    def follow_events(
        self,
        after: int = 0,
        *,
        limit: int = 1000,
        purposes: Iterable[str] | None = None,
        subject_id: str | None = None,
    ) -> Iterator[Event]:
        """Every event after ``after``, page by page, until the feed has no more.

        Store the ``seq`` of the last event handled and pass it as ``after`` next time: the feed
        is ordered by ``seq`` and delivers each event once per pass.
        """
        wanted = list(purposes) if purposes is not None else None
        while True:
            page = self.events(after, limit=limit, purposes=wanted, subject_id=subject_id)
            yield from page["events"]
            after = page["next_after"]
            if not page["has_more"]:
                return

    # -- segments and suppression lists ----------------------------------------------------

    def segment_page(
        self,
        purpose: str,
        *,
        cursor: str | None = None,
        limit: int = 1000,
        identity: str | None = None,
        unsubscribe_links: bool = False,
    ) -> SegmentPage:
        """One page of the subjects the gate allows ``purpose`` for now (``GET /v1/segments/<purpose>``).

        A page may hold fewer than ``limit`` subjects while ``next_cursor`` is set; only a null
        ``next_cursor`` ends the export. ``identity`` (e.g. ``"email"``) adds each subject's
        identity of that type and needs the scope ``vault:decrypt``. ``unsubscribe_links`` adds
        each subject's one-click unsubscribe ``url`` and the ``headers`` to put into the e-mail
        (``List-Unsubscribe``, ``List-Unsubscribe-Post``: RFC 8058).
        """
        query = _present(
            cursor=cursor,
            limit=limit,
            identity=identity,
            unsubscribe_links="true" if unsubscribe_links else None,
        )
        return cast(SegmentPage, self._call("segment", path_params={"purpose": purpose}, query=query))

    def segment(
        self, purpose: str, *, limit: int = 1000, identity: str | None = None, unsubscribe_links: bool = False
    ) -> Iterator[SegmentMember]:
        """Every subject of the segment, following the cursor page by page (memory stays one page).

        After the export, follow the event feed from the first page's ``feed_after``
        (``export_segment`` returns it) to keep the copy current.
        """
        pages = self._segment_pages(
            purpose, limit=limit, identity=identity, unsubscribe_links=unsubscribe_links
        )
        for page in pages:
            yield from page["items"]

    def export_segment(
        self, purpose: str, *, limit: int = 1000, identity: str | None = None, unsubscribe_links: bool = False
    ) -> tuple[list[SegmentMember], int]:
        """The whole segment as a list, and the feed position (``feed_after``) to follow from."""
        members: list[SegmentMember] = []
        feed_after = 0
        pages = self._segment_pages(
            purpose, limit=limit, identity=identity, unsubscribe_links=unsubscribe_links
        )
        for number, page in enumerate(pages):
            if number == 0:
                feed_after = page["feed_after"]
            members.extend(page["items"])
        return members, feed_after

    def _segment_pages(
        self, purpose: str, *, limit: int, identity: str | None, unsubscribe_links: bool
    ) -> Iterator[SegmentPage]:
        cursor: str | None = None
        while True:
            page = self.segment_page(
                purpose, cursor=cursor, limit=limit, identity=identity, unsubscribe_links=unsubscribe_links
            )
            yield page
            cursor = page["next_cursor"]
            if cursor is None:
                return

    def suppressions(self, purpose: str) -> list[str]:
        """SHA-256 hex hashes of the normalised e-mail addresses not to be mailed for ``purpose``."""
        document = self._call("suppressions", path_params={"purpose": purpose}, query={"format": "json"})
        return list(document["items"])

    # -- transport --------------------------------------------------------------------------

    def _call(
        self,
        name: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        raw: bool = False,
    ) -> Any:
        operation = OPERATIONS[name]
        url = self.base_url + _path(operation, path_params or {})
        if query:
            unknown = set(query) - set(operation.query)
            if unknown:
                raise ValueError(f"{name} takes no query parameter {sorted(unknown)}")
            url += "?" + urllib.parse.urlencode({k: _query_value(v) for k, v in query.items()})
        data = None
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if body is not None:
            unknown = set(body) - set(operation.body)
            if unknown:
                raise ValueError(f"{name} takes no field {sorted(unknown)}")
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=headers, method=operation.method)
            try:
                with self._opener.open(request, timeout=self.timeout_s) as response:
                    payload = response.read()
                    return payload if raw else (json.loads(payload) if payload else None)
            except urllib.error.HTTPError as error:
                with error:
                    payload = error.read()
                wait = _retry_after(error)
                if (
                    operation.safe
                    and error.code in (429, 503)
                    and attempt < self.retries
                    and wait <= self.max_wait_s
                ):
                    attempt += 1
                    time.sleep(wait)
                    continue
                raise ApiError(error.code, _problem(error.code, payload)) from None
            except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
                reason = getattr(error, "reason", error)
                raise TransportError(f"{operation.method} {url}: {reason}") from error


def _subject(subject: Subject | None, subject_id: str | None) -> dict[str, Any]:
    if (subject is None) == (subject_id is None):
        raise ValueError("give exactly one of subject or subject_id")
    return {"subject": dict(subject)} if subject is not None else {"subject_id": subject_id}


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _path(operation: Operation, params: Mapping[str, str]) -> str:
    path = operation.path
    for key, value in params.items():
        path = path.replace("{" + key + "}", urllib.parse.quote(value, safe=""))
    if "{" in path:
        raise ValueError(f"missing path parameter in {operation.path}")
    return path


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_after(error: urllib.error.HTTPError) -> float:
    try:
        return max(0.0, float(error.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _problem(status: int, payload: bytes) -> dict[str, Any]:
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if isinstance(document, dict):
        return document
    return {"status": status, "title": f"HTTP {status}", "detail": payload.decode("utf-8", "replace")[:500]}
