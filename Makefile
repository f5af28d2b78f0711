# Two commands matter: `make run` and `make test` (see README). Both create .venv as needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 3000

.PHONY: run test drills bench worker lint clean browser schemas node

$(STAMP): pyproject.toml integrations/django/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q -e integrations/django
	touch $(STAMP)

run: $(STAMP)
	PORT=$(PORT) SALEOR_ALLOW_LOOPBACK=$${SALEOR_ALLOW_LOOPBACK:-1} $(PY) -m plugin.cli run

worker: $(STAMP)
	$(VENV)/bin/celery -A plugin.tasks.celery_app worker --beat --loglevel=INFO

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
	      || echo "chromium could not be installed: browser tests will skip"; \
	  else echo "chromium not found: browser tests will skip (install the Debian package 'chromium')"; fi; }

# Saleor's GraphQL schemas (pinned by sha256 in tests/saleor_schemas.py): found via SALEOR_SCHEMA,
# SALEOR_SCHEMAS_DIR or ../shared, else downloaded once into .cache/saleor-schemas/.
schemas:
	$(PYTHON) tests/saleor_schemas.py fetch

# Node.js (npm) type-checks and bundles the Next.js storefront kit (integrations/nextjs) in the tests.
node:
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -q nodejs npm >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null)) \
	      || echo "npm could not be installed: the Next.js kit tests will skip"; \
	  else echo "npm not found: the Next.js kit tests will skip (install Node.js 20+)"; fi; }

# One test process per core, at most 4 (PYTEST_WORKERS=0: a single process).
PYTEST_WORKERS ?= auto
test: $(STAMP) browser schemas node
	$(PY) -m pytest -n $(PYTEST_WORKERS) --maxprocesses=4 $(PYTEST_ARGS)

# ruff (rules and formatting) and import-linter (layers, no cycles, thin tasks): pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

drills: $(STAMP)
	$(PY) -m pytest -m longdrill --run-long-drills -s $(PYTEST_ARGS)

# make bench BENCH_ARGS='--quick' (a smoke run, ~3 min) or BENCH_ARGS='--only ingest,e2e --profile'
bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
