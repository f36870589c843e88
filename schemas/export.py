"""Export the JSON Schemas of the record contract: ``python -m schemas.export``."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.models import DATASETS, INDEX_DATASETS

JSON_DIR = Path(__file__).resolve().parent / "json"


def rendered() -> dict[str, str]:
    """File name -> JSON text of every dataset's schema."""
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in {**DATASETS, **INDEX_DATASETS}.items()
    }


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (JSON_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {JSON_DIR / name}")


if __name__ == "__main__":
    main()
