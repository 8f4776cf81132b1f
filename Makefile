# Two commands: `make run` (set up, ingest seeds/) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WAREHOUSE ?= warehouse_data
# Part of the cleaner is compiled with mypyc (tasks/clean/native.py): editing it rebuilds.
COMPILED_SOURCES := $(wildcard tasks/clean/*.py)
# Offline by default: no Prefect analytics, no hub downloads.
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1

.PHONY: setup run test lint bench eval lock clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock setup.py $(COMPILED_SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -c "import tasks.clean as c; print('news-etl: cleaner', c.BUILD_STATE)"
	touch $@

run: setup
	$(BIN)/news-etl run seeds/ --warehouse $(WAREHOUSE)
	$(BIN)/news-etl query "select title, author, published_at, word_count from articles order by source_uri" --warehouse $(WAREHOUSE)

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python bench/bench_flow.py

eval: setup
	$(BIN)/news-etl eval ../shared/eval/dev

# Re-pin dependencies after editing pyproject.toml.
lock:
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) $(WAREHOUSE) build *.so tasks/clean/*.so tasks/clean/native_build.json
