"""Registry rules that hold before any database is touched."""

import pytest

from consent_service.errors import InvalidInput
from consent_service.hashing import content_hash
from consent_service.registry.service import MATERIAL_FIELDS, material_hash, validate_purpose

PROFILING = {
    "logic": {"en": "A score from past orders", "de": "Ein Wert aus früheren Bestellungen"},
    "consequences": {"en": "Offers differ", "de": "Angebote unterscheiden sich"},
}


def spec(**changes):
    base = {
        "titles": {"en": "Newsletter", "de": "Newsletter"},
        "descriptions": {"en": "Mail", "de": "Post"},
        "legal_basis": "consent",
        "data_categories": ["user.contact.email"],
        "data_uses": ["marketing.communications.email"],
        "consent_validity": "P12M",
        "retention_period": "P2Y",
    }
    base.update(changes)
    return base


def test_a_valid_purpose_passes():
    validate_purpose(spec())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"titles": {"en": "Only English"}}, "titles"),
        ({"descriptions": {"de": "Nur Deutsch"}}, "descriptions"),
        ({"legal_basis": "because"}, "legal_basis"),
        ({"data_categories": ["user.contact.emial"]}, "data_categories"),
        ({"data_uses": ["marketing.spam"]}, "data_uses"),
        ({"consent_validity": "P14M"}, "consent_validity"),
        ({"consent_validity": "twelve months"}, "consent_validity"),
        ({"retention_period": "P"}, "retention_period"),
        ({"automated_decisions": "some"}, "automated_decisions"),
        ({"automated_decisions": {"logic": PROFILING["logic"]}}, "automated_decisions"),
        ({"automated_decisions": {**PROFILING, "logic": {"en": "Only English"}}}, "automated_decisions"),
        ({"automated_decisions": {**PROFILING, "logic": {"en": " ", "de": "x"}}}, "automated_decisions"),
        ({"automated_decisions": {**PROFILING, "weights": {}}}, "automated_decisions"),
        ({"automated_decisions": ["none"]}, "automated_decisions"),
    ],
)
def test_each_broken_rule_names_its_field(changes, field):
    with pytest.raises(InvalidInput) as info:
        validate_purpose(spec(**changes))
    assert field in info.value.errors


def test_material_hash_ignores_order_and_non_material_settings():
    assert material_hash(spec()) == material_hash(spec(consent_validity="P6M", honor_gpc=True))
    assert material_hash(spec(data_categories=["user.contact.email", "user.name"])) == material_hash(
        spec(data_categories=["user.name", "user.contact.email"])
    )
    assert material_hash(spec()) != material_hash(spec(titles={"en": "News", "de": "Newsletter"}))
    assert material_hash(spec()) != material_hash(spec(legal_basis="contract"))


def test_automated_decisions_are_material_and_none_hashes_as_before():
    """A purpose without automated decisions keeps the hash it had before the field existed, so
    the consents given to it stay current; describing automated decisions is a new version."""
    validate_purpose(spec(automated_decisions=PROFILING))
    before = content_hash({name: spec()[name] for name in MATERIAL_FIELDS})
    assert material_hash(spec()) == before
    assert material_hash(spec(automated_decisions="none")) == before
    assert material_hash(spec(automated_decisions=PROFILING)) != before


def test_every_taxonomy_key_has_a_german_name():
    from consent_service.registry import taxonomy
    from consent_service.registry.taxonomy_de import NAMES_DE

    keys = taxonomy.data_categories() | taxonomy.data_uses()
    assert set(NAMES_DE) == keys
    assert taxonomy.name("user.contact.email", "de") == "E-Mail-Adresse"
    assert taxonomy.name("user.contact.email") == "User Contact Email"
    assert taxonomy.name("user.contact.email", "fr") == "User Contact Email"
