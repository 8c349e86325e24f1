-- Local stack only (never in schema/migrations): what GoTrue keeps in `auth` beyond
-- the stub `auth.users` the Supabase base creates. Idempotent.

alter table auth.users
  add column if not exists aud text not null default 'authenticated',
  add column if not exists role text not null default 'authenticated',
  add column if not exists encrypted_password text,
  add column if not exists email_confirmed_at timestamptz,
  add column if not exists phone text,
  add column if not exists phone_confirmed_at timestamptz,
  add column if not exists last_sign_in_at timestamptz,
  add column if not exists banned_until timestamptz,
  add column if not exists is_anonymous boolean not null default false;

create unique index if not exists users_email_lower_idx on auth.users (lower(email));

create table if not exists auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  aal text not null default 'aal1',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);

create table if not exists auth.refresh_tokens (
  id bigserial primary key,
  token text not null unique,
  user_id uuid not null references auth.users (id) on delete cascade,
  session_id uuid not null references auth.sessions (id) on delete cascade,
  parent text,
  revoked boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists refresh_tokens_session_id_idx on auth.refresh_tokens (session_id);

revoke all on auth.users, auth.sessions, auth.refresh_tokens from anon, authenticated, service_role;
