# newsbeam: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/

.PHONY: demo test install browser bench clean schemas train-topics

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,gcp]'
	touch $(STAMP)

install: $(STAMP)

## demo: set up .venv, run the job on everything in seeds/ into out/, print the summary and sample queries, write out/report.html
demo: $(STAMP)
	$(BIN)/newsbeam run --input 'seeds/**' --output $(OUT)
	$(BIN)/newsbeam query --output $(OUT) "SELECT input_format, count(*) AS articles, min(published_date) AS first_day, max(published_date) AS last_day FROM articles GROUP BY 1 ORDER BY 1"
	$(BIN)/newsbeam query --output $(OUT) "SELECT title, [p.name FOR p IN places][1:3] AS places, [t.label FOR t IN topics][1:2] AS topics, persons[1:2] AS people FROM articles WHERE input_format = 'text' ORDER BY input_uri"
	$(BIN)/newsbeam report --output $(OUT) --html $(OUT)report.html

## browser: Debian's chromium for the report's browser test (needs root and apt-get; else that test is skipped)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; }; }; } || \
	  echo "note: chromium could not be installed (needs root and apt-get): the report's browser test will be skipped"

## test: set up .venv (with test extras) and Chromium, and run the whole test suite
test: $(STAMP) browser
	$(BIN)/python -m pytest -q

## bench: throughput and peak memory on BBC x1 and x10 (needs ../shared/corpora/bbc)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py --scales 1 10

## train-topics: retrain the shipped topic model (pipeline/tagging/data/topic_model.*) from ../shared/corpora (numpy only, ~2 min)
train-topics: $(STAMP)
	$(BIN)/python benchmarks/train_topics.py

## schemas: regenerate schemas/json/*.schema.json from the pydantic models
schemas: $(STAMP)
	$(BIN)/python -m schemas.export

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
