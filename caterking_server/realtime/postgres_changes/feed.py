"""postgres_changes as the rest of Realtime uses it: sockets subscribe and unsubscribe
their channels; the replication stream hands over batches of committed changes and
says when a table changed shape."""

from __future__ import annotations

from caterking_server.catalog import Catalog
from caterking_server.realtime.pgoutput import Change, Relation
from caterking_server.realtime.postgres_changes.bindings import (
    Binding,
    BindingError,
    validate_binding,
)
from caterking_server.realtime.postgres_changes.dispatch import Dispatcher
from caterking_server.realtime.postgres_changes.rls import RlsChecker
from caterking_server.realtime.postgres_changes.subscriptions import Subscriber, Subscriptions


class ChangeFeed:
    def __init__(
        self, catalog: Catalog, dsn: str, *, max_record_bytes: int, rls_connections: int = 2
    ) -> None:
        self.catalog = catalog
        self.subscriptions = Subscriptions()
        self.rls = RlsChecker(dsn, connections=rls_connections)
        self.dispatcher = Dispatcher(
            catalog, self.subscriptions, self.rls, max_record_bytes=max_record_bytes
        )

    def __len__(self) -> int:
        return len(self.subscriptions)

    async def subscribe(self, sub: Subscriber, bindings: list[Binding]) -> None:
        """Check `bindings` against the catalogue and make them `sub`'s subscriptions in
        place of any it had. BindingError: `sub` keeps none (a token refresh that fails
        here ends the old subscription)."""
        try:
            for b in bindings:
                await validate_binding(b, self.catalog)
        except BindingError:
            self.subscriptions.remove(sub)
            raise
        if not sub.alive:  # closed while the catalogue was read
            return
        self.subscriptions.remove(sub)
        self.subscriptions.add(sub, bindings)

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscriptions.remove(sub)

    async def dispatch(self, changes: list[Change]) -> None:
        """Deliver one batch of committed changes, in order."""
        await self.dispatcher.dispatch(changes)

    def relation_changed(self, rel: Relation) -> None:
        """A table changed shape: read the catalogue anew, re-create its RLS checks."""
        self.catalog.invalidate()
        self.rls.forget_functions()

    async def close(self) -> None:
        await self.rls.close()
