"""Store descriptions shared by the store and connector tests."""

from __future__ import annotations

import copy
from typing import Any

SHOP: dict[str, Any] = {
    "type": "sql",
    "connection": {"url": "postgresql+psycopg://shop:s3cret-pw@127.0.0.1/shop"},
    "collections": {
        "customers": {
            "primary_key": "id",
            "identities": {"email": "email", "customer_id": "id"},
            "erase": "delete",
            "fields": {
                "email": {"category": "user.contact.email", "erase": "mask"},
                "name": {"category": "user.name", "erase": "nullify"},
            },
        },
        "orders": {
            "primary_key": "id",
            "references": {"customer_id": "customers.id"},
            "erase": "update",
            "hold": {"reason": "Commercial and tax records are kept 10 years", "basis": "legal_obligation"},
            "fields": {
                "customer_id": {"category": "user.unique_id", "erase": "keep"},
                "shipping_address": {"category": "user.contact.address", "erase": "nullify"},
            },
        },
    },
}


def shop(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SHOP)
    doc.update(changes)
    return doc
