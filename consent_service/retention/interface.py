"""What data subject requests may use of retention, and nothing else: the retention rules that
apply to a person's data (``active_rules``, ``applicable``) and the words that describe them, for
the access package (Art. 15(1)(d)). The import contract in setup.cfg allows ``dsar`` this module
only.
"""

from consent_service.retention.rules import ACTION_WORDS, TRIGGER_WORDS, active_rules, applicable

__all__ = ["ACTION_WORDS", "TRIGGER_WORDS", "active_rules", "applicable"]
