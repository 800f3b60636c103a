"""Where a recipient is, and what protects data sent there (GDPR Chapter V, Art. 15(2)).

A recipient names its ``country`` (ISO 3166-1 alpha-2, checked against Babel's list of
territories) and, outside the European Economic Area, the ``safeguard`` the transfer rests on:
an adequacy decision (Art. 45), standard contractual clauses (Art. 46(2)(c)), binding corporate
rules (Art. 47) or a derogation for a specific situation (Art. 49). A transfer to a third
country without one is not lawful, so such a recipient is refused; inside the EEA no safeguard
is needed and none is accepted. Recipients registered before countries were recorded have none
(``None``): the access package says "country not recorded".
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale

SAFEGUARDS = (
    "adequacy_decision",
    "standard_contractual_clauses",
    "binding_corporate_rules",
    "derogation_art49",
)
# The EU member states and the EEA members Iceland, Liechtenstein and Norway.
EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)
# Babel's territories include groupings, private-use and exceptionally reserved codes that are
# not ISO 3166-1 countries.
NOT_COUNTRIES = frozenset(
    {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB", "AC", "CP", "CQ", "DG", "EA", "IC", "TA"}
)


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """The ISO 3166-1 alpha-2 codes Babel names."""
    codes = [str(code) for code in Locale("en").territories]
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in NOT_COUNTRIES)


def country_name(code: str, language: str = "en") -> str:
    """The country's name in ``language`` (the code itself when Babel has none)."""
    return str(Locale.parse(language).territories.get(code, code))


def problems(country: object, safeguard: object) -> dict[str, list[str]]:
    """What is wrong with a recipient's country and safeguard, keyed by field."""
    errors: dict[str, list[str]] = {}
    if country is None:
        if safeguard is not None:
            errors["safeguard"] = ["a safeguard needs the recipient's country"]
        return errors
    if not isinstance(country, str) or country not in countries():
        errors["country"] = ["an ISO 3166-1 alpha-2 country code in capitals, e.g. DE or US"]
        return errors
    if country in EEA:
        if safeguard is not None:
            errors["safeguard"] = [f"{country} is in the EEA: no transfer safeguard is needed (leave it out)"]
    elif safeguard is None:
        errors["safeguard"] = [
            f"{country} is outside the EEA: name the safeguard of the transfer, one of {', '.join(SAFEGUARDS)}"
        ]
    elif safeguard not in SAFEGUARDS:
        errors["safeguard"] = [f"one of {', '.join(SAFEGUARDS)}"]
    return errors


def in_third_country(country: str | None) -> bool | None:
    return None if country is None else country not in EEA
