"""The operator's output: one wide table whose rows are of several kinds.

Spark's ``transformWithStateInPandas`` returns one schema, and the sinks need
minute documents, closed sessions, archived events, late events and rejected
records from the same batch. Each kind fills its own columns and leaves the
others null; :mod:`app.pipeline.sinks` splits them by ``kind``.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import types as T

from app.events.spark_schema import event_schema

_MINUTE_FIELDS = [
    T.StructField("minute", T.TimestampType()),
    *[
        T.StructField(name, T.LongType())
        for name in (
            "page_views",
            "add_to_carts",
            "purchases",
            "remove_from_carts",
            "events",
            "revenue_cents",
            "sessions",
            "late_dropped",
            "deadlettered",
        )
    ],
    T.StructField("final", T.BooleanType()),
    # True in the one batch where the minute became final (it is archived then).
    T.StructField("closing", T.BooleanType()),
    T.StructField("watermark", T.TimestampType()),
]
#: The columns of a minute row, as stored (``closing`` only steers the archive).
MINUTE_COLUMNS = tuple(f.name for f in _MINUTE_FIELDS if f.name != "closing")
# Sessions share user_id and the count columns above; `sid` is the server session id
# (the event's own `session_id` is the client's).
_SESSION = [
    T.StructField("sid", T.StringType()),
    T.StructField("start", T.TimestampType()),
    T.StructField("end", T.TimestampType()),
    T.StructField("duration_s", T.DoubleType()),
    T.StructField("converted", T.BooleanType()),
]
_POSITION = [
    T.StructField("partition", T.IntegerType()),
    T.StructField("offset", T.LongType()),
    T.StructField("publish_time", T.TimestampType()),
]
_REJECT = [
    T.StructField("raw", T.BinaryType()),
    T.StructField("reason", T.StringType()),
    T.StructField("message", T.StringType()),
]

OUTPUT = T.StructType(
    [
        T.StructField("kind", T.StringType(), nullable=False),
        *_MINUTE_FIELDS,
        *_SESSION,
        *[T.StructField(f.name, f.dataType) for f in event_schema().fields],
        *_POSITION,
        *_REJECT,
    ]
)

_PANDAS_DTYPES: dict[type[T.DataType], str] = {
    T.LongType: "Int64",
    T.IntegerType: "Int32",
    T.BooleanType: "boolean",
    T.DoubleType: "float64",
}


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column of :data:`OUTPUT`, in order, nulls where a kind has none.

    Integer and boolean columns use pandas' nullable dtypes so a null stays a
    null on the way to Arrow (a float NaN would not convert to a long).
    """
    out = frame.reindex(columns=[f.name for f in OUTPUT.fields])
    for f in OUTPUT.fields:
        column = out[f.name]
        if isinstance(f.dataType, T.TimestampType):
            out[f.name] = pd.to_datetime(column, utc=True)
        elif type(f.dataType) in _PANDAS_DTYPES:
            out[f.name] = column.astype(_PANDAS_DTYPES[type(f.dataType)])
        else:
            out[f.name] = column.astype(object).where(column.notna(), None)
    return out
