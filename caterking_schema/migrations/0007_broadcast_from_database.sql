-- Migration 0007: Broadcast from the database.
--
-- postgres_changes checks row-level security once per change for every distinct
-- subscriber, so its cost grows with the number of boards (issue 13). Supabase's answer
-- for large fan-outs is "Broadcast from Database": a trigger writes each change once into
-- realtime.messages with `realtime.send`, and Realtime relays it to the private channel
-- of that topic. Who may join the channel was decided once, at join, by the policies on
-- realtime.messages (0002, 0005): a display only its own kitchen's topic.
--
-- What is sent (docs/kitchen-server.md, "Broadcast from the database"):
--   topic   `kitchen:<kitchen_id>`, private; estimates (per tenant) go to every kitchen
--           of the tenant
--   event   the operation: 'INSERT', 'UPDATE' or 'DELETE'
--   payload {"operation", "schema", "table", "record", "old_record"} as
--           realtime.broadcast_changes builds it, trimmed to what the boards read:
--           record     = the new row without the columns no board reads (null on DELETE)
--           old_record = the key only ({"id", "kitchen_id"}; an estimate's
--                        {"tenant_id", "task_key", "station"}), null on INSERT
--           realtime.send adds "id" (the message's id) to the payload.
-- An UPDATE that changes nothing sends nothing. A task or chef moved to another kitchen
-- is an UPDATE on the new kitchen's topic and a DELETE (of the key) on the old one's.
-- A row too large for one broadcast (over 250,000 bytes of JSON; Realtime refuses
-- payloads over 256 KiB) is sent as its key and version with "truncated": true, so a
-- board knows to fetch it instead of never hearing of it.
--
-- `public.feed_probe(p_nonce)`: a display sends itself a probe ('caterking_probe',
-- {"nonce": …}) on its own kitchen's topic, to prove the whole path before it relies
-- on broadcasts. Runs unchanged on a hosted project (realtime.send is Supabase's own)
-- and on the local stack (the base provides it with the same semantics).

-- Sending -----------------------------------------------------------------------------

-- Send one change to one kitchen's private topic. `p_record` is the trimmed new row
-- (null for a DELETE), `p_old_key` the old row's key (null for an INSERT).
create or replace function caterking_private.broadcast_row(
  p_kitchen uuid, p_operation text, p_table text, p_record jsonb, p_old_key jsonb
) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_payload jsonb;
begin
  if p_kitchen is null then
    return;
  end if;
  v_payload := jsonb_build_object('operation', p_operation, 'schema', 'public',
                                  'table', p_table, 'record', p_record,
                                  'old_record', p_old_key);
  if p_record is not null and octet_length(v_payload::text) > 250000 then
    v_payload := jsonb_set(v_payload, '{record}',
      jsonb_strip_nulls(jsonb_build_object(
        'id', p_record -> 'id', 'tenant_id', p_record -> 'tenant_id',
        'kitchen_id', p_record -> 'kitchen_id', 'version', p_record -> 'version',
        'task_key', p_record -> 'task_key', 'station', p_record -> 'station')))
      || '{"truncated": true}'::jsonb;
  end if;
  perform realtime.send(v_payload, p_operation, 'kitchen:' || p_kitchen::text, true);
end
$$;

-- tasks and staff: one kitchen per row.
create or replace function caterking_private.broadcast_kitchen_row() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_record jsonb;
begin
  if tg_op = 'UPDATE' and new is not distinct from old then
    return null;  -- nothing changed: nothing to tell
  end if;
  if tg_op <> 'DELETE' then
    v_record := to_jsonb(new);
    if tg_table_name = 'staff' then
      v_record := v_record - 'created_at';  -- boards read id, tenant, kitchen, name, initials, active
    end if;
  end if;
  if tg_op = 'INSERT' then
    perform caterking_private.broadcast_row(new.kitchen_id, 'INSERT', tg_table_name, v_record, null);
  elsif tg_op = 'DELETE' then
    perform caterking_private.broadcast_row(old.kitchen_id, 'DELETE', tg_table_name, null,
      jsonb_build_object('id', old.id, 'kitchen_id', old.kitchen_id));
  else
    perform caterking_private.broadcast_row(new.kitchen_id, 'UPDATE', tg_table_name, v_record,
      jsonb_build_object('id', old.id, 'kitchen_id', old.kitchen_id));
    if new.kitchen_id is distinct from old.kitchen_id then
      -- Moved: for the old kitchen the row is gone.
      perform caterking_private.broadcast_row(old.kitchen_id, 'DELETE', tg_table_name, null,
        jsonb_build_object('id', old.id, 'kitchen_id', old.kitchen_id));
    end if;
  end if;
  return null;
end
$$;

-- prep_estimates: per tenant, so to every kitchen of the tenant.
create or replace function caterking_private.broadcast_estimate_row() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_record jsonb;
  v_old_key jsonb;
  v_kitchen uuid;
begin
  if tg_op = 'UPDATE' and new is not distinct from old then
    return null;
  end if;
  if tg_op <> 'DELETE' then
    v_record := to_jsonb(new) - 'updated_at';  -- no board reads it
  end if;
  if tg_op <> 'INSERT' then
    v_old_key := jsonb_build_object('tenant_id', old.tenant_id, 'task_key', old.task_key,
                                    'station', old.station);
  end if;
  if tg_op <> 'DELETE' then
    for v_kitchen in select k.id from public.kitchens k where k.tenant_id = new.tenant_id loop
      perform caterking_private.broadcast_row(v_kitchen, tg_op, 'prep_estimates', v_record, v_old_key);
    end loop;
  end if;
  if tg_op = 'DELETE' or new.tenant_id is distinct from old.tenant_id then
    for v_kitchen in select k.id from public.kitchens k where k.tenant_id = old.tenant_id loop
      perform caterking_private.broadcast_row(v_kitchen, 'DELETE', 'prep_estimates', null, v_old_key);
    end loop;
  end if;
  return null;
end
$$;

revoke all on function caterking_private.broadcast_row(uuid, text, text, jsonb, jsonb),
  caterking_private.broadcast_kitchen_row(), caterking_private.broadcast_estimate_row()
  from public, anon, authenticated, service_role;

create trigger tasks_broadcast after insert or update or delete on public.tasks
  for each row execute function caterking_private.broadcast_kitchen_row();
create trigger staff_broadcast after insert or update or delete on public.staff
  for each row execute function caterking_private.broadcast_kitchen_row();
create trigger prep_estimates_broadcast after insert or update or delete on public.prep_estimates
  for each row execute function caterking_private.broadcast_estimate_row();

-- The feed probe --------------------------------------------------------------------------

-- A display proves the whole path (database → realtime.messages → Realtime → its socket)
-- by sending itself a nonce on its own kitchen's topic. Displays only; the topic is
-- always the caller's own kitchen, so nothing reaches another kitchen or tenant.
create or replace function public.feed_probe(p_nonce text) returns jsonb
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid := caterking_private.current_tenant();
  v_kitchen uuid := caterking_private.current_kitchen();
  v_topic text;
begin
  if coalesce(auth.jwt() ->> 'role', 'anon') <> 'authenticated'
     or not caterking_private.is_display() or v_tenant is null or v_kitchen is null
     or not exists (select 1 from public.kitchens k
                    where k.id = v_kitchen and k.tenant_id = v_tenant) then
    raise exception 'feed_probe is for a signed-in display of a kitchen'
      using errcode = '42501';
  end if;
  if p_nonce is null or char_length(p_nonce) not between 1 and 64 then
    raise exception 'feed_probe: p_nonce must be 1 to 64 characters (got %)',
      coalesce(char_length(p_nonce)::text, 'null')
      using errcode = '22023';
  end if;
  v_topic := 'kitchen:' || v_kitchen::text;
  perform realtime.send(jsonb_build_object('nonce', p_nonce), 'caterking_probe', v_topic, true);
  return jsonb_build_object('topic', v_topic);
end
$$;
revoke all on function public.feed_probe(text) from public, anon, authenticated, service_role;
grant execute on function public.feed_probe(text) to authenticated;

-- PostgREST caches function signatures: have it reload them (sent on commit).
notify pgrst, 'reload schema';
