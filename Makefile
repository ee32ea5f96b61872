# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench fuzz soak clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Programs the integration tests run for real (each test starts and stops its own
# instance on 127.0.0.1). Installed with apt when missing and we are allowed to.
SYSTEM_TOOLS := gpsd gpsfake mosquitto mosquitto_passwd openssl chromium
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || PATH="$$PATH:/usr/sbin" command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    gpsd gpsd-clients mosquitto mosquitto-clients openssl chromium >/dev/null; \
	  for s in gpsd gpsd.socket mosquitto; do $$SUDO systemctl disable --now $$s >/dev/null 2>&1 || true; done; \
	fi

demo: $(STAMP)
	$(BIN)/sepmon demo

lint: $(STAMP)
	$(BIN)/ruff check host tests firmware bench fuzz soak
	$(BIN)/ruff format --check host tests bench firmware fuzz soak
	$(BIN)/lint-imports  # the rooms' import contract, [tool.importlinter] in pyproject.toml

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis

bench: $(STAMP)
	$(BIN)/python bench/run.py

fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --time 300 --min-total 1000000

soak: $(STAMP)
	$(BIN)/python soak/run.py
