-- 0006: table privileges exactly as the contract says, whatever the platform grants.
--
-- Hosted Supabase's default privileges give anon and authenticated ALL on every new
-- table in public. 0001 revoked anon's and added what authenticated needs, but left the
-- rest of the default: DELETE, TRUNCATE, REFERENCES and TRIGGER on every table and
-- UPDATE on tenants and the ledger. Row-level security stops UPDATE and DELETE (no
-- policy allows them) but not TRUNCATE, which ignores it. Start from nothing and grant
-- only what the contract needs; row-level security then narrows the rows.

revoke all on public.tenants, public.kitchens, public.staff, public.tasks, public.task_ops,
  public.prep_samples, public.prep_estimates from anon, authenticated;

grant select on public.tenants, public.task_ops, public.prep_samples, public.prep_estimates
  to authenticated;
grant select, insert, update on public.kitchens, public.staff, public.tasks to authenticated;

grant all on public.tenants, public.kitchens, public.staff, public.tasks, public.task_ops,
  public.prep_samples, public.prep_estimates to service_role;
