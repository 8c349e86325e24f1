"""postgres_changes: committed row changes to the channels that subscribed to them.

`bindings` (what a join asks for, checked against the catalogue), `filters` (the
`column=op.value` filter, typed), `subscriptions` (who is subscribed to what, indexed
by table and filter value), `rls` (which claims set may read which row, asked of
Postgres in one round trip), `values` and `payload` (a change as the JSON a client
gets), `dispatch` (a batch of changes → frames), and `feed` (all of it, as the sockets
and the replication stream use it)."""
