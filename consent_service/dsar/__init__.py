"""Data subject requests (GDPR Art. 12-22): the request lifecycle, verification, deadlines,
execution across the registered stores (``consent_service.stores``), packages and the messages
to the person.
"""
