"""Data subject requests (GDPR Art. 12-22): request lifecycle, deadlines, execution, connectors.

Not built yet: this package is the agreed home of that work and holds no code so far.
"""
