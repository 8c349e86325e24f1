"""A Supabase-compatible local server: embedded Postgres + Auth + REST + Realtime."""
