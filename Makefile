# Two entry points: `make demo` runs the OMS on the embedded default,
# `make test` checks the import layers (.importlinter) and runs the test suite.
# Both create .venv and install on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@# the blotter's browser tests drive Debian's chromium (Playwright's own download cannot work offline)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "warning: chromium is missing (run apt-get update && apt-get install -y chromium as root): the browser tests will skip" >&2; fi; }
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/oms demo

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.codec
	$(BIN)/python -m bench.risk $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).risk.json)
	$(BIN)/python -m bench.state $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).state.json)
	$(BIN)/python -m bench.handler $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).handler.json)
	$(BIN)/python -m bench.monitor $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).monitor.json)
	$(BIN)/python -m bench.replay $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).replay.json)
	$(BIN)/python -m bench.restart $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).restart.json)
	$(BIN)/python -m bench.gateway
	$(BIN)/python -m bench.fix $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).fix.json)
	$(BIN)/python -m bench.scale $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).scale.json)
	$(BIN)/python -m bench.positions $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).positions.json)
	$(BIN)/python -m bench.position_state $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).position_state.json)
	$(BIN)/python -m bench.router $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).router.json)
	$(BIN)/python -m bench.routed $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).routed.json)
	$(BIN)/python -m bench.backtest --export-events 1000000 $(if $(BENCH_JSON),--json $(basename $(BENCH_JSON)).backtest.json)
	$(BIN)/python -m bench.pipeline --rates 50,1000 $(if $(BENCH_JSON),--json $(BENCH_JSON))

clean:
	rm -rf $(VENV) .oms

.PHONY: demo-fix
demo-fix: $(STAMP)
	$(BIN)/oms demo-fix
