"""Reliability and security suite (issue 8): crashes, concurrency, idempotency, hostile
input and privacy leaks. The machinery lives in :mod:`bench.reliability` so that
``bench/reliability_report.py`` measures with exactly what the tests assert."""
