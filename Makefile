# Two commands: `make run` (set up and run the nightly DAG on the demo data) and
# `make test` (the whole suite). Everything else here serves those two.
SHELL := /bin/bash
PY := .venv/bin/python
DEMO_FIRST ?= 2026-11-01
DEMO_LAST ?= 2026-11-14
# Eight weeks of history (flowlib.demo_history.HISTORY_WEEKS) behind the demo fortnight are generated and
# loaded: the forecast trains and backtests on them, the KPI path reads the survey archive.
# The open data start at the fortnight (FLOW_OPEN_DATA_FIRST, docs/privacy.md "What is
# published"), as a city's publication starts on a launch day with history already in its
# warehouse: the nightly audit then solves the fortnight's files, not 70 days of them.
DEMO_HISTORY_FIRST ?= $(shell date -d "$(DEMO_FIRST) - 56 days" +%F)
OPEN_DATA_FIRST ?= $(DEMO_FIRST)

.PHONY: run test env assets airflow demo-data clean backfill bench

run: env assets airflow demo-data
	@# The history is loaded once: rebuilding its days on a repeat run would redo every complete
	@# month's roll-up per day (minutes each) for files that did not change. The warehouse is
	@# asked whether it built them (a new or replaced warehouse has not).
	@if $(PY) -m flowlib.demo_history --start $(DEMO_FIRST) --built; then first=$(DEMO_FIRST); else first=$(DEMO_HISTORY_FIRST); fi; \
	FLOW_OPEN_DATA_FIRST=$${FLOW_OPEN_DATA_FIRST-$(OPEN_DATA_FIRST)} bash scripts/run_nightly.sh $$first $(DEMO_LAST)
	@echo "[done] open $(CURDIR)/dashboards/index.html"

test: env assets
	@bash scripts/run_tests.sh

env:
	@bash scripts/bootstrap.sh

assets: env
	@$(PY) -m flowlib.assets

airflow: env
	@bash scripts/airflow_setup.sh

demo-data: env
	@if [ -f data/demo_truth.json ]; then echo "[demo] demo data already in data/landing (delete data/ to regenerate)"; \
	else $(PY) -m flowlib.demo_history --start $(DEMO_FIRST) && $(PY) -m flowlib demo --start $(DEMO_FIRST) --end $(DEMO_LAST); fi

backfill: env assets airflow
	@bash scripts/backfill.sh $(ARGS)

bench: env
	@$(PY) bench/benchmark.py

clean:
	rm -rf data .airflow dashboards/daily dashboards/index.html dashboards/data-docs
