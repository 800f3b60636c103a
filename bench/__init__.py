"""Benchmarks for consent_service: ``make bench`` (``python -m bench.run``).

Never part of ``make test``: the figures depend on the machine, so they are measured and written
down (docs/benchmarks.md, raw results in bench/results/), not asserted.

- ``run``       the orchestration: per backend prepare, seed, serve, load, report, clean up
- ``backends``  a fresh SQLite data dir or a temporary PostgreSQL database, prepared and seeded
- ``server``    gunicorn on a free 127.0.0.1 port, started and stopped by its process id
- ``load``      wrk (Lua scripts in ``lua/``) or the Python fallback (``pyload``), and the batch probe
- ``proofcost`` in-process cost of sealing the consent proof (``record_consent`` with and without)
- ``rotation``  ``keys rotate`` over 1,000,000 data keys seeded with COPY on PostgreSQL
- ``segments``  exporting a whole segment by its cursor (``make bench-segments``, run alone)
- ``report``    machine facts and the Markdown report
"""
