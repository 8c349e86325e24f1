-- Private Realtime channels (Supabase Realtime authorization via RLS on realtime.messages).
-- A display may join, broadcast and track presence only on its own kitchen's topics:
-- `kitchen:<kitchen_id>` and `kitchen:<kitchen_id>:*`. Other signed-in users (Admin)
-- may use the topics of any kitchen of their tenant.

create or replace function caterking_private.may_use_kitchen_topic(p_topic text) returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_kitchen text;
  v_tenant uuid := caterking_private.current_tenant();
begin
  if p_topic is null or p_topic !~ '^kitchen:[0-9a-fA-F-]{36}(:.*)?$' or v_tenant is null then
    return false;
  end if;
  v_kitchen := lower(substr(p_topic, 9, 36));
  if caterking_private.is_display() then
    return v_kitchen = lower(coalesce(auth.jwt() -> 'app_metadata' ->> 'kitchen_id', ''))
      and exists (select 1 from public.kitchens k
                  where k.id = v_kitchen::uuid and k.tenant_id = v_tenant);
  end if;
  return exists (select 1 from public.kitchens k where k.id = v_kitchen::uuid and k.tenant_id = v_tenant);
end
$$;
revoke all on function caterking_private.may_use_kitchen_topic(text) from public;
grant execute on function caterking_private.may_use_kitchen_topic(text) to authenticated, service_role;

create policy caterking_kitchen_topics_read on realtime.messages for select to authenticated
  using (extension in ('broadcast', 'presence')
         and (select caterking_private.may_use_kitchen_topic(realtime.topic())));

create policy caterking_kitchen_topics_write on realtime.messages for insert to authenticated
  with check (extension in ('broadcast', 'presence')
              and (select caterking_private.may_use_kitchen_topic(realtime.topic())));
