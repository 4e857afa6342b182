# The two commands that matter: `make sim` and `make test`. Everything else is set-up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BOARD ?= boards/sim.json
PORT ?=
MP_HEAP ?= 256k

.PHONY: venv test sim bench stress deploy clean

venv: $(STAMP)

$(STAMP): requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q host_tests

sim: $(STAMP)
	$(BIN)/python tools/sim.py --board $(BOARD)

bench: $(STAMP)
	$(BIN)/python tools/bench.py

stress: $(STAMP)
	STRESS=1 $(BIN)/python -m pytest -q host_tests -k "stress or fuzz or power or storm"

deploy: $(STAMP)
	$(BIN)/python tools/deploy.py --board $(BOARD) --port "$(PORT)"

clean:
	rm -rf $(VENV) build
