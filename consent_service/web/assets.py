"""The console's static files, served by the service under names that carry their content hash.

``asset_url("console.css")`` gives ``/console/static/console.<hash>.css``; the file is answered
with a year-long immutable cache (its bytes, small, read each time), since a changed file gets a new name. A name whose hash is not
the file's current one is 404, so no stale copy is ever cached under a current name.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from pathlib import Path

from flask import Flask, Response, abort, url_for
from flask.typing import ResponseReturnValue

STATIC = Path(__file__).parent / "static"
YEAR = 365 * 24 * 3600


@functools.cache
def hashed_name(name: str) -> str:
    path = STATIC / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}{dot}{suffix}"


def asset_url(name: str) -> str:
    return url_for("console_static", filename=hashed_name(name))


def _serve(filename: str) -> ResponseReturnValue:
    stem, _, rest = filename.partition(".")
    _, _, suffix = rest.partition(".")
    name = f"{stem}.{suffix}"
    if "/" in filename or not (STATIC / name).is_file() or hashed_name(name) != filename:
        abort(404)
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(
        (STATIC / name).read_bytes(),
        mimetype=mimetype,
        headers={"Cache-Control": f"public, max-age={YEAR}, immutable"},
    )


def install(app: Flask) -> None:
    app.add_url_rule("/console/static/<filename>", "console_static", _serve)
    app.jinja_env.globals["asset_url"] = asset_url
