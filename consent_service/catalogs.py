"""Gettext catalogs compiled from their ``.po`` files in memory, so no build step is needed.

``compile_po`` reads a Babel ``.po`` file and returns its ``Translations`` (``read_po`` →
``write_mo`` into a buffer). The request messages (``dsar.messages``) and the console
(``web.i18n``) both compile their catalogs this way the first time a language is used.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


def compile_po(path: Path, locale: str) -> Translations:
    """The catalog in ``path`` as ready-to-use translations for ``locale``."""
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)
