"""Data categories and data uses: the keys of fideslang's default taxonomy.

Keys are what the registry and store descriptions hold; ``name`` gives the taxonomy's human
name of a key for what people read (access packages), in English or German (``taxonomy_de``). The taxonomy is loaded from the ``fideslang`` package on first use (not at import), and kept
for the life of the process.
"""

from __future__ import annotations

from functools import lru_cache

# The lawful bases of processing (GDPR Art. 6(1)(a)-(f)), as purposes and holds name them.
LEGAL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
)


@lru_cache(maxsize=1)
def _keys() -> tuple[frozenset[str], frozenset[str]]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    categories = frozenset(item.fides_key for item in DEFAULT_TAXONOMY.data_category)
    uses = frozenset(item.fides_key for item in DEFAULT_TAXONOMY.data_use)
    return categories, uses


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    items = [*DEFAULT_TAXONOMY.data_category, *DEFAULT_TAXONOMY.data_use]
    return {item.fides_key: item.name or item.fides_key for item in items}


def name(key: str, language: str = "en") -> str:
    """The human name of a data category or data use ("User Contact Email", in German
    "E-Mail-Adresse"); the English name for other languages, the key itself if unknown."""
    if language == "de":
        from consent_service.registry.taxonomy_de import NAMES_DE

        if key in NAMES_DE:
            return NAMES_DE[key]
    return _names().get(key, key)


def data_categories() -> frozenset[str]:
    return _keys()[0]


def data_uses() -> frozenset[str]:
    return _keys()[1]


def unknown_categories(keys: list[str]) -> list[str]:
    known = data_categories()
    return [key for key in keys if key not in known]


def unknown_uses(keys: list[str]) -> list[str]:
    known = data_uses()
    return [key for key in keys if key not in known]
