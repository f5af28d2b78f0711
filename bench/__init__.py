"""Benchmarks of the production shape, on loopback only: `make bench` (= `python -m bench.run`).

Each section lives in its own module (`ingest`, `e2e`, `widget`, `queries`); `env` starts and
stops the processes they measure (gunicorn, Celery, a private redis-server, a scratch
PostgreSQL database) and `load` is the open-loop HTTP load generator. The report goes to
`bench/results/` and to stdout; the published figures are in `docs/BENCHMARKS.md`.
"""
