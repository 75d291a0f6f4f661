"""Parse and validate raw bus records in Spark SQL, with the contract's reason codes.

A pure ``DataFrame -> DataFrame`` transform (no I/O, no settings): the stream
job's first stage. It mirrors :func:`app.events.rejects.validate` rule for
rule, in the same order (fields in declaration order, first failure wins),
so a record gets the same verdict and reason in Spark as in Python;
``tests/integration/test_validate_parity.py`` holds the two to that.

Known difference: a JSON object with a duplicated key is ``not_json`` here
(Spark's parser refuses it) while Python keeps the last value.
"""

from __future__ import annotations

from datetime import timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from app.events.contract import PRICE_TEXT_PATTERN, TIMESTAMP_PATTERN, Event, EventType
from app.events.rejects import MAX_FUTURE, Reason

_NUMBER = r"^(BIGINT|DECIMAL.*|DOUBLE|FLOAT|INT|SMALLINT|TINYINT)$"
_INTEGER = r"^(BIGINT|INT|SMALLINT|TINYINT)$"
_FIELDS = tuple(Event.model_fields)  # the contract's fields, in its order
_TEXT_FIELDS = (
    "event_id",
    "user_id",
    "session_id",
    "product_id",
    "category",
    "brand",
    "currency",
    "source",
)

# Each field's JSON type and text are computed once per record, as columns of
# their own, and every rule reads those: written inline, Spark evaluated the
# same variant lookups and regexes dozens of times per record (5x slower).


def _kind(field: str) -> Column:
    """``NULL`` when absent, ``VOID`` for JSON null, else the JSON value's type."""
    return F.col(f"_k_{field}")


def _string(field: str) -> Column:
    """The field as a string (numbers in their JSON form), null when absent or an object."""
    return F.col(f"_s_{field}")


def _text(field: str) -> Column:
    """The field as stripped text (pydantic strips whitespace on every string)."""
    return F.col(f"_t_{field}")


def _stage_fields(parsed: DataFrame) -> DataFrame:
    v = F.col("_json")
    looked_up = parsed.withColumns(
        {f"_k_{f}": F.schema_of_variant(F.variant_get(v, f"$.{f}", "variant")) for f in _FIELDS}
        | {f"_s_{f}": F.try_variant_get(v, f"$.{f}", "string") for f in _FIELDS}
    )
    return looked_up.withColumns(
        {f"_t_{f}": F.regexp_replace(_string(f), r"(?U)^\s+|\s+$", "") for f in _TEXT_FIELDS}
        | {
            "_ts_event_time": _timestamp("event_time"),
            "_ts_ingest_ts": _timestamp("ingest_ts"),
            "_price": _price(),
        }
    )


def _bad_text(field: str, max_len: int, required: bool) -> Column:
    kind, text = _kind(field), _text(field)
    too_short = F.length(text) < 1 if required else F.lit(False)
    wrong = (kind != "STRING") & ~((kind == "VOID") & F.lit(not required))
    return wrong | ((kind == "STRING") & (too_short | (F.length(text) > max_len)))


def _timestamp(field: str) -> Column:
    text = _string(field)
    ok = (_kind(field) == "STRING") & text.rlike(TIMESTAMP_PATTERN)
    return F.when(ok, F.try_to_timestamp(F.regexp_replace(text, " ", "T")))


def _price() -> Column:
    """The price as DECIMAL(38,10) when its JSON form is acceptable, else null."""
    kind, text = _kind("price"), _string("price")
    ok = kind.rlike(_NUMBER) | ((kind == "STRING") & text.rlike(PRICE_TEXT_PATTERN))
    return F.when(ok, text.try_cast("decimal(38,10)"))


def _checks(v: Column, now: Column) -> list[tuple[Column, Reason]]:
    """(failure condition, reason) in the order pydantic reports them."""
    missing = {
        f: _kind(f).isNull()
        for f in ("event_id", "event_time", "event_type", "user_id", "product_id")
    }
    event_time = F.col("_ts_event_time")
    price, price_kind = F.col("_price"), _kind("price")
    price_present = price_kind.isNotNull() & (price_kind != "VOID")
    quantity_kind, version_kind = _kind("quantity"), _kind("schema_version")
    quantity = F.try_variant_get(v, "$.quantity", "bigint")
    version = F.try_variant_get(v, "$.schema_version", "bigint")
    currency_kind, source_kind, ingest_kind = _kind("currency"), _kind("source"), _kind("ingest_ts")
    event_type = _string("event_type")
    checks: list[tuple[Column, Reason]] = [
        (missing["event_id"], Reason.MISSING_FIELD),
        (_bad_text("event_id", 128, True), Reason.BAD_FIELD),
        (missing["event_time"], Reason.MISSING_FIELD),
        (event_time.isNull(), Reason.BAD_EVENT_TIME),
        (missing["event_type"], Reason.MISSING_FIELD),
        (
            ~((_kind("event_type") == "STRING") & event_type.isin([t.value for t in EventType])),
            Reason.UNKNOWN_EVENT_TYPE,
        ),
        (missing["user_id"], Reason.MISSING_FIELD),
        (_bad_text("user_id", 128, True), Reason.BAD_FIELD),
        (
            _bad_text("session_id", 128, False) & _kind("session_id").isNotNull(),
            Reason.BAD_FIELD,
        ),
        (missing["product_id"], Reason.MISSING_FIELD),
        (_bad_text("product_id", 128, True), Reason.BAD_FIELD),
        (_bad_text("category", 256, False) & _kind("category").isNotNull(), Reason.BAD_FIELD),
        (_bad_text("brand", 128, False) & _kind("brand").isNotNull(), Reason.BAD_FIELD),
        (price_present & price.isNull(), Reason.BAD_FIELD),
        (price_present & (price < 0), Reason.NEGATIVE_PRICE),
        (
            price_present
            & (
                (price.try_cast("decimal(12,2)") != price)
                | price.try_cast("decimal(12,2)").isNull()
            ),
            Reason.BAD_FIELD,
        ),
        (
            quantity_kind.isNotNull()
            & ~(quantity_kind.rlike(_INTEGER) & quantity.between(1, 10_000)),
            Reason.BAD_FIELD,
        ),
        (
            currency_kind.isNotNull()
            & ~((currency_kind == "STRING") & _text("currency").rlike("^[A-Z]{3}$")),
            Reason.BAD_FIELD,
        ),
        (
            source_kind.isNotNull()
            & ~((source_kind == "STRING") & (F.length(_text("source")) <= 64)),
            Reason.BAD_FIELD,
        ),
        (
            ingest_kind.isNotNull() & (ingest_kind != "VOID") & F.col("_ts_ingest_ts").isNull(),
            Reason.BAD_FIELD,
        ),
        (
            version_kind.isNotNull() & ~(version_kind.rlike(_INTEGER) & (version >= 1)),
            Reason.BAD_FIELD,
        ),
        ((event_type == EventType.PURCHASE.value) & ~price_present, Reason.PURCHASE_WITHOUT_PRICE),
        (
            event_time > now + F.expr(f"INTERVAL {int(MAX_FUTURE / timedelta(seconds=1))} SECONDS"),
            Reason.FUTURE_EVENT_TIME,
        ),
    ]
    return checks


def _reason(text: Column, v: Column, now: Column) -> Column:
    """The reason code a record (its text and parsed JSON) is rejected for, or null."""
    kind = F.schema_of_variant(v)
    first_failure = F.coalesce(
        *[F.when(cond, F.lit(reason.value)) for cond, reason in _checks(v, now)]
    )
    return (
        F.when(~F.is_valid_utf8(text) | v.isNull(), F.lit(Reason.NOT_JSON.value))
        .when(~kind.startswith("OBJECT"), F.lit(Reason.NOT_AN_OBJECT.value))
        .otherwise(first_failure)
    )


def parse_and_validate(raw: DataFrame, now: Column | None = None) -> DataFrame:
    """Raw records (a binary ``value`` column, any others) with a ``reason`` and the fields.

    Valid records get the contract's fields typed as the Spark schema of
    ``Event``; rejected ones get nulls there and their reason code. ``now``
    is the clock of the future-time rule (``current_timestamp()`` by default).
    """
    clock = F.current_timestamp() if now is None else now
    text = F.col("value").cast("string")
    # Parse each record once; the reason and every field read the parsed column.
    staged = _stage_fields(raw.withColumn("_json", F.try_parse_json(text)))
    v = F.col("_json")
    checked = staged.withColumn("reason", _reason(text, v, clock)).withColumn(
        # The event time whenever it parses, valid record or not: rejects are
        # attributed to its minute (else to their publish time's).
        "parsed_event_time",
        F.col("_ts_event_time"),
    )
    valid = F.col("reason").isNull()

    def field(name: str, column: Column) -> Column:
        return F.when(valid, column).alias(name)

    return checked.select(
        *raw.columns,
        "reason",
        "parsed_event_time",
        field("event_id", _text("event_id")),
        field("event_time", F.col("parsed_event_time")),
        field("event_type", _string("event_type")),
        field("user_id", _text("user_id")),
        field("session_id", _text("session_id")),
        field("product_id", _text("product_id")),
        field("category", _text("category")),
        field("brand", _text("brand")),
        field("price", F.col("_price").try_cast("decimal(12,2)")),
        field("quantity", F.coalesce(F.try_variant_get(v, "$.quantity", "int"), F.lit(1))),
        field("currency", F.coalesce(_text("currency"), F.lit("USD"))),
        field("source", F.coalesce(_text("source"), F.lit("unknown"))),
        field("ingest_ts", F.col("_ts_ingest_ts")),
        field(
            "schema_version", F.coalesce(F.try_variant_get(v, "$.schema_version", "int"), F.lit(1))
        ),
    )
