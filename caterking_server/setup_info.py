"""`/kitchen/v1/setup`: how a display's first-run setup finds this kitchen server on
the LAN. It asks every address of its network for `GET :54321/kitchen/v1/setup`; the
answer is the base URL a display should use, the anon key and the server's name.

Public, without a key: the anon key is what every board is given anyway (as every web
app of a Supabase project embeds it). Nothing secret is in it: never the service role
key, the JWT secret or the database URL. Limited per client address like sign-ins.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import unicodedata
from typing import Any

from aiohttp import web

from caterking_server.ratelimit import RateLimiter

PER_IP = 30  # answers per client address per window (a scan asks once per server)
WINDOW_S = 300.0
MAX_NAME = 64
WILDCARDS = ("0.0.0.0", "::", "")


def server_name(name: str | None) -> str:
    """The name a display shows for this server: the one given, else the host's name;
    printable characters only, at most 64."""
    raw = name if name and name.strip() else socket.gethostname()
    clean = "".join(c for c in raw if unicodedata.category(c)[0] != "C").strip()
    return clean[:MAX_NAME] or "kitchen server"


def advertised_url(configured: str, listen_host: str, sockname: Any) -> str:
    """The base URL a display should use. Listening on one address, it is the server's
    own URL; listening on every address (`--host 0.0.0.0`), it is the address this
    request arrived at (the server's side of the connection, not a client's header)."""
    if listen_host not in WILDCARDS or not isinstance(sockname, tuple) or len(sockname) < 2:
        return configured
    host = str(sockname[0])
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return configured
    if ip.version == 6:
        mapped = ip.ipv4_mapped  # a dual-stack socket: an IPv4 client's address
        host = str(mapped) if mapped is not None else f"[{host}]"
    return f"http://{host}:{int(sockname[1])}"


class SetupInfo:
    def __init__(self, anon_key: str, name: str, listen_host: str, *, per_ip: int = PER_IP) -> None:
        self.anon_key = anon_key
        self.name = name
        self.listen_host = listen_host
        self.url = ""  # the server's URL, known once it listens
        self.limiter = RateLimiter(per_ip, WINDOW_S)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/setup", self.setup)
        return app

    async def setup(self, request: web.Request) -> web.Response:
        wait = self.limiter.take(request.remote or "?")
        if wait is not None:
            return web.json_response(
                {"code": "over_request_rate_limit", "message": "Request rate limit reached"},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        body = {
            "url": advertised_url(self.url, self.listen_host, sockname),
            "anon_key": self.anon_key,
            "name": self.name,
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})
