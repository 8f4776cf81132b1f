"""Arrow schemas and DuckDB column types derived from the pandera models."""

from functools import cache

import pyarrow as pa
from pandera.engines import pandas_engine

from schemas.tables import TABLE_MODELS

_ARROW_TYPES = {
    "str": pa.string(),
    "string[pyarrow]": pa.string(),
    "string[python]": pa.string(),
    "int64": pa.int64(),
    "Int64": pa.int64(),
    "datetime64[ns]": pa.timestamp("us"),
    "float64": pa.float64(),
    "bool": pa.bool_(),
}
_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.timestamp("us"): "TIMESTAMP",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
}


def _arrow_type(dtype: pandas_engine.DataType) -> pa.DataType:
    name = str(dtype)
    if name not in _ARROW_TYPES:
        raise TypeError(f"no Arrow type mapped for pandera dtype {name!r}")
    return _ARROW_TYPES[name]


@cache
def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a table, in model column order, with nullability and descriptions."""
    schema = TABLE_MODELS[table].to_schema()
    return pa.schema(
        [
            pa.field(
                name,
                _arrow_type(column.dtype),
                nullable=column.nullable,
                metadata={"description": column.description or ""},
            )
            for name, column in schema.columns.items()
        ]
    )


def duckdb_columns(table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) pairs for CREATE TABLE, in model order."""
    return [(field.name, _DUCKDB_TYPES[field.type]) for field in arrow_schema(table)]
