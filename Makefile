# The two commands that matter: `make sim` and `make test`. Everything else is set-up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BOARD ?= boards/sim.json
PORT ?=
SIM_ARGS ?=
DEPLOY_ARGS ?=

.PHONY: venv test sim bench stress deploy validate package clean

venv: $(STAMP)

$(STAMP): requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q host_tests

# Local CSMS console + the station under MicroPython. SIM_ARGS e.g. --fresh, --port 9100, --runtime cpython.
sim: $(STAMP)
	$(BIN)/python tools/sim.py --board $(BOARD) $(SIM_ARGS)

bench: $(STAMP)
	$(BIN)/python tools/bench.py

stress: $(STAMP)
	STRESS=1 $(BIN)/python -m pytest -q host_tests -k "stress or fuzz or power or storm"

# make deploy BOARD=boards/esp32-devkitc.json PORT=/dev/ttyUSB0 [DEPLOY_ARGS=--full|--dry-run|--no-reset]
deploy: $(STAMP)
	@if [ "$(BOARD)" = "boards/sim.json" ]; then echo "make deploy needs a device board: BOARD=boards/esp32-devkitc.json (or esp32s3-psram, pico-w)"; exit 2; fi
	$(BIN)/python tools/deploy.py --board $(BOARD) --port "$(PORT)" $(DEPLOY_ARGS)

# Check board files against the schema and the firmware's own check.
validate: $(STAMP)
	$(BIN)/python tools/validate_board.py boards/*.json

# Rewrite package.json (mpremote mip install) from the firmware's sources.
package: $(STAMP)
	$(BIN)/python tools/deploy.py --package-json

clean:
	rm -rf $(VENV) build
