"""Registered data stores, shared by data subject requests and retention: the store description
(``spec``), the registry of stores with their sealed connections (``registry``, ``secrets``), the
connectors to each kind of store (``connectors``, with an in-memory fake) and the traversal that
finds a person's records by their identities and the references between collections.
"""
