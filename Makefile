# newsbeam: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/

.PHONY: demo test install bench clean schemas train-topics

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,gcp]'
	touch $(STAMP)

install: $(STAMP)

## demo: set up .venv, run the job on everything in seeds/ into out/, print the summary and a sample query
demo: $(STAMP)
	$(BIN)/newsbeam run --input 'seeds/**' --output $(OUT)
	$(BIN)/newsbeam query --output $(OUT) "SELECT input_format, count(*) AS articles, min(published_date) AS first_day, max(published_date) AS last_day FROM articles GROUP BY 1 ORDER BY 1"
	$(BIN)/newsbeam query --output $(OUT) "SELECT title, [p.name FOR p IN places][1:3] AS places, [t.label FOR t IN topics][1:2] AS topics, persons[1:2] AS people FROM articles WHERE input_format = 'text' ORDER BY input_uri"

## test: set up .venv (with test extras) and run the whole test suite
test: $(STAMP)
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
