"""What the Pub/Sub binding and its Spark source share: URL, names, codecs, clients, errors.

Kept apart from :mod:`adapters.bus.pubsub` so that the Spark source (which
runs in Spark's Python workers) needs only this module and the client
library. See :mod:`adapters.bus.pubsub` for what the encodings mean.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from adapters.errors import ConfigurationError, MissingExtraError, TerminalError, TransientError
from adapters.ports import BusMessage
from adapters.urls import mask_url

try:
    from google.api_core import exceptions as gexc
    from google.api_core import retry as gretry
    from google.auth import exceptions as auth_exc
    from google.cloud import pubsub_v1
    from google.cloud.pubsub_v1.publisher import exceptions as pub_exc
    from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport
    from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport
except ModuleNotFoundError as e:  # pragma: no cover - depends on the install
    raise MissingExtraError("google-cloud-pubsub", "gcp") from e  # noqa: EM101

T = TypeVar("T")

__all__ = ["gexc", "pub_exc", "pubsub_v1"]  # re-exported: imported once, behind the extra

#: The topic label holding the logical partition count.
PARTITIONS_LABEL = "streamkit-partitions"
#: Prefix of an attribute value (or ordering key) holding base64 of bytes.
BINARY_MARK = "b64:"
#: Ack deadline of the job's subscription: short, so that what a crashed job had
#: in flight comes back soon; the Spark source extends it every few seconds.
JOB_ACK_DEADLINE_S = 10
#: The job's subscription delivers without ordering. The job needs no arrival
#: order (it orders by event time behind a watermark) and acknowledges only when
#: a batch commits: on an ordered subscription each user's next message would
#: wait for that, so a batch could hold at most one message per user, and a
#: backlog would drain a message per user per batch. Publishers still set the
#: ordering key (the user id) for any ordered subscriber.
JOB_ORDERED = False
#: Delivery attempts before a subscription dead-letter policy diverts a message.
#: Every restart of the job redelivers what it had in flight (one attempt each),
#: so a low limit would divert valid messages: at least 20, by default Pub/Sub's 100.
MIN_DELIVERY_ATTEMPTS, MAX_DELIVERY_ATTEMPTS = 20, 100
#: Query parameters of a ``pubsub://`` URL (the Spark source's included).
PARAMS = frozenset(
    {
        "endpoint",
        "subscription",
        "journal",
        "journal_keep",
        "dead_letter_topic",
        "max_delivery_attempts",
    }
)
ADMIN_TIMEOUT_S = 30.0
_ACK_CHUNK = 1000
_SECRETS = re.compile(r"key|secret|token|password|credential|auth", re.IGNORECASE)
_CHAIN = (
    "Pub/Sub credentials come only from Google's default chain "
    "(GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, "
    "workload identity); an emulator is reached with ?endpoint=host:port"
)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Errors a retry cannot cure; every other API error is transient.
_TERMINAL = (
    gexc.NotFound,
    gexc.AlreadyExists,
    gexc.PermissionDenied,
    gexc.Unauthenticated,
    gexc.InvalidArgument,
    gexc.FailedPrecondition,
    gexc.OutOfRange,
    gexc.MethodNotImplemented,
)
#: What the client library raises: API errors and credential errors.
CLIENT_ERRORS = (gexc.GoogleAPIError, auth_exc.GoogleAuthError)
#: Options of administration and acknowledgement calls: what a retry may cure
#: is retried, for at most 30 s in all (the client's defaults retry for minutes).
ADMIN: dict[str, Any] = {
    "retry": gretry.Retry(
        predicate=gretry.if_exception_type(
            gexc.ServiceUnavailable, gexc.Aborted, gexc.Unknown, gexc.InternalServerError
        ),
        initial=0.2,
        maximum=5.0,
        multiplier=2.0,
        timeout=ADMIN_TIMEOUT_S,
    ),
    "timeout": ADMIN_TIMEOUT_S,
}


@dataclass(frozen=True)
class PubSubTarget:
    """A parsed ``pubsub://`` URL."""

    project: str
    topic: str
    endpoint: str | None
    subscription: str
    options: Mapping[str, str]

    @property
    def topic_path(self) -> str:
        """``projects/<project>/topics/<topic>``."""
        return self.path("topics", self.topic)

    def path(self, kind: str, name: str) -> str:
        """``projects/<project>/<kind>/<name>`` (kind ``topics`` or ``subscriptions``)."""
        return f"projects/{self.project}/{kind}/{name}"

    @property
    def where(self) -> str:
        """Where the topic lives, for messages."""
        return f"Pub/Sub at {self.endpoint}" if self.endpoint else "Pub/Sub"


def parse_pubsub_url(url: str) -> PubSubTarget:
    """Split a ``pubsub://`` URL; refuse credentials, unknown parameters and bad names."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.username or parts.password or any(_SECRETS.search(k) for k in params):
        shown = f"pubsub://{parts.hostname or ''}{parts.path}"
        msg = f"the Pub/Sub URL {shown} carries a credential; {_CHAIN}"
        raise ConfigurationError(msg)
    project, topic = parts.netloc, unquote(parts.path.strip("/"))
    if parts.scheme != "pubsub" or not project or not topic or "/" in topic:
        msg = f"expected pubsub://<project>/<topic>[?endpoint=host:port], got {mask_url(url)!r}"
        raise ConfigurationError(msg)
    if unknown := sorted(params.keys() - PARAMS):
        msg = f"pubsub:// URL: unknown parameter(s) {unknown}; known: {sorted(PARAMS)}"
        raise ConfigurationError(msg)
    subscription = params.get("subscription") or subscription_for(topic, "pipeline")
    for what, name in (("topic", topic), ("subscription", subscription)):
        _check_name(what, name)
    endpoint = params.get("endpoint") or None
    if endpoint is not None and not re.fullmatch(r"[^/:@\s]+:\d{1,5}", endpoint):
        msg = f"pubsub:// URL: endpoint must be host:port, e.g. 127.0.0.1:8085, got {endpoint!r}"
        raise ConfigurationError(msg)
    target = PubSubTarget(project, topic, endpoint, subscription, params)
    dead_letter_policy(target)  # a bad dead-letter setting fails now, not at ensure()
    return target


def _check_name(what: str, name: str) -> None:
    if not _NAME.match(name) or name.lower().startswith("goog"):
        msg = (
            f"pubsub:// URL: {name!r} is not a valid {what} name (3-255 characters: letters, "
            "digits, - _ . ~ + %, starting with a letter, not with 'goog')"
        )
        raise ConfigurationError(msg)


def subscription_for(topic: str, group: str) -> str:
    """The subscription of consumer group ``group``: ``<topic>--<group>``, made a valid name."""
    clean = re.sub(r"[^A-Za-z0-9\-_.~+%]", "-", group)
    name = f"{topic}--{clean}"
    if clean != group or len(name) > 255:
        # Two groups that clean up alike must still get two subscriptions.
        name = f"{name[:240]}-{hashlib.sha256(group.encode()).hexdigest()[:12]}"
    return name


def dead_letter_policy(target: PubSubTarget) -> dict[str, Any] | None:
    """The job subscription's dead-letter policy, when ``dead_letter_topic`` is set."""
    topic = target.options.get("dead_letter_topic")
    raw = target.options.get("max_delivery_attempts")
    if not topic:
        if raw is not None:
            msg = "pubsub:// URL: max_delivery_attempts needs dead_letter_topic=<topic>"
            raise ConfigurationError(msg)
        return None
    _check_name("dead-letter topic", topic)
    attempts = int(raw) if raw and raw.isdigit() else MAX_DELIVERY_ATTEMPTS
    if raw and not raw.isdigit() or not MIN_DELIVERY_ATTEMPTS <= attempts <= MAX_DELIVERY_ATTEMPTS:
        msg = (
            f"pubsub:// URL: max_delivery_attempts={raw!r}: use {MIN_DELIVERY_ATTEMPTS}.."
            f"{MAX_DELIVERY_ATTEMPTS} (default {MAX_DELIVERY_ATTEMPTS}); every restart of the job "
            "redelivers what it had in flight, and a low limit would divert valid messages"
        )
        raise ConfigurationError(msg)
    return {"dead_letter_topic": target.path("topics", topic), "max_delivery_attempts": attempts}


def encode_attribute(value: bytes) -> str:
    """Attribute text standing for ``value``: itself when it is text, else ``b64:`` + base64.

    Text is UTF-8 without control characters (tab and line breaks aside) and
    not starting with the mark; anything else is binary.
    """
    try:
        text: str | None = value.decode()
    except UnicodeDecodeError:
        text = None
    if text is None or text.startswith(BINARY_MARK) or _CONTROL.search(text):
        return BINARY_MARK + base64.b64encode(value).decode()
    return text


def decode_attribute(text: str) -> bytes:
    """The bytes :func:`encode_attribute` stored as ``text``."""
    if text.startswith(BINARY_MARK):
        try:
            return base64.b64decode(text[len(BINARY_MARK) :], validate=True)
        except binascii.Error:
            pass  # another producer's plain text that merely starts like ours
    return text.encode()


def offset_of(message_id: str) -> int:
    """The message id as a number: its digits after a letter prefix, else a 63-bit hash."""
    digits = message_id.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if digits.isdigit() and int(digits) < 2**63:
        return int(digits)
    return int.from_bytes(hashlib.blake2b(message_id.encode(), digest_size=8).digest()) >> 1


def partition_of(key: bytes | None, message_id: str, partitions: int) -> int:
    """CRC32 of the key (of the message id when keyless) modulo the partition count."""
    return zlib.crc32(key if key else message_id.encode()) % max(partitions, 1)


def to_bus_message(received: Any, partitions: int) -> BusMessage:
    """A pulled ``ReceivedMessage`` as the port's message."""
    message = received.message
    key = decode_attribute(message.ordering_key) if message.ordering_key else None
    return BusMessage(
        value=bytes(message.data),
        key=key,
        partition=partition_of(key, message.message_id, partitions),
        offset=offset_of(message.message_id),
        publish_time_ms=int(message.publish_time.timestamp() * 1000),
        headers=tuple((k, decode_attribute(v)) for k, v in sorted(message.attributes.items())),
    )


def translate(e: Exception, what: str) -> TransientError | TerminalError:
    """A client-library error as the port's error; ``what`` says what failed."""
    if isinstance(e, auth_exc.DefaultCredentialsError):
        return ConfigurationError(f"{what}: no Google credentials found; {_CHAIN}")
    detail = getattr(e, "message", None) or str(e) or type(e).__name__
    if isinstance(e, _TERMINAL):
        return TerminalError(f"{what}: {detail}")
    return TransientError(f"{what}: {detail}")


def calling(what: str, call: Callable[[], T]) -> T:
    """``call()`` with every client error translated (``raise ... from``)."""
    try:
        return call()
    except CLIENT_ERRORS as e:
        raise translate(e, what) from e


def _insecure_channel(endpoint: str) -> Any:
    # grpc ships no type information; only the emulator path needs it directly.
    return importlib.import_module("grpc").insecure_channel(endpoint)


def publisher_client(target: PubSubTarget, **options: Any) -> Any:
    """A ``PublisherClient``: anonymous plain gRPC to ``endpoint`` when set, else Google's chain."""
    if target.endpoint:
        options["transport"] = PublisherGrpcTransport(channel=_insecure_channel(target.endpoint))
    return calling("Pub/Sub publisher client", lambda: pubsub_v1.PublisherClient(**options))


def subscriber_client(target: PubSubTarget) -> Any:
    """A ``SubscriberClient``, reached as :func:`publisher_client` says."""
    options: dict[str, Any] = {}
    if target.endpoint:
        options["transport"] = SubscriberGrpcTransport(channel=_insecure_channel(target.endpoint))
    return calling("Pub/Sub subscriber client", lambda: pubsub_v1.SubscriberClient(**options))


def set_deadline(subscriber: Any, path: str, ack_ids: list[str], seconds: int | None) -> None:
    """Acknowledge ``ack_ids`` (``seconds`` None), or set their deadline (0: give them back)."""
    for start in range(0, len(ack_ids), _ACK_CHUNK):
        chunk = ack_ids[start : start + _ACK_CHUNK]
        try:
            if seconds is None:
                subscriber.acknowledge(request={"subscription": path, "ack_ids": chunk}, **ADMIN)
            else:
                subscriber.modify_ack_deadline(
                    request={
                        "subscription": path,
                        "ack_ids": chunk,
                        "ack_deadline_seconds": seconds,
                    },
                    **ADMIN,
                )
        except CLIENT_ERRORS as e:
            what = "acknowledge" if seconds is None else "modify ack deadlines"
            raise translate(e, f"{what} on {path}") from e


def pull(subscriber: Any, path: str, max_messages: int, timeout_s: float) -> list[Any]:
    """One synchronous pull, waiting about ``timeout_s``; an empty list when nothing came.

    The server may hold an empty pull for a while (pstest: half a second); the
    call's own deadline is a second later, so that its answer, not a race
    between the two clocks, ends the wait.
    """
    try:
        response = subscriber.pull(
            request={"subscription": path, "max_messages": max_messages},
            timeout=max(timeout_s, 0.5) + 1.0,
            retry=None,
        )
    except gexc.DeadlineExceeded:
        return []
    except CLIENT_ERRORS as e:
        raise translate(e, f"pull from {path}") from e
    return list(response.received_messages)


def create_subscription(
    subscriber: Any,
    target: PubSubTarget,
    name: str,
    ack_deadline_s: int,
    *,
    ordered: bool = True,
    **extra: Any,
) -> None:
    """Create subscription ``name`` on the topic unless it exists.

    ``ordered``: deliver each ordering key's messages in publish order. Pub/Sub
    then holds a key's next message back until the one before is acknowledged,
    which suits the tools' readers but not the stream job (see JOB_ORDERED).
    """
    request = {
        "name": target.path("subscriptions", name),
        "topic": target.topic_path,
        "enable_message_ordering": ordered,
        "ack_deadline_seconds": ack_deadline_s,
        **{k: v for k, v in extra.items() if v is not None},
    }
    try:
        subscriber.create_subscription(request=request, **ADMIN)
    except gexc.AlreadyExists:
        pass
    except gexc.NotFound as e:
        msg = (
            f"cannot subscribe {name!r} to {target.topic!r} ({target.where}): the topic or the "
            "dead-letter topic does not exist; create them first (Bus.ensure, or the Pulumi stack)"
        )
        raise TerminalError(msg) from e
    except CLIENT_ERRORS as e:
        raise translate(e, f"could not create subscription {name!r}") from e
