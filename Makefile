# pharos — the two commands: `make up` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# binary=Debian package; only the packages whose binary is missing are installed (the base image
# may already carry a kubectl from another package, which kubernetes-client would clash with)
PEERS := /usr/bin/prometheus=prometheus /usr/bin/prometheus-node-exporter=prometheus-node-exporter \
	/usr/bin/prometheus-alertmanager=prometheus-alertmanager /usr/bin/prometheus-pushgateway=prometheus-pushgateway \
	/usr/bin/chromium=chromium /usr/bin/kubectl=kubernetes-client /usr/bin/go=golang-go

.PHONY: ui up test install install-test peers lint bench-ingest bench-agent bench-remote-write bench-promql bench-rules bench-logs bench-nab bench-forecast bench-monitors-speed clean

## up: create .venv, install pharos and start the all-in-one server on http://127.0.0.1:9494
up: install ui
	$(VENV)/bin/pharos up

## test: install test dependencies and the real peer binaries, then run every test
test: install-test peers lint ui
	cd ui && npx vitest run
	$(VENV)/bin/pytest -q --durations=20

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(VENV)/bin/python
	$(PIP) install -q -e .

install-test: $(VENV)/bin/python
	$(PIP) install -q -e '.[test]'

## ui: build the web UI (ui/, TypeScript + Vite) into src/pharos/web/static/ (not committed)
ui:
	cd ui && npm ci --no-audit --no-fund && npm run build

## peers: the interop tests' real peers (prometheus, node_exporter, alertmanager, pushgateway), chromium (UI tests), kubectl (manifest render test), go (a real Go panic for the multiline test)
peers:
	@missing=""; for pair in $(PEERS); do [ -x "$${pair%%=*}" ] || missing="$$missing $${pair#*=}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing peers:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

lint: install-test
	$(VENV)/bin/ruff check src tests benchmarks

## bench-ingest: pharos vs prometheus 2.42 on 100 targets x 2,000 series (see benchmarks/README.md)
bench-ingest: install-test peers
	$(PY) benchmarks/ingest.py

## bench-agent: the node agent over 1 GB of CRI logs in 50 files, discard sink and pharos (see benchmarks/README.md)
bench-agent: install-test
	$(PY) benchmarks/agent.py

## bench-remote-write: remote-write ingest samples/s per core, pharos vs prometheus 2.42
bench-remote-write: install-test peers
	$(PY) benchmarks/remote_write.py

## bench-promql: 30+ dashboard queries, pharos vs prometheus 2.42 on 10,000 imported series x 6 h
bench-promql: install-test peers
	$(PY) benchmarks/promql.py

## bench-rules: 2,000 recording + 2,000 alerting rules over 50,000 scraped series, group evaluation time vs prometheus 2.42
bench-rules: install-test peers
	$(PY) benchmarks/rules.py

## bench-logs: ~2 GB of generated container logs pushed to pharos: ingest per core, storage, needle and json queries vs grep/jq
bench-logs: install-test
	$(PY) benchmarks/logs.py

## bench-nab: every anomaly algorithm over the NAB corpus (../shared/nab), scored next to the published scoreboard
bench-nab: install-test
	$(PY) benchmarks/nab.py

## bench-forecast: seasonal forecast of the last 10% of NAB's daily/weekly series, MAE vs seasonal naive (MASE)
bench-forecast: install-test
	$(PY) benchmarks/monitors_forecast.py

## bench-monitors-speed: anomaly bands of 1,000 series x one week at 5-minute resolution (<= 2 s)
bench-monitors-speed: install-test
	$(PY) benchmarks/monitors_speed.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
