-- Schema v1: the contract shared with Admin and PrepChef (docs/database-contract.md).
-- Runs unchanged on a hosted Supabase project and on the local stack.

create schema if not exists caterking_private;
revoke all on schema caterking_private from public;
grant usage on schema caterking_private to anon, authenticated, service_role;

-- The caller's tenant / kitchen / device kind from the JWT's app_metadata.
-- NULL when missing or malformed, so RLS simply matches nothing.
create or replace function caterking_private.claim_uuid(p_key text) returns uuid
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v text := auth.jwt() -> 'app_metadata' ->> p_key;
begin
  if v is null or v !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' then
    return null;
  end if;
  return v::uuid;
end
$$;

create or replace function caterking_private.current_tenant() returns uuid
language sql stable set search_path = pg_catalog, pg_temp
as $$ select caterking_private.claim_uuid('tenant_id') $$;

create or replace function caterking_private.is_display() returns boolean
language sql stable set search_path = pg_catalog, pg_temp
as $$ select coalesce(auth.jwt() -> 'app_metadata' ->> 'device_kind', '') = 'display' $$;

revoke all on all functions in schema caterking_private from public;
grant execute on function caterking_private.claim_uuid(text), caterking_private.current_tenant(),
  caterking_private.is_display() to anon, authenticated, service_role;

-- Tables ---------------------------------------------------------------------

create table public.tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  created_at timestamptz not null default now()
);

create table public.kitchens (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references public.tenants (id),
  name text not null,
  timezone text not null default 'UTC',
  created_at timestamptz not null default now()
);
create index kitchens_tenant_id_idx on public.kitchens (tenant_id);

create table public.staff (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references public.tenants (id),
  kitchen_id uuid not null references public.kitchens (id),
  display_name text not null check (length(display_name) between 1 and 80),
  initials text not null check (length(initials) between 1 and 4),
  active boolean not null default true,
  created_at timestamptz not null default now()
);
create index staff_tenant_id_idx on public.staff (tenant_id);
create index staff_kitchen_id_idx on public.staff (kitchen_id);

create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references public.tenants (id),
  kitchen_id uuid not null references public.kitchens (id),
  title text not null check (length(title) between 1 and 200),
  quantity numeric null check (quantity is null or quantity >= 0),
  unit text null,
  station text not null default '',
  priority smallint not null default 0 check (priority in (0, 1, 2)),
  due_at timestamptz null,
  status text not null default 'pending'
    check (status in ('pending', 'claimed', 'done', 'cancelled')),
  claimed_by uuid null references public.staff (id),
  claimed_at timestamptz null,
  claimed_device text null,
  completed_by uuid null references public.staff (id),
  completed_at timestamptz null,
  notes text not null default '',
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (status <> 'claimed' or claimed_by is not null),
  check (status <> 'done' or completed_by is not null)
);
create index tasks_tenant_id_idx on public.tasks (tenant_id);
create index tasks_kitchen_status_idx on public.tasks (kitchen_id, status);
create index tasks_claimed_by_idx on public.tasks (claimed_by);
create index tasks_completed_by_idx on public.tasks (completed_by);
alter table public.tasks replica identity full;

create table public.task_ops (
  op_id uuid primary key,
  task_id uuid not null references public.tasks (id),
  action text not null check (action in ('claim', 'release', 'complete', 'reopen')),
  staff_id uuid not null references public.staff (id),
  device text,
  outcome text not null check (outcome in ('applied', 'duplicate', 'conflict')),
  created_at timestamptz not null default now()
);
create index task_ops_task_id_idx on public.task_ops (task_id);
create index task_ops_staff_id_idx on public.task_ops (staff_id);

create table public.prep_estimates (
  tenant_id uuid not null references public.tenants (id),
  task_key text not null,
  station text not null default '',
  p50_minutes numeric not null,
  p90_minutes numeric not null,
  samples integer not null default 0,
  updated_at timestamptz not null default now(),
  primary key (tenant_id, task_key, station)
);

-- version / updated_at: +1 on every real change, untouched otherwise ------------

create or replace function caterking_private.tasks_versioning() returns trigger
language plpgsql set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    new.version := 1;
    new.created_at := coalesce(new.created_at, now());
    new.updated_at := now();
    return new;
  end if;
  if (to_jsonb(new) - 'version' - 'updated_at') is distinct from
     (to_jsonb(old) - 'version' - 'updated_at') then
    new.version := old.version + 1;
    new.updated_at := greatest(now(), old.updated_at);
  else
    new.version := old.version;
    new.updated_at := old.updated_at;
  end if;
  return new;
end
$$;

create trigger tasks_versioning before insert or update on public.tasks
  for each row execute function caterking_private.tasks_versioning();

-- Row-level security: tenant-scoped, enabled and forced everywhere -------------
-- The claim lookup is wrapped in (select ...) so it runs once per statement.

alter table public.tenants enable row level security;
alter table public.tenants force row level security;
alter table public.kitchens enable row level security;
alter table public.kitchens force row level security;
alter table public.staff enable row level security;
alter table public.staff force row level security;
alter table public.tasks enable row level security;
alter table public.tasks force row level security;
alter table public.task_ops enable row level security;
alter table public.task_ops force row level security;
alter table public.prep_estimates enable row level security;
alter table public.prep_estimates force row level security;

create policy tenants_read on public.tenants for select to authenticated
  using (id = (select caterking_private.current_tenant()));

create policy kitchens_read on public.kitchens for select to authenticated
  using (tenant_id = (select caterking_private.current_tenant()));
create policy kitchens_write on public.kitchens for insert to authenticated
  with check (tenant_id = (select caterking_private.current_tenant())
              and not (select caterking_private.is_display()));
create policy kitchens_update on public.kitchens for update to authenticated
  using (tenant_id = (select caterking_private.current_tenant())
         and not (select caterking_private.is_display()))
  with check (tenant_id = (select caterking_private.current_tenant()));

create policy staff_read on public.staff for select to authenticated
  using (tenant_id = (select caterking_private.current_tenant()));
create policy staff_insert on public.staff for insert to authenticated
  with check (tenant_id = (select caterking_private.current_tenant())
              and not (select caterking_private.is_display()));
create policy staff_update on public.staff for update to authenticated
  using (tenant_id = (select caterking_private.current_tenant())
         and not (select caterking_private.is_display()))
  with check (tenant_id = (select caterking_private.current_tenant()));

-- Displays read tasks of their tenant; they change them only through the RPCs.
create policy tasks_read on public.tasks for select to authenticated
  using (tenant_id = (select caterking_private.current_tenant()));
create policy tasks_insert on public.tasks for insert to authenticated
  with check (tenant_id = (select caterking_private.current_tenant())
              and not (select caterking_private.is_display()));
create policy tasks_update on public.tasks for update to authenticated
  using (tenant_id = (select caterking_private.current_tenant())
         and not (select caterking_private.is_display()))
  with check (tenant_id = (select caterking_private.current_tenant()));

create policy task_ops_read on public.task_ops for select to authenticated
  using (exists (select 1 from public.tasks t
                 where t.id = task_ops.task_id
                   and t.tenant_id = (select caterking_private.current_tenant())));

create policy prep_estimates_read on public.prep_estimates for select to authenticated
  using (tenant_id = (select caterking_private.current_tenant()));

-- Grants: explicit, so behaviour is the same on hosted and local. anon gets nothing.
revoke all on public.tenants, public.kitchens, public.staff, public.tasks,
  public.task_ops, public.prep_estimates from anon;
grant select on public.tenants, public.task_ops, public.prep_estimates to authenticated;
grant select, insert, update on public.kitchens, public.staff, public.tasks to authenticated;
grant all on public.tenants, public.kitchens, public.staff, public.tasks,
  public.task_ops, public.prep_estimates to service_role;

-- Task actions -------------------------------------------------------------------

create or replace function caterking_private.task_action(
  p_action text, p_task_id uuid, p_staff_id uuid, p_op_id uuid, p_device text
) returns jsonb
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_role text := coalesce(auth.jwt() ->> 'role', 'anon');
  v_tenant uuid := caterking_private.current_tenant();
  t public.tasks%rowtype;
  s public.staff%rowtype;
  prior public.task_ops%rowtype;
  v_outcome text;
  v_reason text;
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

  -- Idempotency: an op id seen before changes nothing, whatever happened since.
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

  if p_action = 'claim' then
    if t.status = 'pending' then
      update public.tasks set status = 'claimed', claimed_by = p_staff_id, claimed_at = now(),
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
      update public.tasks set status = 'done', completed_by = p_staff_id, completed_at = now(),
        claimed_by = coalesce(claimed_by, p_staff_id), claimed_at = coalesce(claimed_at, now()),
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

  insert into public.task_ops (op_id, task_id, action, staff_id, device, outcome)
    values (p_op_id, p_task_id, p_action, p_staff_id, p_device, v_outcome);
  return jsonb_build_object('outcome', v_outcome, 'task', to_jsonb(t), 'reason', v_reason);
end
$$;
revoke all on function caterking_private.task_action(text, uuid, uuid, uuid, text) from public;
grant execute on function caterking_private.task_action(text, uuid, uuid, uuid, text)
  to authenticated, service_role;

create or replace function public.claim_task(p_task_id uuid, p_staff_id uuid, p_op_id uuid,
  p_device text) returns jsonb
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select caterking_private.task_action('claim', p_task_id, p_staff_id, p_op_id, p_device) $$;

create or replace function public.release_task(p_task_id uuid, p_staff_id uuid, p_op_id uuid,
  p_device text) returns jsonb
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select caterking_private.task_action('release', p_task_id, p_staff_id, p_op_id, p_device) $$;

create or replace function public.complete_task(p_task_id uuid, p_staff_id uuid, p_op_id uuid,
  p_device text) returns jsonb
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select caterking_private.task_action('complete', p_task_id, p_staff_id, p_op_id, p_device) $$;

create or replace function public.reopen_task(p_task_id uuid, p_staff_id uuid, p_op_id uuid,
  p_device text) returns jsonb
language sql volatile set search_path = pg_catalog, pg_temp
as $$ select caterking_private.task_action('reopen', p_task_id, p_staff_id, p_op_id, p_device) $$;

revoke all on function public.claim_task(uuid, uuid, uuid, text), public.release_task(uuid, uuid, uuid, text),
  public.complete_task(uuid, uuid, uuid, text), public.reopen_task(uuid, uuid, uuid, text) from public, anon;
grant execute on function public.claim_task(uuid, uuid, uuid, text), public.release_task(uuid, uuid, uuid, text),
  public.complete_task(uuid, uuid, uuid, text), public.reopen_task(uuid, uuid, uuid, text)
  to authenticated, service_role;

-- Realtime ---------------------------------------------------------------------------
alter publication supabase_realtime add table public.tasks, public.staff, public.prep_estimates;
