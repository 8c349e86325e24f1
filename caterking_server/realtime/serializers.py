"""Phoenix wire formats (docs/kitchen-server.md, "Realtime").

vsn 1.0.0: JSON objects `{"topic","event","payload","ref"}` out, with `join_ref` in.
vsn 2.0.0: JSON arrays `[join_ref, ref, topic, event, payload]`, plus binary frames for
user broadcasts: kind 3 (client push) in, kind 4 (server relay) out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

V1 = "1.0.0"
V2 = "2.0.0"

KIND_USER_BROADCAST_PUSH = 3
KIND_USER_BROADCAST = 4
ENCODING_BINARY = 0
ENCODING_JSON = 1


class FrameError(ValueError):
    """A frame that does not decode to a Phoenix message."""


@dataclass(slots=True)
class Message:
    topic: str
    event: str
    payload: Any
    ref: str | None = None
    join_ref: str | None = None
    # Binary user broadcast (v2): the raw payload bytes and their encoding byte.
    binary: bytes | None = None
    encoding: int = ENCODING_JSON
    # Pre-serialised JSON of `payload` (fan-out: serialise once, send to many).
    payload_json: str | None = None


def _ref(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise FrameError("ref must be a string or null")


def _check(topic: Any, event: Any) -> tuple[str, str]:
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("topic and event must be strings")
    return topic, event


def loads(data: str | bytes) -> Any:
    """json.loads, with nesting too deep for the parser reported as bad JSON (ValueError)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def decode_text(data: str, vsn: str) -> Message:
    try:
        raw = loads(data)
    except ValueError as exc:
        raise FrameError(f"invalid JSON: {exc}") from exc
    if vsn == V2:
        if not isinstance(raw, list) or len(raw) != 5:
            raise FrameError("expected [join_ref, ref, topic, event, payload]")
        join_ref, ref, topic, event, payload = raw
    else:
        if not isinstance(raw, dict):
            raise FrameError("expected a JSON object")
        join_ref, ref = raw.get("join_ref"), raw.get("ref")
        topic, event, payload = raw.get("topic"), raw.get("event"), raw.get("payload")
    topic, event = _check(topic, event)
    return Message(topic, event, payload, _ref(ref), _ref(join_ref))


def decode_binary(data: bytes) -> Message:
    """A v2 binary frame: only kind 3 (user broadcast push) is accepted from clients."""
    if len(data) < 7 or data[0] != KIND_USER_BROADCAST_PUSH:
        raise FrameError("unsupported binary frame")
    lens = data[1:6]
    encoding = data[6]
    pos = 7
    parts: list[str] = []
    try:
        for n in lens:
            parts.append(data[pos : pos + n].decode())
            pos += n
    except UnicodeDecodeError as exc:
        raise FrameError("binary frame header is not UTF-8") from exc
    if pos > len(data):
        raise FrameError("truncated binary frame")
    join_ref, ref, topic, user_event, meta = parts
    body = bytes(data[pos:])
    payload: Any = None
    if encoding == ENCODING_JSON:
        try:
            payload = loads(body) if body else {}
        except ValueError as exc:
            raise FrameError("binary broadcast payload is not JSON") from exc
    elif encoding != ENCODING_BINARY:
        raise FrameError("unknown payload encoding")
    outer: dict[str, Any] = {"type": "broadcast", "event": user_event, "payload": payload}
    if meta:
        try:
            outer["meta"] = loads(meta)
        except ValueError:
            pass
    msg = Message(
        topic,
        "broadcast",
        outer,
        ref or None,
        join_ref or None,
        binary=body,
        encoding=encoding,
    )
    return msg


class Binary(bytes):
    """An encoded binary frame (v2 user broadcast). Plain `bytes` are text frames
    (UTF-8 JSON): frames are queued as bytes, so one encoding serves every socket."""


def frame_bytes(msg: Message, vsn: str) -> bytes:
    """`msg` as the bytes of one WebSocket frame (Binary for a binary frame)."""
    out = encode(msg, vsn)
    return Binary(out) if isinstance(out, bytes) else out.encode()


def encode(msg: Message, vsn: str) -> str | bytes:
    if msg.payload_json is not None:
        return _encode_spliced(msg, vsn)
    if vsn == V2:
        if msg.binary is not None:
            return encode_user_broadcast(msg)
        return json.dumps(
            [msg.join_ref, msg.ref, msg.topic, msg.event, msg.payload], separators=(",", ":")
        )
    return json.dumps(
        {"topic": msg.topic, "event": msg.event, "payload": msg.payload, "ref": msg.ref},
        separators=(",", ":"),
    )


def _encode_spliced(msg: Message, vsn: str) -> str:
    topic = json.dumps(msg.topic)
    event = json.dumps(msg.event)
    if vsn == V2:
        refs = f"{json.dumps(msg.join_ref)},{json.dumps(msg.ref)}"
        return f"[{refs},{topic},{event},{msg.payload_json}]"
    ref = json.dumps(msg.ref)
    return f'{{"topic":{topic},"event":{event},"payload":{msg.payload_json},"ref":{ref}}}'


def encode_user_broadcast(msg: Message) -> bytes:
    """Kind 4: [4, len(topic), len(event), len(meta), encoding, topic, event, meta, payload]."""
    assert msg.binary is not None
    topic = msg.topic.encode()
    user_event = (
        str(msg.payload.get("event", "")).encode() if isinstance(msg.payload, dict) else b""
    )
    # Metadata (hosted: {"id": …} on a broadcast from the database) as compact JSON.
    meta_obj = msg.payload.get("meta") if isinstance(msg.payload, dict) else None
    meta = json.dumps(meta_obj, separators=(",", ":")).encode() if meta_obj else b""
    if len(topic) > 255 or len(user_event) > 255 or len(meta) > 255:
        raise FrameError("topic, event or metadata too long for a binary frame")
    header = bytes([KIND_USER_BROADCAST, len(topic), len(user_event), len(meta), msg.encoding])
    return header + topic + user_event + meta + msg.binary


def reply(topic: str, ref: str | None, join_ref: str | None, status: str, response: Any) -> Message:
    return Message(topic, "phx_reply", {"status": status, "response": response}, ref, join_ref)
