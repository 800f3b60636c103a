"""Imports of consent records exported by other consent platforms (``service.import_consents``)."""
