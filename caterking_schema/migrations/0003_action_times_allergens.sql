-- Migration 0003: two facts the database recorded wrongly or not at all.
--
-- 1. When a chef acted. Every task action takes `p_acted_at` (default NULL, so callers
--    that send the four original named arguments keep working): the moment the chef
--    pressed the button, which may be long before the request arrives (a board that was
--    offline). The server stores it, clamped, as claimed_at / completed_at, and the
--    ledger keeps both times (acted_at, received_at). Rules: docs/database-contract.md.
-- 2. What a dish contains. tasks.allergens lists the 14 major allergens as short
--    lower-case words; anything else is refused.
--
-- Runs unchanged on a hosted Supabase project and on the local stack.

-- Allergens ----------------------------------------------------------------------------

-- The check behind tasks.allergens. It raises (instead of returning false) so a refused
-- write says which word was wrong and which words are allowed.
create or replace function caterking_private.allergens_valid(p_allergens text[])
returns boolean
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  known constant text[] := array['celery', 'gluten', 'crustaceans', 'eggs', 'fish', 'lupin',
    'milk', 'molluscs', 'mustard', 'nuts', 'peanuts', 'sesame', 'soya', 'sulphites'];
  w text;
begin
  if p_allergens is null or cardinality(p_allergens) = 0 then
    return true;  -- NULL is refused by the column's NOT NULL
  end if;
  if array_ndims(p_allergens) <> 1 then
    raise exception 'tasks.allergens must be a flat list of words'
      using errcode = '23514';
  end if;
  if cardinality(p_allergens) > 14 then
    raise exception 'tasks.allergens has % entries; at most 14 allergens exist',
      cardinality(p_allergens)
      using errcode = '23514';
  end if;
  foreach w in array p_allergens loop
    if w is null or not (w = any (known)) then
      raise exception 'tasks.allergens: unknown allergen %', coalesce(quote_literal(w), 'NULL')
        using errcode = '23514',
              hint = 'Use these lower-case words: ' || array_to_string(known, ', ') || '.';
    end if;
  end loop;
  return true;
end
$$;
revoke all on function caterking_private.allergens_valid(text[]) from public, anon;
grant execute on function caterking_private.allergens_valid(text[]) to authenticated, service_role;

alter table public.tasks
  add column allergens text[] not null default '{}'
    constraint tasks_allergens_known check (caterking_private.allergens_valid(allergens));
comment on column public.tasks.allergens is
  'Major allergens in the dish, lower-case words: celery, gluten, crustaceans, eggs, fish, '
  'lupin, milk, molluscs, mustard, nuts, peanuts, sesame, soya, sulphites.';
-- Grants, RLS, the realtime publication and the versioning trigger are per table (and
-- the trigger compares whole rows), so they cover the new column as they are.

-- Ledger times -------------------------------------------------------------------------

alter table public.task_ops
  add column acted_at timestamptz,
  add column received_at timestamptz;
-- Rows written before this migration: the only time known is their arrival. RLS is
-- forced on task_ops (even for its owner), so lift it for the backfill only.
alter table public.task_ops no force row level security;
update public.task_ops set acted_at = created_at, received_at = created_at;
alter table public.task_ops force row level security;
alter table public.task_ops
  alter column acted_at set default now(),
  alter column acted_at set not null,
  alter column received_at set default now(),
  alter column received_at set not null;
comment on column public.task_ops.acted_at is
  'When the chef acted (p_acted_at after the clamp rules; arrival time if not given).';
comment on column public.task_ops.received_at is
  'When the server handled the call (the transaction''s now()).';

-- Task actions: one implementation, five public arguments --------------------------------
-- The four-argument functions are dropped, not overloaded: PostgREST could not choose
-- between claim_task(4 args) and claim_task(4 args + a defaulted fifth) for an old call.

drop function public.claim_task(uuid, uuid, uuid, text);
drop function public.release_task(uuid, uuid, uuid, text);
drop function public.complete_task(uuid, uuid, uuid, text);
drop function public.reopen_task(uuid, uuid, uuid, text);
drop function caterking_private.task_action(text, uuid, uuid, uuid, text);

create function caterking_private.task_action(
  p_action text, p_task_id uuid, p_staff_id uuid, p_op_id uuid, p_device text,
  p_acted_at timestamptz default null
) returns jsonb
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_role text := coalesce(auth.jwt() ->> 'role', 'anon');
  v_tenant uuid := caterking_private.current_tenant();
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

  -- The row lock serialises concurrent actions on one task.
  select * into t from public.tasks where id = p_task_id for update;
  if not found or (v_role <> 'service_role' and t.tenant_id <> v_tenant) then
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
        claimed_device = p_device
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
        claimed_device = coalesce(claimed_device, p_device)
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
    values (p_op_id, p_task_id, p_action, p_staff_id, p_device, v_outcome,
            v_acted, v_now, v_now);
  return jsonb_build_object('outcome', v_outcome, 'task', to_jsonb(t), 'reason', v_reason);
end
$$;
revoke all on function caterking_private.task_action(text, uuid, uuid, uuid, text, timestamptz)
  from public, anon;
grant execute on function caterking_private.task_action(text, uuid, uuid, uuid, text, timestamptz)
  to authenticated, service_role;

create function public.claim_task(p_task_id uuid, p_staff_id uuid, p_op_id uuid,
  p_device text, p_acted_at timestamptz default null) returns jsonb
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select caterking_private.task_action('claim', p_task_id, p_staff_id, p_op_id, p_device,
                                           p_acted_at) $$;

create function public.release_task(p_task_id uuid, p_staff_id uuid, p_op_id uuid,
  p_device text, p_acted_at timestamptz default null) returns jsonb
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select caterking_private.task_action('release', p_task_id, p_staff_id, p_op_id, p_device,
                                           p_acted_at) $$;

create function public.complete_task(p_task_id uuid, p_staff_id uuid, p_op_id uuid,
  p_device text, p_acted_at timestamptz default null) returns jsonb
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select caterking_private.task_action('complete', p_task_id, p_staff_id, p_op_id, p_device,
                                           p_acted_at) $$;

create function public.reopen_task(p_task_id uuid, p_staff_id uuid, p_op_id uuid,
  p_device text, p_acted_at timestamptz default null) returns jsonb
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select caterking_private.task_action('reopen', p_task_id, p_staff_id, p_op_id, p_device,
                                           p_acted_at) $$;

revoke all on function
  public.claim_task(uuid, uuid, uuid, text, timestamptz),
  public.release_task(uuid, uuid, uuid, text, timestamptz),
  public.complete_task(uuid, uuid, uuid, text, timestamptz),
  public.reopen_task(uuid, uuid, uuid, text, timestamptz)
  from public, anon;
grant execute on function
  public.claim_task(uuid, uuid, uuid, text, timestamptz),
  public.release_task(uuid, uuid, uuid, text, timestamptz),
  public.complete_task(uuid, uuid, uuid, text, timestamptz),
  public.reopen_task(uuid, uuid, uuid, text, timestamptz)
  to authenticated, service_role;

-- PostgREST caches function signatures: have it reload them (sent on commit).
notify pgrst, 'reload schema';
