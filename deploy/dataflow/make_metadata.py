"""Write deploy/dataflow/metadata.json from the options class (run after changing options):

    .venv/bin/python deploy/dataflow/make_metadata.py

Every NewsbeamOptions option becomes a template parameter (its dest is the name, its help the
helpText); two Beam options the template needs are added: ``streaming`` and ``sdk_container_image``.
tests/test_deploy.py fails when the file and the options class disagree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

BEAM_PARAMETERS = [
    {"name": "streaming", "label": "Streaming", "helpText": "true for a streaming job (feeds polled, Pub/Sub read) until drained.",
     "isOptional": True, "regexes": ["^(true|false)$"]},
    {"name": "sdk_container_image", "label": "Worker image",
     "helpText": "The worker container image: the same image as the template (Artifact Registry path).",
     "isOptional": True, "regexes": ["^[a-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]+)?$"]},
]
REGEXES = {
    float: ["^[0-9]+(\\.[0-9]+)?$"],
    int: ["^[0-9]+$"],
}
PATH_REGEX = ["^(gs://|/).+"]
PATH_OPTIONS = {"input", "output", "feeds", "taxonomy"}


def parameters() -> list[dict]:
    from pipeline.options import NewsbeamOptions, _flag

    parser = argparse.ArgumentParser()
    NewsbeamOptions._add_argparse_args(parser)
    out = []
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        label = action.dest.replace("_", " ").capitalize()
        item = {"name": action.dest, "label": label, "helpText": " ".join((action.help or label).split()),
                "isOptional": action.dest != "output"}
        if action.type is _flag:
            item["regexes"] = ["^(true|false)$"]
        elif action.type in REGEXES:
            item["regexes"] = REGEXES[action.type]
        elif action.dest in PATH_OPTIONS:
            item["regexes"] = PATH_REGEX
        elif action.choices:
            item["regexes"] = ["^(" + "|".join(action.choices) + ")$"]
        out.append(item)
    return out + BEAM_PARAMETERS


def main() -> None:
    metadata = {
        "name": "newsbeam",
        "description": "Ingest news articles (files, live RSS/Atom feeds, Pub/Sub): normalise, deduplicate, "
                       "tag and write hive-partitioned Parquet for DuckDB.",
        "parameters": parameters(),
    }
    (HERE / "metadata.json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {HERE / 'metadata.json'}: {len(metadata['parameters'])} parameters")


if __name__ == "__main__":
    main()
