"""Cryptography of the service: master keys, per-subject data keys, blind indexes, signatures.

Everything here uses the ``cryptography`` package; no primitive is written by hand.
"""
