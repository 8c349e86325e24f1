-- Migration 0005: displays stay in their kitchen, and say honestly which device acted.
--
-- 1. Kitchen scope. A display (`app_metadata.device_kind = display`) reads kitchens,
--    staff, tasks and the ledger of the kitchen in its JWT's `app_metadata.kitchen_id`
--    only, and the four actions treat a task of another kitchen as unknown. Other
--    signed-in users of the tenant (Admin) keep tenant-wide access.
-- 2. Devices. An action by a signed-in user records the device of its account
--    (`app_metadata.device_name`, else the local part of its email), at most 64
--    characters without control characters, never the free-text `p_device` (which any
--    display could set to another device's name, or to megabytes of text every board
--    then fetches). `p_device` stays in the signatures so old callers keep working;
--    only service_role's is used. Stored names are bounded by check constraints.
-- 3. Private kitchen topics: a topic shaped like a kitchen's but not a UUID is refused
--    instead of raising a cast error.
--
-- The acted-at rules of 0003 are unchanged. Rules: docs/database-contract.md.
-- Runs unchanged on a hosted Supabase project and on the local stack.

-- Claims ------------------------------------------------------------------------------

create or replace function caterking_private.current_kitchen() returns uuid
language sql stable set search_path = pg_catalog, pg_temp
as $$ select caterking_private.claim_uuid('kitchen_id') $$;

-- The device of the signed-in caller's account: app_metadata.device_name if it is
-- text, else the local part of the email; trimmed, control characters removed, at most
-- 64 characters; NULL if there is none.
create or replace function caterking_private.clean_device(p_name text) returns text
language sql immutable set search_path = pg_catalog, pg_temp
as $$ select nullif(left(btrim(regexp_replace(p_name, '[[:cntrl:]]', '', 'g')), 64), '') $$;

create or replace function caterking_private.caller_device() returns text
language plpgsql stable set search_path = pg_catalog, pg_temp
as $$
declare
  v_claims jsonb := auth.jwt();
  v_name text;
begin
  if jsonb_typeof(v_claims -> 'app_metadata' -> 'device_name') = 'string' then
    v_name := caterking_private.clean_device(v_claims -> 'app_metadata' ->> 'device_name');
  end if;
  if v_name is null and jsonb_typeof(v_claims -> 'email') = 'string' then
    v_name := caterking_private.clean_device(split_part(v_claims ->> 'email', '@', 1));
  end if;
  return v_name;
end
$$;

revoke all on function caterking_private.current_kitchen(), caterking_private.clean_device(text),
  caterking_private.caller_device() from public;
grant execute on function caterking_private.current_kitchen(), caterking_private.clean_device(text),
  caterking_private.caller_device() to anon, authenticated, service_role;

-- Read policies: a display's kitchen only ---------------------------------------------
-- The claim lookups stay wrapped in (select ...) so they run once per statement.

drop policy kitchens_read on public.kitchens;
create policy kitchens_read on public.kitchens for select to authenticated
  using (tenant_id = (select caterking_private.current_tenant())
         and (not (select caterking_private.is_display())
              or id = (select caterking_private.current_kitchen())));

drop policy staff_read on public.staff;
create policy staff_read on public.staff for select to authenticated
  using (tenant_id = (select caterking_private.current_tenant())
         and (not (select caterking_private.is_display())
              or kitchen_id = (select caterking_private.current_kitchen())));

drop policy tasks_read on public.tasks;
create policy tasks_read on public.tasks for select to authenticated
  using (tenant_id = (select caterking_private.current_tenant())
         and (not (select caterking_private.is_display())
              or kitchen_id = (select caterking_private.current_kitchen())));

drop policy task_ops_read on public.task_ops;
create policy task_ops_read on public.task_ops for select to authenticated
  using (exists (select 1 from public.tasks t
                 where t.id = task_ops.task_id
                   and t.tenant_id = (select caterking_private.current_tenant())
                   and (not (select caterking_private.is_display())
                        or t.kitchen_id = (select caterking_private.current_kitchen()))));

-- Stored device names: bounded -----------------------------------------------------------
-- Rows written before this migration may hold anything; cut them to the bound first.
-- RLS is forced on both tables (even for their owner), so lift it for the fix only.

alter table public.tasks no force row level security;
update public.tasks set claimed_device = caterking_private.clean_device(claimed_device)
  where char_length(claimed_device) > 64;
alter table public.tasks force row level security;
alter table public.tasks add constraint tasks_claimed_device_length
  check (char_length(claimed_device) <= 64);

alter table public.task_ops no force row level security;
update public.task_ops set device = caterking_private.clean_device(device)
  where char_length(device) > 64;
alter table public.task_ops force row level security;
alter table public.task_ops add constraint task_ops_device_length
  check (char_length(device) <= 64);

-- Task actions: same signature, same acted-at rules (0003), kitchen scope, honest device --

create or replace function caterking_private.task_action(
  p_action text, p_task_id uuid, p_staff_id uuid, p_op_id uuid, p_device text,
  p_acted_at timestamptz default null
) returns jsonb
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_role text := coalesce(auth.jwt() ->> 'role', 'anon');
  v_tenant uuid := caterking_private.current_tenant();
  v_display boolean := caterking_private.is_display();
  v_kitchen uuid := caterking_private.current_kitchen();
  v_device text;
  v_now timestamptz := now();
  t public.tasks%rowtype;
  s public.staff%rowtype;
  prior public.task_ops%rowtype;
  v_outcome text;
  v_reason text;
  v_acted timestamptz;
  v_too_old boolean := false;
  v_last_acted timestamptz;
begin
  if v_role not in ('authenticated', 'service_role') then
    raise exception 'permission denied for task actions' using errcode = '42501';
  end if;
  if p_task_id is null or p_staff_id is null or p_op_id is null then
    return jsonb_build_object('outcome', 'rejected', 'task', null, 'reason', 'missing_argument');
  end if;
  if v_role <> 'service_role' and v_tenant is null then
    return jsonb_build_object('outcome', 'rejected', 'task', null, 'reason', 'no_tenant');
  end if;
  -- Which device acted: the caller's account says; only service_role may name one.
  if v_role = 'service_role' then
    v_device := caterking_private.clean_device(p_device);
  else
    v_device := caterking_private.caller_device();
  end if;

  -- The row lock serialises concurrent actions on one task. A task of another tenant,
  -- or (for a display) of another kitchen, is unknown: the caller learns nothing.
  select * into t from public.tasks where id = p_task_id for update;
  if not found or (v_role <> 'service_role' and (t.tenant_id <> v_tenant
      or (v_display and t.kitchen_id is distinct from v_kitchen))) then
    return jsonb_build_object('outcome', 'rejected', 'task', null, 'reason', 'unknown_task');
  end if;

  -- Idempotency: an op id seen before changes nothing, whatever happened since (so a
  -- replay keeps the first call's acted time, whatever p_acted_at it carries).
  select * into prior from public.task_ops where op_id = p_op_id;
  if found then
    if prior.task_id <> p_task_id then
      return jsonb_build_object('outcome', 'rejected', 'task', null, 'reason', 'op_id_reused');
    end if;
    return jsonb_build_object('outcome', 'duplicate', 'task', to_jsonb(t),
                              'reason', 'already_' || prior.outcome);
  end if;

  select * into s from public.staff where id = p_staff_id;
  if not found or s.tenant_id <> t.tenant_id then
    return jsonb_build_object('outcome', 'rejected', 'task', to_jsonb(t), 'reason', 'unknown_staff');
  end if;
  if s.kitchen_id <> t.kitchen_id then
    return jsonb_build_object('outcome', 'rejected', 'task', to_jsonb(t), 'reason', 'wrong_kitchen');
  end if;
  if not s.active then
    return jsonb_build_object('outcome', 'rejected', 'task', to_jsonb(t), 'reason', 'inactive_staff');
  end if;

  -- When the chef acted: the caller's time, never in the future, never more than 24 h
  -- old (a device clock that far off is wrong: use the arrival time and say so), and
  -- never before the task's previous state change, so events keep their order.
  v_acted := coalesce(p_acted_at, v_now);
  if v_acted < v_now - interval '24 hours' then
    v_acted := v_now;
    v_too_old := true;
  elsif v_acted > v_now then
    v_acted := v_now;
  end if;
  select max(o.acted_at) into v_last_acted
    from public.task_ops o where o.task_id = p_task_id and o.outcome = 'applied';
  -- greatest() skips NULLs. If the previous change is itself later than now() (a
  -- concurrent call that began later but locked first), the order of events wins.
  v_acted := greatest(v_acted, t.created_at, t.claimed_at, t.completed_at, v_last_acted);

  if p_action = 'claim' then
    if t.status = 'pending' then
      update public.tasks set status = 'claimed', claimed_by = p_staff_id, claimed_at = v_acted,
        claimed_device = v_device
        where id = p_task_id returning * into t;
      v_outcome := 'applied';
    elsif t.status = 'claimed' and t.claimed_by = p_staff_id then
      v_outcome := 'duplicate'; v_reason := 'already_claimed';
    elsif t.status = 'claimed' then
      v_outcome := 'conflict'; v_reason := 'claimed_by_other';
    elsif t.status = 'done' then
      v_outcome := 'conflict'; v_reason := 'done';
    else
      v_outcome := 'conflict'; v_reason := 'cancelled';
    end if;
  elsif p_action = 'release' then
    if t.status = 'claimed' and t.claimed_by = p_staff_id then
      update public.tasks set status = 'pending', claimed_by = null, claimed_at = null,
        claimed_device = null
        where id = p_task_id returning * into t;
      v_outcome := 'applied';
    elsif t.status = 'claimed' then
      v_outcome := 'conflict'; v_reason := 'claimed_by_other';
    else
      v_outcome := 'conflict'; v_reason := 'not_claimed';
    end if;
  elsif p_action = 'complete' then
    if t.status = 'pending' or (t.status = 'claimed' and t.claimed_by = p_staff_id) then
      -- From pending: claimed and completed in the same moment.
      update public.tasks set status = 'done', completed_by = p_staff_id, completed_at = v_acted,
        claimed_by = coalesce(claimed_by, p_staff_id), claimed_at = coalesce(claimed_at, v_acted),
        claimed_device = coalesce(claimed_device, v_device)
        where id = p_task_id returning * into t;
      v_outcome := 'applied';
    elsif t.status = 'done' and t.completed_by = p_staff_id then
      v_outcome := 'duplicate'; v_reason := 'already_done';
    elsif t.status = 'claimed' then
      v_outcome := 'conflict'; v_reason := 'claimed_by_other';
    elsif t.status = 'done' then
      v_outcome := 'conflict'; v_reason := 'done_by_other';
    else
      v_outcome := 'conflict'; v_reason := 'cancelled';
    end if;
  elsif p_action = 'reopen' then
    if t.status = 'done' then
      update public.tasks set status = 'pending', claimed_by = null, claimed_at = null,
        claimed_device = null, completed_by = null, completed_at = null
        where id = p_task_id returning * into t;
      v_outcome := 'applied';
    else
      v_outcome := 'conflict'; v_reason := 'not_done';
    end if;
  else
    raise exception 'unknown task action %', p_action using errcode = '22023';
  end if;

  if v_outcome = 'applied' and v_too_old then
    v_reason := 'acted_at_too_old';
  end if;
  insert into public.task_ops (op_id, task_id, action, staff_id, device, outcome,
                               acted_at, received_at, created_at)
    values (p_op_id, p_task_id, p_action, p_staff_id, v_device, v_outcome,
            v_acted, v_now, v_now);
  return jsonb_build_object('outcome', v_outcome, 'task', to_jsonb(t), 'reason', v_reason);
end
$$;
-- create or replace keeps the function's grants (0003: authenticated, service_role).

-- Private Realtime topics: a kitchen's id must be a UUID ---------------------------------

create or replace function caterking_private.may_use_kitchen_topic(p_topic text) returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_kitchen uuid;
  v_tenant uuid := caterking_private.current_tenant();
begin
  if p_topic is null or v_tenant is null or p_topic !~
      '^kitchen:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(:.*)?$'
  then
    return false;
  end if;
  v_kitchen := substr(p_topic, 9, 36)::uuid;
  if caterking_private.is_display() and v_kitchen is distinct from caterking_private.current_kitchen() then
    return false;
  end if;
  return exists (select 1 from public.kitchens k where k.id = v_kitchen and k.tenant_id = v_tenant);
end
$$;

-- PostgREST caches function signatures: have it reload them (sent on commit).
notify pgrst, 'reload schema';
