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

from app.events.contract import PRICE_TEXT_PATTERN, TIMESTAMP_PATTERN, EventType
from app.events.rejects import MAX_FUTURE, Reason

_NUMBER = r"^(BIGINT|DECIMAL.*|DOUBLE|FLOAT|INT|SMALLINT|TINYINT)$"
_INTEGER = r"^(BIGINT|INT|SMALLINT|TINYINT)$"


def _raw(v: Column, field: str) -> Column:
    return F.variant_get(v, f"$.{field}", "variant")


def _kind(v: Column, field: str) -> Column:
    """``NULL`` when absent, ``VOID`` for JSON null, else the JSON value's type."""
    return F.schema_of_variant(_raw(v, field))


def _text(v: Column, field: str) -> Column:
    """The field as stripped text (pydantic strips whitespace on every string)."""
    return F.regexp_replace(F.try_variant_get(v, f"$.{field}", "string"), r"(?U)^\s+|\s+$", "")


def _bad_text(v: Column, field: str, max_len: int, required: bool) -> Column:
    kind, text = _kind(v, field), _text(v, field)
    too_short = F.length(text) < 1 if required else F.lit(False)
    wrong = (kind != "STRING") & ~((kind == "VOID") & F.lit(not required))
    return wrong | ((kind == "STRING") & (too_short | (F.length(text) > max_len)))


def _timestamp(v: Column, field: str) -> Column:
    text = F.try_variant_get(v, f"$.{field}", "string")
    ok = (_kind(v, field) == "STRING") & text.rlike(TIMESTAMP_PATTERN)
    return F.when(ok, F.try_to_timestamp(F.regexp_replace(text, " ", "T")))


def _price(v: Column) -> Column:
    """The price as DECIMAL(12,2) when its JSON form is acceptable, else null."""
    kind = _kind(v, "price")
    text = F.try_variant_get(v, "$.price", "string")
    ok = kind.rlike(_NUMBER) | ((kind == "STRING") & text.rlike(PRICE_TEXT_PATTERN))
    return F.when(ok, text.try_cast("decimal(38,10)"))


def _checks(v: Column, now: Column) -> list[tuple[Column, Reason]]:
    """(failure condition, reason) in the order pydantic reports them."""
    missing = {
        f: _kind(v, f).isNull()
        for f in ("event_id", "event_time", "event_type", "user_id", "product_id")
    }
    event_time = _timestamp(v, "event_time")
    price, price_kind = _price(v), _kind(v, "price")
    price_present = price_kind.isNotNull() & (price_kind != "VOID")
    quantity_kind, version_kind = _kind(v, "quantity"), _kind(v, "schema_version")
    quantity = F.try_variant_get(v, "$.quantity", "bigint")
    version = F.try_variant_get(v, "$.schema_version", "bigint")
    currency_kind, source_kind, ingest_kind = (
        _kind(v, "currency"),
        _kind(v, "source"),
        _kind(v, "ingest_ts"),
    )
    event_type = F.try_variant_get(v, "$.event_type", "string")
    checks: list[tuple[Column, Reason]] = [
        (missing["event_id"], Reason.MISSING_FIELD),
        (_bad_text(v, "event_id", 128, True), Reason.BAD_FIELD),
        (missing["event_time"], Reason.MISSING_FIELD),
        (event_time.isNull(), Reason.BAD_EVENT_TIME),
        (missing["event_type"], Reason.MISSING_FIELD),
        (
            ~((_kind(v, "event_type") == "STRING") & event_type.isin([t.value for t in EventType])),
            Reason.UNKNOWN_EVENT_TYPE,
        ),
        (missing["user_id"], Reason.MISSING_FIELD),
        (_bad_text(v, "user_id", 128, True), Reason.BAD_FIELD),
        (
            _bad_text(v, "session_id", 128, False) & _kind(v, "session_id").isNotNull(),
            Reason.BAD_FIELD,
        ),
        (missing["product_id"], Reason.MISSING_FIELD),
        (_bad_text(v, "product_id", 128, True), Reason.BAD_FIELD),
        (_bad_text(v, "category", 256, False) & _kind(v, "category").isNotNull(), Reason.BAD_FIELD),
        (_bad_text(v, "brand", 128, False) & _kind(v, "brand").isNotNull(), Reason.BAD_FIELD),
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
            & ~((currency_kind == "STRING") & _text(v, "currency").rlike("^[A-Z]{3}$")),
            Reason.BAD_FIELD,
        ),
        (
            source_kind.isNotNull()
            & ~((source_kind == "STRING") & (F.length(_text(v, "source")) <= 64)),
            Reason.BAD_FIELD,
        ),
        (
            ingest_kind.isNotNull() & (ingest_kind != "VOID") & _timestamp(v, "ingest_ts").isNull(),
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
    parsed = raw.withColumn("_json", F.try_parse_json(text))
    v = F.col("_json")
    staged = parsed.withColumn("reason", _reason(text, v, clock)).withColumn(
        # The event time whenever it parses, valid record or not: rejects are
        # attributed to its minute (else to their publish time's).
        "parsed_event_time",
        _timestamp(v, "event_time"),
    )
    valid = F.col("reason").isNull()

    def field(name: str, column: Column) -> Column:
        return F.when(valid, column).alias(name)

    return staged.select(
        "*",
        field("event_id", _text(v, "event_id")),
        field("event_time", F.col("parsed_event_time")),
        field("event_type", F.try_variant_get(v, "$.event_type", "string")),
        field("user_id", _text(v, "user_id")),
        field("session_id", _text(v, "session_id")),
        field("product_id", _text(v, "product_id")),
        field("category", _text(v, "category")),
        field("brand", _text(v, "brand")),
        field("price", _price(v).try_cast("decimal(12,2)")),
        field("quantity", F.coalesce(F.try_variant_get(v, "$.quantity", "int"), F.lit(1))),
        field("currency", F.coalesce(_text(v, "currency"), F.lit("USD"))),
        field("source", F.coalesce(_text(v, "source"), F.lit("unknown"))),
        field("ingest_ts", _timestamp(v, "ingest_ts")),
        field(
            "schema_version", F.coalesce(F.try_variant_get(v, "$.schema_version", "int"), F.lit(1))
        ),
    ).drop("_json")
