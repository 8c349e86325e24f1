-- Migration 0009: 0008's rule holds whatever other policies a project has.
--
-- Policies of one kind are OR'ed: a permissive insert policy on realtime.messages added
-- by someone else (hosted projects' templates often add "authenticated users may
-- broadcast") would let displays broadcast on `kitchen:<kitchen_id>` again, and forge
-- what boards take for database changes. A restrictive policy is AND'ed with all of
-- them: a display never broadcasts on a kitchen's main topic (`kitchen:` + a UUID and
-- nothing after), only on `kitchen:<kitchen_id>:<anything>` (and, if another policy
-- allows it, on topics that are not a kitchen's). Presence, Admin's
-- announcements and the database's own broadcasts (written by the table owner, past
-- row-level security) are untouched.

create policy caterking_displays_never_broadcast_on_a_main_topic on realtime.messages
  as restrictive for insert to authenticated
  with check (
    extension is distinct from 'broadcast'
    or not (select caterking_private.is_display())
    or coalesce(realtime.topic() !~
         '^kitchen:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
       false)
  );
