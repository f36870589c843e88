"""Arrow schemas derived from the pydantic models (never written twice)."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from functools import lru_cache

import pyarrow as pa
from pydantic import BaseModel

from schemas.models import DATASETS, INDEX_DATASETS, SCHEMA_VERSION

_SCALARS: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    bytes: pa.binary(),
    datetime: pa.timestamp("us", tz="UTC"),
}


def _unwrap_optional(annotation: typing.Any) -> tuple[typing.Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
        raise TypeError(f"unsupported union {annotation!r}")
    return annotation, False


def arrow_type(annotation: typing.Any) -> pa.DataType:
    """Map one (non-optional) Python annotation to an Arrow type."""
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        if all(isinstance(v, str) for v in values):
            return pa.string()
        raise TypeError(f"unsupported literal {annotation!r}")
    if origin is list:
        (item,) = typing.get_args(annotation)
        item, _ = _unwrap_optional(item)
        return pa.list_(arrow_type(item))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct(_fields(annotation))
    raise TypeError(f"no Arrow type for {annotation!r}")


def _fields(model: type[BaseModel]) -> list[pa.Field]:
    out = []
    hints = typing.get_type_hints(model)
    for name, info in model.model_fields.items():
        annotation, optional = _unwrap_optional(hints[name])
        nullable = optional or not info.is_required() and info.default is None
        out.append(pa.field(name, arrow_type(annotation), nullable=nullable))
    return out


@lru_cache(maxsize=None)
def schema_for(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of ``model``, with the contract version in its metadata."""
    return pa.schema(
        _fields(model),
        metadata={b"newsbeam.schema_version": SCHEMA_VERSION.encode(), b"newsbeam.model": model.__name__.encode()},
    )


def dataset_schema(dataset: str) -> pa.Schema:
    return schema_for(DATASETS.get(dataset) or INDEX_DATASETS[dataset])
