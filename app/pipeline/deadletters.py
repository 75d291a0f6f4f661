"""Dead-letter records built in Spark, byte-compatible with :mod:`app.events.rejects`.

The stream job writes rejected records to the dead-letter topic as the same
JSON document every other writer uses, with the same deterministic
``dead_letter_id`` (sha256 over the length-prefixed source, position and raw
bytes), so a batch re-run after a crash re-sends records that are
recognisably the ones already sent.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from app.events.rejects import REASON_TEXT

_PREVIEW_BYTES = 512


def _length_prefixed(data: Column) -> Column:
    """8-byte big-endian length, then the bytes (as ``dead_letter_id`` hashes them)."""
    return F.concat(F.unhex(F.lpad(F.hex(F.octet_length(data)), 16, "0")), data)


def dead_letter_id(source: Column, position: Column, raw: Column) -> Column:
    """The first 32 hex chars of sha256(len|source|len|position|len|raw)."""
    joined = F.concat(
        _length_prefixed(F.encode(source, "UTF-8")),
        _length_prefixed(F.encode(position, "UTF-8")),
        _length_prefixed(raw),
    )
    return F.substring(F.sha2(joined, 256), 1, 32)


def _message(reason: Column) -> Column:
    mapping = F.create_map(
        *[F.lit(x) for pair in REASON_TEXT.items() for x in (pair[0].value, pair[1])]
    )
    return F.coalesce(mapping[reason], reason)


def dead_letters(rejected: DataFrame, source: str, rejected_at: Column) -> DataFrame:
    """``(key, value)`` rows for the dead-letter topic from rejected bus records.

    ``rejected`` has the raw ``value`` (binary), ``partition``, ``offset`` and
    ``reason`` columns of :func:`app.pipeline.validate.parse_and_validate`.
    """
    position = F.concat_ws("/", F.col("partition").cast("string"), F.col("offset").cast("string"))
    letter_id = dead_letter_id(F.lit(source), position, F.col("value"))
    document = F.struct(
        letter_id.alias("dead_letter_id"),
        F.col("reason"),
        _message(F.col("reason")).alias("message"),
        # Spark may chunk base64 into 76-character MIME lines; the record holds one string.
        F.regexp_replace(F.base64(F.col("value")), r"[\r\n]", "").alias("raw_b64"),
        # Invalid UTF-8 becomes U+FFFD, as Python's errors="replace" does.
        F.make_valid_utf8(F.substring(F.col("value"), 1, _PREVIEW_BYTES).cast("string")).alias(
            "raw_preview"
        ),
        F.lit(source).alias("source"),
        position.alias("source_position"),
        F.date_format(rejected_at, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").alias("rejected_at"),
    )
    return rejected.select(
        letter_id.cast("binary").alias("key"),
        F.to_json(document).cast("binary").alias("value"),
    )
