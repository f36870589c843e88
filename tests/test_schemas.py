from __future__ import annotations

import pyarrow as pa

from schemas import DATASETS, dataset_schema
from schemas.models import SCHEMA_VERSION
from schemas.export import JSON_DIR, rendered


def test_exported_json_schemas_are_in_sync():
    for name, text in rendered().items():
        assert (JSON_DIR / name).read_text(encoding="utf-8") == text, f"run 'make schemas' to refresh {name}"


def test_arrow_schema_is_derived_from_the_models():
    for name, model in DATASETS.items():
        schema = dataset_schema(name)
        assert schema.names == list(model.model_fields)
        assert schema.metadata[b"newsbeam.schema_version"] == SCHEMA_VERSION.encode()


def test_arrow_types():
    schema = dataset_schema("articles")
    assert schema.field("published_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("published_at").nullable
    assert not schema.field("article_id").nullable
    assert schema.field("authors").type == pa.list_(pa.string())
    assert schema.field("word_count").type == pa.int64()
    assert dataset_schema("rejected").field("payload").type == pa.binary()
    places = schema.field("places").type
    assert pa.types.is_list(places) and places.value_type.field("lat").type == pa.float64()
    assert places.value_type.field("geonames_id").type == pa.int64()
    assert schema.field("topics").type.value_type.field("score").type == pa.float64()
    assert schema.field("tags").type == pa.list_(pa.string())
