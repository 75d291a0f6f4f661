"""The Spark schema is derived from the pydantic model, field for field."""

from __future__ import annotations

from pyspark.sql import types as T

from app.events.contract import Event
from app.events.spark_schema import event_schema


def test_same_fields_in_the_same_order() -> None:
    assert [f.name for f in event_schema().fields] == list(Event.model_fields)


def test_types_and_nullability() -> None:
    fields = {f.name: f for f in event_schema().fields}
    assert fields["event_time"].dataType == T.TimestampType()
    assert not fields["event_time"].nullable
    assert fields["price"].dataType == T.DecimalType(12, 2)
    assert fields["price"].nullable
    assert fields["quantity"].dataType == T.IntegerType()
    assert not fields["quantity"].nullable  # defaulted, so never null once validated
    assert fields["event_type"].dataType == T.StringType()
    assert fields["session_id"].nullable
