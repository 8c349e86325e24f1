-- Migration 0004: the kitchen learns how long its prep takes, from its own history.
--
-- 1. tasks.kind: a normalised key of the title (public.task_kind), kept by a trigger.
-- 2. prep_samples: one sample per done task that was really worked on (claimed, then
--    finished 20 s to 8 h later), written by a trigger on tasks whatever the path to
--    done (the four actions, Admin editing the row, an import). A reopen withdraws the
--    sample; the next completion writes the new one.
-- 3. prep_estimates: per tenant, kind and station, what the boards show. Exact (this
--    kind's last 50 samples: p50/p90 minutes and a setup + minutes-per-unit fit),
--    similar (borrowed from similar kinds, pg_trgm), station (the station's typical
--    times) or none. Kept up to date in the same transaction as the completion; a row
--    exists for every kind with an open task or with samples.
-- 4. estimate_for(title, quantity, unit, station): the same figures for any title.
-- 5. caterking_private.rebuild_prep_estimates(): recompute everything from the tasks.
--
-- Method and limits: docs/heuristics.md. Runs unchanged on a hosted Supabase project
-- (pg_trgm in schema `extensions`) and on plain PostgreSQL (pg_trgm in `public`).

-- pg_trgm -------------------------------------------------------------------------------
-- Where it already exists (hosted projects may have it in `extensions`), it stays. Its
-- library is then loaded here by one call, so that functions below can set its
-- similarity threshold as a known setting.
do $$
declare
  v_schema text;
begin
  if not exists (select 1 from pg_extension where extname = 'pg_trgm') then
    if exists (select 1 from pg_namespace where nspname = 'extensions') then
      create extension pg_trgm with schema extensions;
    else
      create extension pg_trgm with schema public;
    end if;
  end if;
  select n.nspname into v_schema from pg_extension x
    join pg_namespace n on n.oid = x.extnamespace where x.extname = 'pg_trgm';
  execute format('select %I.similarity($1, $2)', v_schema) using 'kind', 'kind';
end
$$;

-- Task kind -------------------------------------------------------------------------------

-- One key for every way of writing the same job: "Onions, diced", "Dice onions" and
-- "dice ONION" are all 'dice onion'. Steps: fold accents and case, drop punctuation,
-- quantities ("40", "5kg", "x2"), units ("kg", "g", "l", "ml", "pcs"...) and small words
-- ("the", "for", "of", "and", "make"...), bring cooking forms and plurals to one word ("diced" ->
-- "dice", "onions" -> "onion", "berries" -> "berry"), remove repeats, sort the words.
-- A title of nothing but such words keeps them (tidied), so no key is empty.
create function public.task_kind(p_title text) returns text
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
  s text;
  w text;
  words text[] := '{}';
  kept text[] := '{}';
begin
  -- Accents, both cases (lower() folds only ASCII under the C collation).
  s := replace(replace(replace(replace(replace(replace(p_title,
         'ß', 'ss'), 'æ', 'ae'), 'Æ', 'ae'), 'œ', 'oe'), 'Œ', 'oe'), 'ﬁ', 'fi');
  s := translate(s,
    'àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥìíîïĩīĭįıĵķĺļľłñńņňòóôõöøōŏőŕŗřśŝşšţťùúûüũūŭůűųŵýÿŷźżž'
    'ÀÁÂÃÄÅĀĂĄÇĆĈĊČĎĐÈÉÊËĒĔĖĘĚĜĞĠĢĤÌÍÎÏĨĪĬĮİĴĶĹĻĽŁÑŃŅŇÒÓÔÕÖØŌŎŐŔŖŘŚŜŞŠŢŤÙÚÛÜŨŪŬŮŰŲŴÝŸŶŹŻŽ',
    'aaaaaaaaacccccddeeeeeeeeegggghiiiiiiiiijklllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz'
    'aaaaaaaaacccccddeeeeeeeeegggghiiiiiiiiijklllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz');
  s := lower(s collate "C");
  s := regexp_replace(s, '[''’]s\M', '', 'g');                 -- chef's -> chef
  -- Punctuation and spacing (ASCII and common typographic marks) separate words.
  s := regexp_replace(s, '[\s!-/:-@\[-`{-~‘’“”–—…·•°×]+', ' ', 'g');
  foreach w in array regexp_split_to_array(btrim(s), ' ') loop
    continue when w = '';
    continue when w ~ '^[0-9]' or w ~ '^x[0-9]+$';             -- 40, 5kg, 2x, x2, 1st
    continue when w = any (array['kg', 'kgs', 'g', 'gr', 'grs', 'gram', 'grams', 'kilo',
      'kilos', 'kilogram', 'kilograms', 'l', 'lt', 'ltr', 'ltrs', 'litre', 'litres', 'liter',
      'liters', 'ml', 'cl', 'dl', 'pc', 'pcs', 'pce', 'pces', 'lb', 'lbs', 'oz', 'x', 'qty']);
    -- Small words, and verbs that say only "do it" ("Make béchamel" = "Béchamel").
    continue when w = any (array['a', 'an', 'the', 'for', 'of', 'and', 'or', 'with', 'in',
      'into', 'to', 'on', 'at', 'from', 'by', 'per', 'some', 'each', 'make', 'prepare',
      'prep']);
    words := words || w;
  end loop;
  foreach w in array words loop
    -- Cooking forms: a chef's "diced" is the same job as "dice". Only these words; an
    -- -ed word not listed stays as written.
    w := case w
      when 'diced' then 'dice' when 'sliced' then 'slice' when 'minced' then 'mince'
      when 'cubed' then 'cube' when 'grated' then 'grate' when 'chopped' then 'chop'
      when 'peeled' then 'peel' when 'roasted' then 'roast' when 'toasted' then 'toast'
      when 'grilled' then 'grill' when 'whipped' then 'whip' when 'blanched' then 'blanch'
      when 'marinated' then 'marinate' when 'braised' then 'braise' when 'poached' then 'poach'
      when 'seared' then 'sear' when 'smoked' then 'smoke' when 'baked' then 'bake'
      when 'fried' then 'fry' when 'boiled' then 'boil' when 'steamed' then 'steam'
      when 'mashed' then 'mash' when 'pureed' then 'puree' when 'crushed' then 'crush'
      when 'shredded' then 'shred' when 'trimmed' then 'trim' when 'filleted' then 'fillet'
      when 'portioned' then 'portion' when 'picked' then 'pick' when 'washed' then 'wash'
      when 'rinsed' then 'rinse' when 'soaked' then 'soak' when 'brined' then 'brine'
      when 'cured' then 'cure' when 'pickled' then 'pickle' when 'stuffed' then 'stuff'
      when 'glazed' then 'glaze' when 'caramelised' then 'caramelise'
      when 'caramelized' then 'caramelise' when 'julienned' then 'julienne'
      when 'halved' then 'halve' when 'quartered' then 'quarter' when 'zested' then 'zest'
      when 'juiced' then 'juice' when 'reduced' then 'reduce' when 'whisked' then 'whisk'
      when 'blended' then 'blend' when 'simmered' then 'simmer' when 'tempered' then 'temper'
      when 'piped' then 'pipe' when 'plated' then 'plate' when 'assembled' then 'assemble'
      when 'prepared' then 'prepare' when 'labelled' then 'label' when 'labeled' then 'label'
      when 'dated' then 'date' when 'shelled' then 'shell' when 'skinned' then 'skin'
      when 'boned' then 'bone' when 'sauteed' then 'saute' when 'charred' then 'char'
      when 'deveined' then 'devein' when 'scored' then 'score' when 'seasoned' then 'season'
      when 'rolled' then 'roll' when 'folded' then 'fold' when 'kneaded' then 'knead'
      when 'proved' then 'prove' when 'proofed' then 'proof' when 'strained' then 'strain'
      when 'sieved' then 'sieve' when 'dressed' then 'dress' when 'tossed' then 'toss'
      when 'mixed' then 'mix' when 'melted' then 'melt' when 'defrosted' then 'defrost'
      when 'thawed' then 'thaw' when 'chilled' then 'chill' when 'frozen' then 'freeze'
      when 'flaked' then 'flake' when 'sorted' then 'sort' when 'cleaned' then 'clean'
      when 'cooked' then 'cook' when 'washed' then 'wash' when 'topped' then 'top'
      -- Plurals the rules below would get wrong.
      when 'leaves' then 'leaf' when 'halves' then 'half' when 'loaves' then 'loaf'
      when 'knives' then 'knife' when 'shelves' then 'shelf' when 'calves' then 'calf'
      when 'quiches' then 'quiche' when 'brioches' then 'brioche'
      when 'ganaches' then 'ganache' when 'cookies' then 'cookie'
      when 'brownies' then 'brownie' when 'smoothies' then 'smoothie'
      when 'veggies' then 'veggie' when 'geese' then 'goose'
      else w end;
    -- Plurals: berries -> berry, tomatoes -> tomato, dishes -> dish, onions -> onion,
    -- zucchinis -> zucchini; words ending in ss or us stay (bass, asparagus, hummus,
    -- couscous, jus), and so do a few in is.
    if length(w) > 4 and w ~ 'ies$' then
      w := left(w, -3) || 'y';
    elsif length(w) > 4 and w ~ '(oes|sses|xes|zes|shes|ches)$' then
      w := left(w, -2);
    elsif length(w) > 3 and w ~ 's$' and w !~ '(ss|us)$'
          and not w = any (array['anis', 'pastis', 'iris', 'tennis', 'chassis']) then
      w := left(w, -1);
    end if;
    if not w = any (kept) then
      kept := kept || w;
    end if;
  end loop;
  if cardinality(kept) = 0 then
    return left(btrim(regexp_replace(s, '\s+', ' ', 'g')), 200);
  end if;
  return (select string_agg(x, ' ' order by x collate "C") from unnest(kept) x);
end
$$;
revoke all on function public.task_kind(text) from public, anon;
grant execute on function public.task_kind(text) to authenticated, service_role;
comment on function public.task_kind(text) is
  'The normalised key of a task title (tasks.kind, prep_estimates.task_key): accents, '
  'case, punctuation, quantities, units and small words dropped, plurals and cooking '
  'forms folded, words sorted. "Onions, diced" = "Dice onions" = "dice ONION".';

-- tasks.kind: always task_kind(title); a write of anything else is overwritten.
create function caterking_private.tasks_set_kind() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  new.kind := public.task_kind(new.title);
  return new;
end
$$;
revoke all on function caterking_private.tasks_set_kind() from public;

alter table public.tasks add column kind text;
-- Runs before tasks_versioning (triggers fire in name order), so a new title and its
-- kind are one change and one version.
create trigger tasks_kind before insert or update of title, kind on public.tasks
  for each row execute function caterking_private.tasks_set_kind();
-- Existing rows get their kind (and, being changed, a new version, so boards that
-- hold them learn it). RLS is forced on tasks (even for its owner): lift it for this.
alter table public.tasks no force row level security;
update public.tasks set kind = public.task_kind(title);
alter table public.tasks force row level security;
alter table public.tasks alter column kind set not null;
comment on column public.tasks.kind is
  'public.task_kind(title), kept by a trigger: the key of learned prep estimates.';

create index tasks_kind_idx on public.tasks (tenant_id, kind, station);
create index tasks_open_kind_idx on public.tasks (tenant_id, kind, station)
  where status in ('pending', 'claimed');

-- Samples ---------------------------------------------------------------------------------

create table public.prep_samples (
  task_id uuid primary key references public.tasks (id) on delete cascade,
  tenant_id uuid not null references public.tenants (id),
  kitchen_id uuid not null,
  kind text not null,
  station text not null,
  quantity numeric null,
  unit text null,
  duration_seconds numeric not null
    check (duration_seconds >= 20 and duration_seconds <= 28800),
  chef_id uuid null,
  claimed_at timestamptz not null,
  completed_at timestamptz not null,
  recorded_at timestamptz not null default now()
);
create index prep_samples_window_idx
  on public.prep_samples (tenant_id, kind, station, completed_at desc, task_id desc);
create index prep_samples_station_idx
  on public.prep_samples (tenant_id, station, completed_at desc, task_id desc);
comment on table public.prep_samples is
  'One real prep duration per done task (completed_at - claimed_at, 20 s to 8 h), kept '
  'by a trigger on tasks: written on completion by any path, withdrawn on reopen, '
  'replaced on a new completion. The learning input; rebuilt from tasks by '
  'caterking_private.rebuild_prep_estimates().';
comment on column public.prep_samples.unit is 'tasks.unit trimmed and lower-cased; null if empty.';
comment on column public.prep_samples.chef_id is 'tasks.completed_by.';

-- A unit as estimates compare it: trimmed, lower-case, null when empty.
create function caterking_private.prep_unit(p_unit text) returns text
language sql immutable parallel safe
as $$ select nullif(lower(btrim(p_unit) collate "C"), '') $$;
revoke all on function caterking_private.prep_unit(text) from public;

-- What counts as a sample, in one place: the trigger and the rebuild both read it.
-- Never claimed (no claimed_at), completed straight from pending (claimed_at =
-- completed_at), under 20 s or over 8 h: not a prep duration. A release clears
-- claimed_at and the next claim sets it again, so the time runs from the last claim.
create view caterking_private.task_prep_samples as
select t.id as task_id, t.tenant_id, t.kitchen_id, t.kind, t.station, t.quantity,
       caterking_private.prep_unit(t.unit) as unit,
       round(extract(epoch from t.completed_at - t.claimed_at), 3) as duration_seconds,
       t.completed_by as chef_id, t.claimed_at, t.completed_at
from public.tasks t
where t.status = 'done'
  and t.completed_at - t.claimed_at between interval '20 seconds' and interval '8 hours';
revoke all on caterking_private.task_prep_samples from public, anon, authenticated;

-- Estimates -------------------------------------------------------------------------------

alter table public.prep_estimates
  add column basis text not null default 'none'
    check (basis in ('exact', 'similar', 'station', 'none')),
  add column similar_to text[] not null default '{}',
  add column unit text null,
  add column p50_setup_minutes numeric null,
  add column p50_minutes_per_unit numeric null,
  add column p90_setup_minutes numeric null,
  add column p90_minutes_per_unit numeric null;
-- The server writes every row and always names its basis. Signed-in users only read
-- (0001 granted select, but the schema's default privileges had given them every right,
-- and TRUNCATE ignores row-level security).
alter table public.prep_estimates alter column basis drop default;
revoke insert, update, delete, truncate, references, trigger on public.prep_estimates
  from authenticated;
alter table public.prep_estimates replica identity full;
-- Room on each page, so that an update of the figures alone (no key, no basis) is a HOT
-- update and writes no index.
alter table public.prep_estimates set (fillfactor = 80);
create index prep_estimates_borrowers_idx on public.prep_estimates (tenant_id, station)
  where basis <> 'exact';
comment on table public.prep_estimates is
  'Learned prep times per tenant, kind (task_key = tasks.kind) and station, kept by the '
  'server (docs/heuristics.md). Flat p50/p90 minutes; for quantities in `unit`, '
  'p50 = p50_setup_minutes + p50_minutes_per_unit * quantity (p90 likewise). basis: '
  'exact | similar (similar_to) | station | none (p50 = p90 = 0).';

create type caterking_private.prep_estimate as (
  p50_minutes numeric, p90_minutes numeric, unit text,
  p50_setup_minutes numeric, p50_minutes_per_unit numeric,
  p90_setup_minutes numeric, p90_minutes_per_unit numeric,
  basis text, similar_to text[], samples integer
);

-- The percentile level that makes a p90 from n samples cover 9 jobs in 10 to come: the
-- plain 90th percentile of n samples covers only (0.9 (n - 1) + 1) / (n + 1) of new ones
-- (70 % at n = 3, 88 % at 50), so use (0.9 n - 0.1) / (n - 1), which is the slowest seen
-- while n < 10 and 0.916 at n = 50.
create function caterking_private.prep_p90_level(n bigint) returns float8
language sql immutable parallel safe
as $$ select case when n < 2 then 1 else least(1, (0.9 * n - 0.1) / (n - 1)) end $$;

-- Summary of a window of samples (minutes y, quantity q, unit u; any order): flat p50
-- and p90, and for the unit most samples with a quantity are in, a robust line
-- y = setup + rate * q (Tukey's resistant line: the slope through the medians of the
-- lightest and the heaviest third, the setup the median of y - rate * q). The p90 line
-- is the p50 line times the 90th percentile of y / (p50 line): times spread in
-- proportion to the job. No line with fewer than 5 such samples, quantities too alike
-- (heaviest third's median under 1.2 x the lightest's), or a slope that is not up.
-- A negative setup becomes 0 with rate = median(y / q). basis is left null. Every p90
-- is taken at prep_p90_level of the samples it comes from.
-- One statement (it runs twice on every completion), in PL/pgSQL so its plan is cached.
create function caterking_private.prep_summary(p_y float8[], p_q float8[], p_u text[])
returns caterking_private.prep_estimate
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  r caterking_private.prep_estimate;
  v_level float8 := caterking_private.prep_p90_level(coalesce(cardinality(p_y), 0));
begin
  with w as materialized (
    select x.y, x.q, x.u from unnest(p_y, p_q, p_u) x(y, q, u)
  ), flat as (
    select count(*)::integer as n,
           percentile_cont(array[0.5, v_level]) within group (order by w.y) as p
    from w
  ), unit as (
    select w.u from w where w.q > 0 and w.u is not null
    group by w.u order by count(*) desc, w.u collate "C" limit 1
  ), pts as materialized (
    select w.q, w.y, row_number() over (order by w.q, w.y) as rn, count(*) over () as m
    from w where w.q > 0 and w.u = (select unit.u from unit)
  ), thirds as materialized (
    select max(pts.m) as m,
           percentile_cont(0.5) within group (order by pts.q)
             filter (where pts.rn <= pts.m / 3) as ql,
           percentile_cont(0.5) within group (order by pts.y)
             filter (where pts.rn <= pts.m / 3) as yl,
           percentile_cont(0.5) within group (order by pts.q)
             filter (where pts.rn > pts.m - pts.m / 3) as qr,
           percentile_cont(0.5) within group (order by pts.y)
             filter (where pts.rn > pts.m - pts.m / 3) as yr
    from pts
  ), slope as materialized (
    select case when t.m >= 5 and t.qr >= t.ql * 1.2 and t.yr > t.yl
                then (t.yr - t.yl) / (t.qr - t.ql) end as b
    from thirds t
  ), line as materialized (
    select s.b,
           percentile_cont(0.5) within group (order by pts.y - s.b * pts.q) as a,
           percentile_cont(0.5) within group (order by pts.y / pts.q) as b0
    from pts, slope s where s.b is not null group by s.b
  ), fit as materialized (
    select case when l.a < 0 then 0 else l.a end as a,
           case when l.a < 0 then l.b0 else l.b end as b
    from line l
  ), spread as (
    select f.a, f.b,
           greatest(coalesce(percentile_cont(caterking_private.prep_p90_level(t.m)) within group
                               (order by pts.y / (f.a + f.b * pts.q)), 1), 1) as f
    from fit f, thirds t, pts group by f.a, f.b, t.m
  )
  select round(coalesce(flat.p[1], 0)::numeric, 2), round(coalesce(flat.p[2], 0)::numeric, 2),
         case when sp.b is not null then (select unit.u from unit) end,
         round(sp.a::numeric, 2), round(sp.b::numeric, 5),
         round((sp.a * sp.f)::numeric, 2), round((sp.b * sp.f)::numeric, 5),
         null::text, '{}'::text[], flat.n
    into r
    from flat left join spread sp on true;
  return r;
end
$$;

-- This kind's own figures at this station: its last 50 samples. (PL/pgSQL, here and
-- below, for plans cached across transactions: SQL functions are planned per call
-- before PostgreSQL 18.)
create function caterking_private.prep_kind_stats(p_tenant uuid, p_kind text, p_station text)
returns caterking_private.prep_estimate
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  return (
    select caterking_private.prep_summary(array_agg(w.y), array_agg(w.q), array_agg(w.u))
    from (select (s.duration_seconds / 60)::float8 as y, s.quantity::float8 as q,
                 s.unit as u
          from public.prep_samples s
          where s.tenant_id = p_tenant and s.kind = p_kind and s.station = p_station
          order by s.completed_at desc, s.task_id desc
          limit 50) w);
end
$$;

-- The station basis, computed when needed from the station's last 200 samples (every
-- kind): flat p50 and p90, and its typical pace in the unit most of them are in: the
-- median and 90th percentile of minutes per unit (no setup), given 5 such samples. None
-- below 3 samples. p90s at prep_p90_level. One statement.
create function caterking_private.prep_station_estimate(p_tenant uuid, p_station text)
returns caterking_private.prep_estimate
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  r caterking_private.prep_estimate;
  flat float8[];
  pace float8[];
  n_unit integer;
begin
  with w as materialized (
    select (x.duration_seconds / 60)::float8 as y, x.quantity::float8 as q, x.unit as u
    from public.prep_samples x
    where x.tenant_id = p_tenant and x.station = p_station
    order by x.completed_at desc, x.task_id desc
    limit 200
  ), m as materialized (
    select (select w.u from w where w.q > 0 and w.u is not null
            group by w.u order by count(*) desc, w.u collate "C" limit 1) as u,
           caterking_private.prep_p90_level((select count(*) from w)) as level
  )
  select count(*)::integer,
         percentile_cont(array[0.5, m.level]) within group (order by w.y),
         m.u, count(*) filter (where w.q > 0 and w.u = m.u),
         percentile_cont(array[0.5, m.level]) within group (order by w.y / w.q)
           filter (where w.q > 0 and w.u = m.u)
    into r.samples, flat, r.unit, n_unit, pace
    from w, m group by m.u, m.level;
  if coalesce(r.samples, 0) < 3 then
    return row(0, 0, null, null, null, null, null, 'none', '{}', 0)
             ::caterking_private.prep_estimate;
  end if;
  r.basis := 'station';
  r.similar_to := '{}';
  r.p50_minutes := round(flat[1]::numeric, 2);
  r.p90_minutes := round(flat[2]::numeric, 2);
  if n_unit >= 5 then
    r.p50_setup_minutes := 0;
    r.p50_minutes_per_unit := round(pace[1]::numeric, 5);
    r.p90_setup_minutes := 0;
    r.p90_minutes_per_unit := round(pace[2]::numeric, 5);
  else
    r.unit := null;
  end if;
  return r;
end
$$;

-- Borrowed figures for a kind with fewer than 3 samples of its own. Candidates: the
-- tenant's kinds with an exact estimate whose key is trigram-similar (pg_trgm
-- similarity >= 0.4; the same kind at another station counts too), weighted by
-- similarity squared x ln(1 + samples), x 0.4 at another station, x 0.6 when fitted in
-- another unit than the wanted one; the best 3 are averaged by weight. The quantity
-- line is averaged over those fitted in one unit (the wanted one if any has it, else the
-- best candidate's). The p90s are widened (below). No candidate: the station's figures,
-- else none.
-- p_among (refreshes only): look no further than these kinds, the ones the row already
-- borrows from, when one of them only grew more certain (the best 3 stay the best 3).
create function caterking_private.prep_borrowed(p_tenant uuid, p_kind text, p_station text,
  p_unit text, p_among text[] default null) returns caterking_private.prep_estimate
language plpgsql stable
set search_path = pg_catalog, extensions, public, pg_temp
set pg_trgm.similarity_threshold = 0.4
as $$
declare
  r caterking_private.prep_estimate;
  keys text[];
  ns integer[];
  p50s float8[]; p90s float8[];
  units text[];
  s50s float8[]; r50s float8[]; s90s float8[]; r90s float8[];
  sims float8[]; ws float8[];
  widen float8;
  v_unit text;
begin
  select array_agg(t.task_key order by t.w desc), array_agg(t.samples order by t.w desc),
         array_agg(t.p50 order by t.w desc), array_agg(t.p90 order by t.w desc),
         array_agg(t.unit order by t.w desc),
         array_agg(t.s50 order by t.w desc), array_agg(t.r50 order by t.w desc),
         array_agg(t.s90 order by t.w desc), array_agg(t.r90 order by t.w desc),
         array_agg(t.sim order by t.w desc), array_agg(t.w order by t.w desc)
    into keys, ns, p50s, p90s, units, s50s, r50s, s90s, r90s, sims, ws
    from (select c.*,
                 c.sim * c.sim * ln(1 + c.samples)
                   * (case when c.station = p_station then 1 else 0.4 end)
                   * (case when p_unit is not null and c.unit is not null
                           and c.unit <> p_unit then 0.6 else 1 end) as w
          from (select e.task_key, e.station, e.samples,
                       e.p50_minutes::float8 as p50, e.p90_minutes::float8 as p90, e.unit,
                       e.p50_setup_minutes::float8 as s50,
                       e.p50_minutes_per_unit::float8 as r50,
                       e.p90_setup_minutes::float8 as s90,
                       e.p90_minutes_per_unit::float8 as r90,
                       similarity(e.task_key, p_kind)::float8 as sim
                from public.prep_estimates e
                where p_among is null and e.tenant_id = p_tenant and e.basis = 'exact'
                  and e.task_key % p_kind
                  and not (e.task_key = p_kind and e.station = p_station)
                union all
                select e.task_key, e.station, e.samples,
                       e.p50_minutes::float8, e.p90_minutes::float8, e.unit,
                       e.p50_setup_minutes::float8, e.p50_minutes_per_unit::float8,
                       e.p90_setup_minutes::float8, e.p90_minutes_per_unit::float8,
                       similarity(e.task_key, p_kind)::float8
                from public.prep_estimates e
                where p_among is not null and e.tenant_id = p_tenant and e.basis = 'exact'
                  and e.task_key = any (p_among)
                  and not (e.task_key = p_kind and e.station = p_station)) c
          order by w desc, c.sim desc, c.task_key collate "C", c.station collate "C"
          limit 3) t;
  if keys is null then
    return caterking_private.prep_station_estimate(p_tenant, p_station);
  end if;
  -- Borrowed figures are less sure than the lender's own: the p90s are moved away from
  -- the p50s by (2 - the weighted similarity), up to 1.6 x at the threshold.
  select 2 - sum(x.w * x.sim) / sum(x.w) into widen from unnest(ws, sims) x(w, sim);
  select round((sum(x.w * x.p50) / sum(x.w))::numeric, 2),
         round((sum(x.w * (x.p50 + (x.p90 - x.p50) * widen)) / sum(x.w))::numeric, 2),
         sum(x.n)
    into r.p50_minutes, r.p90_minutes, r.samples
    from unnest(ws, p50s, p90s, ns) x(w, p50, p90, n);
  select array_agg(x.k order by x.sim desc, x.k collate "C") into r.similar_to
    from (select y.k, max(y.sim) as sim from unnest(keys, sims) y(k, sim) group by y.k) x;
  r.basis := 'similar';
  v_unit := case when p_unit = any (units) then p_unit
                 else (select x.u from unnest(units, ws) with ordinality x(u, w, i)
                       where x.u is not null order by x.i limit 1) end;
  if v_unit is not null then
    select v_unit,
           round((sum(x.w * x.s50) / sum(x.w))::numeric, 2),
           round((sum(x.w * x.r50) / sum(x.w))::numeric, 5),
           round((sum(x.w * (x.s50 + (x.s90 - x.s50) * widen)) / sum(x.w))::numeric, 2),
           round((sum(x.w * (x.r50 + (x.r90 - x.r50) * widen)) / sum(x.w))::numeric, 5)
      into r.unit, r.p50_setup_minutes, r.p50_minutes_per_unit, r.p90_setup_minutes,
           r.p90_minutes_per_unit
      from unnest(units, ws, s50s, r50s, s90s, r90s) x(u, w, s50, r50, s90, r90)
      where x.u = v_unit;
  end if;
  return r;
end
$$;

-- What a kind's row should say: exact with 3 or more samples of its own, else borrowed.
create function caterking_private.prep_estimate_of(p_tenant uuid, p_kind text,
  p_station text, p_unit text, p_among text[] default null)
returns caterking_private.prep_estimate
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  r caterking_private.prep_estimate := caterking_private.prep_kind_stats(p_tenant, p_kind,
                                                                         p_station);
begin
  if r.samples >= 3 then
    r.basis := 'exact';
    return r;
  end if;
  return caterking_private.prep_borrowed(p_tenant, p_kind, p_station, p_unit, p_among);
end
$$;

-- The unit a row's borrowing prefers: that of the kind's open tasks, else its samples.
create function caterking_private.prep_row_unit(p_tenant uuid, p_kind text, p_station text)
returns text
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  return coalesce(
    (select caterking_private.prep_unit(t.unit) from public.tasks t
     where t.tenant_id = p_tenant and t.kind = p_kind and t.station = p_station
       and t.status in ('pending', 'claimed')
       and caterking_private.prep_unit(t.unit) is not null
     order by t.created_at desc limit 1),
    (select s.unit from public.prep_samples s
     where s.tenant_id = p_tenant and s.kind = p_kind and s.station = p_station
       and s.unit is not null
     order by s.completed_at desc, s.task_id desc limit 1));
end
$$;

-- Write a row; true when it changed (an unchanged row is not written, so boards get no
-- event for it).
create function caterking_private.prep_put(p_tenant uuid, p_kind text, p_station text,
  e caterking_private.prep_estimate) returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  n integer;
begin
  insert into public.prep_estimates as x (tenant_id, task_key, station, p50_minutes,
      p90_minutes, unit, p50_setup_minutes, p50_minutes_per_unit, p90_setup_minutes,
      p90_minutes_per_unit, basis, similar_to, samples, updated_at)
    values (p_tenant, p_kind, p_station, e.p50_minutes, e.p90_minutes, e.unit,
      e.p50_setup_minutes, e.p50_minutes_per_unit, e.p90_setup_minutes,
      e.p90_minutes_per_unit, e.basis, coalesce(e.similar_to, '{}'), coalesce(e.samples, 0),
      now())
    on conflict (tenant_id, task_key, station) do update set
      p50_minutes = excluded.p50_minutes, p90_minutes = excluded.p90_minutes,
      unit = excluded.unit, p50_setup_minutes = excluded.p50_setup_minutes,
      p50_minutes_per_unit = excluded.p50_minutes_per_unit,
      p90_setup_minutes = excluded.p90_setup_minutes,
      p90_minutes_per_unit = excluded.p90_minutes_per_unit, basis = excluded.basis,
      similar_to = excluded.similar_to, samples = excluded.samples, updated_at = now()
    where (x.p50_minutes, x.p90_minutes, x.unit, x.p50_setup_minutes, x.p50_minutes_per_unit,
           x.p90_setup_minutes, x.p90_minutes_per_unit, x.basis, x.similar_to, x.samples)
      is distinct from
          (excluded.p50_minutes, excluded.p90_minutes, excluded.unit,
           excluded.p50_setup_minutes, excluded.p50_minutes_per_unit,
           excluded.p90_setup_minutes, excluded.p90_minutes_per_unit, excluded.basis,
           excluded.similar_to, excluded.samples);
  get diagnostics n = row_count;
  return n > 0;
end
$$;

-- One writer per tenant and station at a time, so two completions at one station never
-- compute from each other's uncommitted samples (the later waits, then sees both).
-- (Inlined where it is called: no SET clause, every name qualified.)
create function caterking_private.prep_lock(p_tenant uuid, p_station text) returns void
language sql
as $$
  select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
    'caterking_prep:' || p_tenant::text || ':' || p_station, 0))
$$;

-- The samples of these kinds at this station changed: the kinds' own rows, and the rows
-- at this station that borrow (similar/station/none) and depend on them, bounded:
--  * a kind that only grew more certain (exact before and after, no fewer samples, same
--    unit): the rows that list it in similar_to are recomputed among the kinds they
--    already list (its weight only rose, so their best 3 are the same);
--  * a kind that became exact, or reached 5, 10, 20 or 50 samples (its weight grew a lot):
--    also every borrowing row trigram-similar to it is recomputed in full;
--  * a kind that stopped being exact or lost weight: the rows that list it, in full.
-- The other station/none rows at this station take the station's new figures (computed
-- only if there are such rows).
create function caterking_private.prep_refresh(p_tenant uuid, p_station text, p_kinds text[])
returns void
language plpgsql
set search_path = pg_catalog, extensions, public, pg_temp
set pg_trgm.similarity_threshold = 0.4
as $$
declare
  k text;
  done text[] := p_kinds;
  grown text[] := '{}';
  moved text[] := '{}';
  became text[] := '{}';
  o_basis text;
  o_samples integer;
  o_unit text;
  e caterking_private.prep_estimate;
  st caterking_private.prep_estimate;
  d record;
begin
  perform caterking_private.prep_lock(p_tenant, p_station);
  foreach k in array p_kinds loop
    o_basis := null;
    select x.basis, x.samples, x.unit into o_basis, o_samples, o_unit
      from public.prep_estimates x
      where x.tenant_id = p_tenant and x.task_key = k and x.station = p_station;
    e := caterking_private.prep_estimate_of(p_tenant, k, p_station,
           caterking_private.prep_row_unit(p_tenant, k, p_station));
    if caterking_private.prep_put(p_tenant, k, p_station, e) then
      if e.basis = 'exact' and o_basis = 'exact' and e.samples >= o_samples
         and e.unit is not distinct from o_unit then
        grown := grown || k;
      else
        moved := moved || k;
      end if;
      if e.basis = 'exact' and (o_basis is distinct from 'exact'
         or (e.samples in (5, 10, 20, 50) and e.samples <> o_samples)) then
        became := became || k;
      end if;
    end if;
  end loop;
  if cardinality(grown) + cardinality(moved) > 0 then
    for d in
      select x.task_key, x.similar_to,
             x.similar_to && moved
               or exists (select 1 from unnest(became) c(kind) where x.task_key % c.kind)
               as in_full
      from public.prep_estimates x
      where x.tenant_id = p_tenant and x.station = p_station and x.basis <> 'exact'
        and not x.task_key = any (p_kinds)
        and (x.similar_to && (grown || moved)
             or exists (select 1 from unnest(became) c(kind) where x.task_key % c.kind))
      order by x.task_key collate "C"
    loop
      perform caterking_private.prep_put(p_tenant, d.task_key, p_station,
        caterking_private.prep_estimate_of(p_tenant, d.task_key, p_station,
          caterking_private.prep_row_unit(p_tenant, d.task_key, p_station),
          case when d.in_full then null else d.similar_to end));
      done := done || d.task_key;
    end loop;
  end if;
  if not exists (select 1 from public.prep_estimates x
                 where x.tenant_id = p_tenant and x.station = p_station
                   and x.basis in ('station', 'none') and not x.task_key = any (done)) then
    return;
  end if;
  st := caterking_private.prep_station_estimate(p_tenant, p_station);
  update public.prep_estimates x set
      p50_minutes = st.p50_minutes, p90_minutes = st.p90_minutes, unit = st.unit,
      p50_setup_minutes = st.p50_setup_minutes, p50_minutes_per_unit = st.p50_minutes_per_unit,
      p90_setup_minutes = st.p90_setup_minutes, p90_minutes_per_unit = st.p90_minutes_per_unit,
      basis = st.basis, similar_to = '{}', samples = st.samples, updated_at = now()
    where x.tenant_id = p_tenant and x.station = p_station and x.basis in ('station', 'none')
      and not x.task_key = any (done)
      and (x.p50_minutes, x.p90_minutes, x.unit, x.p50_setup_minutes, x.p50_minutes_per_unit,
           x.p90_setup_minutes, x.p90_minutes_per_unit, x.basis, x.samples)
        is distinct from
          (st.p50_minutes, st.p90_minutes, st.unit, st.p50_setup_minutes,
           st.p50_minutes_per_unit, st.p90_setup_minutes, st.p90_minutes_per_unit, st.basis,
           st.samples);
end
$$;

-- Learning: after every statement that inserts, updates or deletes tasks.
--  * Tasks that are or were done and whose timing, kind, station, quantity, unit or
--    finisher changed get their sample rewritten from the row (none if it is not a real
--    duration: caterking_private.task_prep_samples), and each (tenant, station)
--    concerned is refreshed once for the kinds concerned (prep_refresh).
--  * Every (tenant, kind, station) of an open task that has no row yet gets one, with
--    borrowed figures (or exact ones, if the kind already has samples there).
-- A statement trigger, so an import of many tasks refreshes each station once. It
-- writes prep_samples and prep_estimates only: no task row is touched. The station locks
-- are taken in one sorted pass, so two statements never wait on each other in a circle.
-- (A task's own sample is written before its station's lock: no one else writes it.)
create function caterking_private.tasks_learn() returns trigger
language plpgsql security definer
set search_path = pg_catalog, extensions, public, pg_temp
as $$
declare
  v_ids uuid[];
  gt uuid[] := '{}';
  gs text[] := '{}';
  gk text[] := '{}';
  et uuid[] := '{}';
  es text[] := '{}';
  ek text[] := '{}';
  eu text[] := '{}';
  g record;
  ensure record;
begin
  if tg_op = 'DELETE' then
    -- Their samples went with them (on delete cascade).
    select coalesce(array_agg(o.tenant_id), '{}'), coalesce(array_agg(o.station), '{}'),
           coalesce(array_agg(o.kind), '{}')
      into gt, gs, gk from old_rows o where o.status = 'done';
  elsif tg_op = 'INSERT' then
    select array_agg(n.id) filter (where n.status = 'done') into v_ids from new_rows n;
    select coalesce(array_agg(x.tenant_id), '{}'), coalesce(array_agg(x.station), '{}'),
           coalesce(array_agg(x.kind), '{}'), coalesce(array_agg(x.unit), '{}')
      into et, es, ek, eu
      from (select n.tenant_id, n.station, n.kind,
                   max(caterking_private.prep_unit(n.unit)) as unit
            from new_rows n
            where n.status in ('pending', 'claimed')
              and not exists (select 1 from public.prep_estimates e
                              where e.tenant_id = n.tenant_id and e.task_key = n.kind
                                and e.station = n.station)
            group by n.tenant_id, n.station, n.kind) x;
  else
    with j as materialized (
      select n.id, n.tenant_id, n.station, n.kind, n.unit,
             (o.status = 'done' or n.status = 'done')
               and (o.status, o.claimed_at, o.completed_at, o.completed_by, o.kind, o.station,
                    o.quantity, o.unit, o.tenant_id, o.kitchen_id)
                 is distinct from
                   (n.status, n.claimed_at, n.completed_at, n.completed_by, n.kind, n.station,
                    n.quantity, n.unit, n.tenant_id, n.kitchen_id) as learn,
             n.status in ('pending', 'claimed')
               and ((o.tenant_id, o.kind, o.station) is distinct from
                      (n.tenant_id, n.kind, n.station)
                    or o.status not in ('pending', 'claimed')) as opened
      from new_rows n join old_rows o on o.id = n.id
    ), e as (
      select j.tenant_id, j.station, j.kind, max(caterking_private.prep_unit(j.unit)) as unit
      from j
      where j.opened
        and not exists (select 1 from public.prep_estimates x
                        where x.tenant_id = j.tenant_id and x.task_key = j.kind
                          and x.station = j.station)
      group by j.tenant_id, j.station, j.kind
    )
    select (select array_agg(j.id) from j where j.learn),
           coalesce((select array_agg(e.tenant_id) from e), '{}'),
           coalesce((select array_agg(e.station) from e), '{}'),
           coalesce((select array_agg(e.kind) from e), '{}'),
           coalesce((select array_agg(e.unit) from e), '{}')
      into v_ids, et, es, ek, eu;
  end if;

  if v_ids is not null then
    -- The task's sample is rewritten: where it was and where it now is both change.
    with gone as (
      delete from public.prep_samples s where s.task_id = any (v_ids)
      returning s.tenant_id, s.station, s.kind)
    select gt || coalesce(array_agg(gone.tenant_id), '{}'),
           gs || coalesce(array_agg(gone.station), '{}'),
           gk || coalesce(array_agg(gone.kind), '{}')
      into gt, gs, gk from gone;
    with added as (
      insert into public.prep_samples (task_id, tenant_id, kitchen_id, kind, station,
          quantity, unit, duration_seconds, chef_id, claimed_at, completed_at)
        select v.task_id, v.tenant_id, v.kitchen_id, v.kind, v.station, v.quantity, v.unit,
               v.duration_seconds, v.chef_id, v.claimed_at, v.completed_at
        from caterking_private.task_prep_samples v where v.task_id = any (v_ids)
        returning tenant_id, station, kind)
    select gt || coalesce(array_agg(added.tenant_id), '{}'),
           gs || coalesce(array_agg(added.station), '{}'),
           gk || coalesce(array_agg(added.kind), '{}')
      into gt, gs, gk from added;
  end if;
  if cardinality(gt) = 0 and cardinality(et) = 0 then
    return null;
  end if;

  -- Station by station, in one order: refresh what was learned, then make sure every
  -- open task's kind has a row.
  for g in
    select x.t, x.s,
           array_agg(distinct x.k) filter (where x.learned) as kinds,
           bool_or(not x.learned) as opens
    from (select u.t, u.s, u.k, true as learned from unnest(gt, gs, gk) u(t, s, k)
          union all
          select u.t, u.s, u.k, false from unnest(et, es, ek) u(t, s, k)) x
    group by x.t, x.s order by x.t, x.s collate "C"
  loop
    perform caterking_private.prep_lock(g.t, g.s);
    if g.kinds is not null then
      perform caterking_private.prep_refresh(g.t, g.s, g.kinds);
    end if;
    if g.opens then
      for ensure in
        select u.k, u.u from unnest(et, es, ek, eu) u(t, s, k, u)
        where u.t = g.t and u.s = g.s order by u.k collate "C"
      loop
        if not exists (select 1 from public.prep_estimates x
                       where x.tenant_id = g.t and x.task_key = ensure.k
                         and x.station = g.s) then
          perform caterking_private.prep_put(g.t, ensure.k, g.s,
            caterking_private.prep_estimate_of(g.t, ensure.k, g.s, ensure.u));
        end if;
      end loop;
    end if;
  end loop;
  return null;
end
$$;
revoke all on function caterking_private.tasks_learn() from public;

create trigger tasks_learn_insert after insert on public.tasks
  referencing new table as new_rows
  for each statement execute function caterking_private.tasks_learn();
create trigger tasks_learn_update after update on public.tasks
  referencing old table as old_rows new table as new_rows
  for each statement execute function caterking_private.tasks_learn();
create trigger tasks_learn_delete after delete on public.tasks
  referencing old table as old_rows
  for each statement execute function caterking_private.tasks_learn();

-- Rebuild -----------------------------------------------------------------------------------

-- Recompute everything from the tasks' own timestamps, for one tenant or all: samples,
-- exact rows, then every other row that must exist (kinds with samples or open tasks);
-- rows no longer needed are deleted; both tables are analysed. Writers wait meanwhile.
-- Returns what it did. `caterking-display estimates rebuild` calls it.
create function caterking_private.rebuild_prep_estimates(p_tenant uuid default null)
returns jsonb
language plpgsql security definer
set search_path = pg_catalog, extensions, public, pg_temp
as $$
declare
  v_samples integer;
  v_exact integer := 0;
  v_borrowed integer := 0;
  v_changed integer := 0;
  v_deleted integer;
  g record;
begin
  lock table public.prep_samples, public.prep_estimates in exclusive mode;
  delete from public.prep_samples where p_tenant is null or tenant_id = p_tenant;
  insert into public.prep_samples (task_id, tenant_id, kitchen_id, kind, station, quantity,
      unit, duration_seconds, chef_id, claimed_at, completed_at)
    select v.task_id, v.tenant_id, v.kitchen_id, v.kind, v.station, v.quantity, v.unit,
           v.duration_seconds, v.chef_id, v.claimed_at, v.completed_at
    from caterking_private.task_prep_samples v
    where p_tenant is null or v.tenant_id = p_tenant;
  get diagnostics v_samples = row_count;

  -- Exact rows first: borrowing reads them. A row that was exact and is no longer is
  -- marked none until its turn below (or deleted if no longer needed).
  create temp table prep_rebuild_exact on commit drop as
    select s.tenant_id, s.kind, s.station from public.prep_samples s
    where p_tenant is null or s.tenant_id = p_tenant
    group by s.tenant_id, s.kind, s.station having count(*) >= 3;
  update public.prep_estimates e set basis = 'none', updated_at = now()
    where (p_tenant is null or e.tenant_id = p_tenant) and e.basis = 'exact'
      and not exists (select 1 from prep_rebuild_exact x where x.tenant_id = e.tenant_id
                      and x.kind = e.task_key and x.station = e.station);
  for g in select * from prep_rebuild_exact loop
    if caterking_private.prep_put(g.tenant_id, g.kind, g.station,
         caterking_private.prep_estimate_of(g.tenant_id, g.kind, g.station, null)) then
      v_changed := v_changed + 1;
    end if;
    v_exact := v_exact + 1;
  end loop;

  create temp table prep_rebuild_rows on commit drop as
    select s.tenant_id, s.kind, s.station from public.prep_samples s
    where p_tenant is null or s.tenant_id = p_tenant
    union
    select t.tenant_id, t.kind, t.station from public.tasks t
    where t.status in ('pending', 'claimed') and (p_tenant is null or t.tenant_id = p_tenant);
  for g in
    select r.* from prep_rebuild_rows r
    where not exists (select 1 from prep_rebuild_exact x where x.tenant_id = r.tenant_id
                      and x.kind = r.kind and x.station = r.station)
    order by r.tenant_id, r.station collate "C", r.kind collate "C"
  loop
    if caterking_private.prep_put(g.tenant_id, g.kind, g.station,
         caterking_private.prep_estimate_of(g.tenant_id, g.kind, g.station,
           caterking_private.prep_row_unit(g.tenant_id, g.kind, g.station))) then
      v_changed := v_changed + 1;
    end if;
    v_borrowed := v_borrowed + 1;
  end loop;

  delete from public.prep_estimates e
    where (p_tenant is null or e.tenant_id = p_tenant)
      and not exists (select 1 from prep_rebuild_rows r where r.tenant_id = e.tenant_id
                      and r.kind = e.task_key and r.station = e.station);
  get diagnostics v_deleted = row_count;
  -- Fresh planner statistics: with stale ones the similarity search may scan every row.
  analyze public.prep_samples;
  analyze public.prep_estimates;
  return jsonb_build_object('samples', v_samples, 'exact_rows', v_exact,
                            'borrowed_rows', v_borrowed, 'rows_changed', v_changed,
                            'rows_deleted', v_deleted);
end
$$;
revoke all on function caterking_private.rebuild_prep_estimates(uuid) from public;
grant execute on function caterking_private.rebuild_prep_estimates(uuid) to service_role;

-- The read contract -------------------------------------------------------------------------

-- How long a task should take, for any title (seen before or not), for the caller's
-- tenant: {"p50_minutes", "p90_minutes", "basis", "similar_to", "samples", "kind"}. The
-- figures are the row the boards read for (kind, station) when there is one, else
-- computed the same way; scaled to p_quantity when p_unit is the row's unit.
create function public.estimate_for(p_title text, p_quantity numeric, p_unit text,
  p_station text) returns jsonb
language plpgsql stable security definer
set search_path = pg_catalog, extensions, public, pg_temp
as $$
declare
  v_role text := coalesce(auth.jwt() ->> 'role', 'anon');
  v_tenant uuid := caterking_private.current_tenant();
  v_kind text := coalesce(public.task_kind(p_title), '');
  v_station text := coalesce(p_station, '');
  v_unit text := caterking_private.prep_unit(p_unit);
  e caterking_private.prep_estimate;
  p50 numeric;
  p90 numeric;
begin
  if v_role not in ('authenticated', 'service_role') then
    raise exception 'permission denied for estimate_for' using errcode = '42501';
  end if;
  if v_tenant is null then
    raise exception 'estimate_for needs a tenant: the JWT has no app_metadata.tenant_id'
      using errcode = '42501';
  end if;
  select x.p50_minutes, x.p90_minutes, x.unit, x.p50_setup_minutes, x.p50_minutes_per_unit,
         x.p90_setup_minutes, x.p90_minutes_per_unit, x.basis, x.similar_to, x.samples
    into e
    from public.prep_estimates x
    where x.tenant_id = v_tenant and x.task_key = v_kind and x.station = v_station;
  if not found then
    e := caterking_private.prep_estimate_of(v_tenant, v_kind, v_station, v_unit);
  end if;
  p50 := e.p50_minutes;
  p90 := e.p90_minutes;
  if p_quantity is not null and v_unit is not null and v_unit = e.unit
     and e.p50_minutes_per_unit is not null then
    p50 := e.p50_setup_minutes + e.p50_minutes_per_unit * p_quantity;
    p90 := e.p90_setup_minutes + e.p90_minutes_per_unit * p_quantity;
  end if;
  return jsonb_build_object('p50_minutes', round(p50, 1),
                            'p90_minutes', round(greatest(p90, p50), 1),
                            'basis', e.basis, 'similar_to', to_jsonb(e.similar_to),
                            'samples', e.samples, 'kind', v_kind);
end
$$;
revoke all on function public.estimate_for(text, numeric, text, text) from public, anon;
grant execute on function public.estimate_for(text, numeric, text, text)
  to authenticated, service_role;

-- Private helpers: only the functions above (their owner) call them.
revoke all on function
  caterking_private.prep_p90_level(bigint),
  caterking_private.prep_summary(float8[], float8[], text[]),
  caterking_private.prep_kind_stats(uuid, text, text),
  caterking_private.prep_station_estimate(uuid, text),
  caterking_private.prep_borrowed(uuid, text, text, text, text[]),
  caterking_private.prep_estimate_of(uuid, text, text, text, text[]),
  caterking_private.prep_row_unit(uuid, text, text),
  caterking_private.prep_put(uuid, text, text, caterking_private.prep_estimate),
  caterking_private.prep_lock(uuid, text),
  caterking_private.prep_refresh(uuid, text, text[])
  from public;

-- Access to the new table -------------------------------------------------------------------

alter table public.prep_samples enable row level security;
alter table public.prep_samples force row level security;
create policy prep_samples_read on public.prep_samples for select to authenticated
  using (tenant_id = (select caterking_private.current_tenant()));
revoke all on public.prep_samples from anon, authenticated;
grant select on public.prep_samples to authenticated;
grant all on public.prep_samples to service_role;

-- Trigram indexes, and pg_trgm wherever it lives ------------------------------------------

do $$
declare
  v_schema text := (select n.nspname from pg_extension x
                    join pg_namespace n on n.oid = x.extnamespace where x.extname = 'pg_trgm');
  f text;
begin
  execute format('create index tasks_kind_trgm_idx on public.tasks '
                 'using gin (kind %I.gin_trgm_ops)', v_schema);
  -- No pending list (fastupdate): every search would scan its unmerged entries, and
  -- searches (borrowing, estimate_for) matter more here than the one write per change.
  execute format('create index prep_estimates_kind_trgm_idx on public.prep_estimates '
                 'using gin (task_key %I.gin_trgm_ops) with (fastupdate = off) '
                 'where basis = ''exact''', v_schema);
  -- pg_trgm already installed in a third schema: put that schema on the functions' path.
  if v_schema not in ('extensions', 'public') then
    foreach f in array array[
      'caterking_private.prep_borrowed(uuid, text, text, text, text[])',
      'caterking_private.prep_refresh(uuid, text, text[])',
      'caterking_private.tasks_learn()',
      'caterking_private.rebuild_prep_estimates(uuid)',
      'public.estimate_for(text, numeric, text, text)'] loop
      execute format('alter function %s set search_path = pg_catalog, %I, public, pg_temp',
                     f, v_schema);
    end loop;
  end if;
end
$$;

-- Learn from the history there is (nothing on a new database).
select caterking_private.rebuild_prep_estimates(null);

notify pgrst, 'reload schema';
