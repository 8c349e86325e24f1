"""Realtime's limits, in one place (docs/security.md, docs/kitchen-server.md). Hosted
Supabase allows 100 channels per connection and a broadcast payload of 256 KB (free
plan) to 3 MB; a board uses one channel with two bindings and sends announcements of a
few hundred bytes."""

from __future__ import annotations

from dataclasses import dataclass

MAX_IN_VALUES = 100  # values in one `in.(…)` postgres_changes filter
MAX_QUEUED_FRAMES = 10_000  # frames waiting for one socket, whatever their size
MAX_PRESENCE_BYTES = 16 * 1024  # presence metas are kept and sent to every later joiner:
MAX_PRESENCE_DEPTH = 32  # small and shallow only
CLOSE_GRACE_S = 5.0  # a close the client does not complete in this long is forced


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits a `RealtimeService` is started with (tests lower some of them)."""

    max_frame_bytes: int = 1 << 20  # one WebSocket frame (over it: close 1009)
    heartbeat_timeout_s: float = 60.0  # no Phoenix heartbeat for this long: closed
    max_record_bytes: int = 1 << 20  # a row over this becomes `Error 413` (as hosted)
    max_channels: int = 100  # per socket
    max_bindings: int = 100  # postgres_changes bindings per channel
    max_queued_bytes: int = 8 << 20  # frames waiting for one socket; over it, dropped
    max_message_bytes: int = 256 << 10  # one broadcast payload (WebSocket or REST)
    max_http_body_bytes: int = 1 << 20  # one REST broadcast request
