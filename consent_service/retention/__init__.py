"""Retention rules, legal holds and the sweeper (GDPR Art. 5(1)(e)), and the records of
processing (Art. 30).

- ``rules``: versioned retention rules and which of them apply to what;
- ``holds``: legal holds, which neither the sweeper nor an erasure request overrides;
- ``sweeper``: applies the rules to the registered stores in bounded batches: ``plan`` (which
  steps), ``field_sweep`` (field triggers), ``ended`` (consent ended), ``recorder`` (the report
  as it grows), ``runs`` (one run at a time, recorded and audited);
- ``own_data``: the service's own retention (proofs, codes, packages, contact data, subjects);
- ``ropa``: the records of processing activities;
- ``service``: the rule and hold operations with their transactions, for the API.
"""
