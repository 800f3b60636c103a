"""Retention rules, legal holds and the sweeper (GDPR Art. 5(1)(e)).

Not built yet: this package is the agreed home of that work and holds no code so far.
"""
