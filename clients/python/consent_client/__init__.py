"""A small client of the consent_service API for CRM and marketing tools.

>>> from consent_client import ConsentClient
>>> client = ConsentClient("https://consent.example", token="...")  # doctest: +SKIP
>>> client.may("newsletter", subject={"type": "email", "value": "anna@example.org"})  # doctest: +SKIP
True
"""

from consent_client.client import ConsentClient
from consent_client.errors import ApiError, ConsentClientError, TransportError
from consent_client.operations import OPERATIONS, Operation
from consent_client.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature, verify_webhook

__all__ = [
    "OPERATIONS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ApiError",
    "ConsentClient",
    "ConsentClientError",
    "Operation",
    "TransportError",
    "signature",
    "verify_webhook",
]
