"""The Spark schema of a validated event, derived from :class:`app.events.contract.Event`.

Derived field by field from the pydantic annotations, so adding a field to
the contract adds it here; an unmapped type fails loudly instead of
silently becoming a string.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic.fields import FieldInfo

from app.events.contract import Event

if TYPE_CHECKING:
    from pyspark.sql.types import DataType, StructType


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """``(inner type, nullable, constraints)`` of ``X | None`` and ``Annotated[X, ...]``.

    The constraints are those given inside ``Annotated`` (a ``Field(...)``'s own, or bare
    ones such as ``annotated_types.Ge``), which the field's ``metadata`` does not list when
    the annotation sits inside a union.
    """
    nullable = False
    constraints: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extras = typing.get_args(annotation)
            for extra in extras:
                constraints.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                msg = f"cannot map a union of {args} to one Spark type"
                raise TypeError(msg)
            annotation = args[0]
        else:
            return annotation, nullable, constraints


def _spark_type(python_type: Any, field: str, constraints: list[Any]) -> DataType:
    from pyspark.sql import types as T

    if isinstance(python_type, type) and issubclass(python_type, Enum):
        return T.StringType()
    if python_type is Decimal:
        meta = [*Event.model_fields[field].metadata, *constraints]
        digits = next((m.max_digits for m in meta if getattr(m, "max_digits", None)), 38)
        places = next((m.decimal_places for m in meta if getattr(m, "decimal_places", None)), 0)
        return T.DecimalType(digits, places)
    simple: dict[Any, DataType] = {
        str: T.StringType(),
        int: T.IntegerType(),
        datetime: T.TimestampType(),
        float: T.DoubleType(),
        bool: T.BooleanType(),
    }
    if python_type in simple:
        return simple[python_type]
    msg = f"no Spark type for field {field!r} of type {python_type!r}"
    raise TypeError(msg)


def event_schema() -> StructType:
    """The Spark ``StructType`` of ``Event``: same names, order and nullability."""
    from pyspark.sql import types as T

    hints = typing.get_type_hints(Event, include_extras=True)
    fields = []
    for name in Event.model_fields:
        # A field with a default is never null once validated: only `X | None` is.
        inner, nullable, constraints = _unwrap(hints[name])
        spark_type = _spark_type(inner, name, constraints)
        fields.append(T.StructField(name, spark_type, nullable=nullable))
    return T.StructType(fields)
