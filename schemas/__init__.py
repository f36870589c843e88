"""newsbeam's record contract: pydantic models and the schemas derived from them."""

from schemas.arrow import dataset_schema, schema_for
from schemas.models import DATASETS, SCHEMA_VERSION, Article, DuplicateRecord, RejectedRecord

__all__ = [
    "Article",
    "DATASETS",
    "DuplicateRecord",
    "RejectedRecord",
    "SCHEMA_VERSION",
    "dataset_schema",
    "schema_for",
]
