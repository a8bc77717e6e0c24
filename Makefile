# docpipe: `make run` processes samples/ locally, `make test` runs lint, types and tests.
# Every target installs what it needs into .venv first (from the requirements files).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean

$(STAMP): requirements.txt requirements-dev.txt functions/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "docpipe needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m pipeline run samples/documents --out out

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

# The anchors (qpdf, ghostscript) are installed with apt when missing and we are root;
# otherwise their rows are skipped and the command to install them is printed.
bench: $(STAMP)
	@command -v qpdf >/dev/null && command -v gs >/dev/null && command -v pdftotext >/dev/null \
	  && command -v tesseract >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq qpdf ghostscript poppler-utils tesseract-ocr; \
	  else echo "anchors missing, their rows are skipped: sudo apt-get install qpdf ghostscript poppler-utils tesseract-ocr"; fi; }
	$(BIN)/python benchmarks/compress.py
	$(BIN)/python benchmarks/images.py
	$(BIN)/python benchmarks/manual.py
	$(BIN)/python benchmarks/coldstart.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/text.py
	$(BIN)/python benchmarks/ocr.py
	$(BIN)/python benchmarks/burst.py

clean:
	rm -rf build out .mypy_cache .pytest_cache .ruff_cache
