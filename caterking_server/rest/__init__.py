"""PostgREST-compatible `/rest/v1` of the kitchen server (docs/kitchen-server.md)."""

from caterking_server.rest.routes import RestService

__all__ = ["RestService"]
