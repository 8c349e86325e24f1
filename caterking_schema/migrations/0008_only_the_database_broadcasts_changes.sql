-- Migration 0008: on a kitchen's main topic, only the database broadcasts.
--
-- Since 0007 a board may take every change of its kitchen from the broadcasts on the
-- private topic `kitchen:<kitchen_id>` (events 'INSERT', 'UPDATE', 'DELETE' sent by the
-- triggers). 0002 let every display of the kitchen broadcast on that topic too, so one
-- display (a stolen tablet, a hostile client on the LAN) could send an 'UPDATE' shaped
-- like the database's and the other boards would show it. From now on:
--
--   * a display may track presence on its kitchen's topics, and broadcast only on the
--     sub-topics `kitchen:<kitchen_id>:<anything>`, never on `kitchen:<kitchen_id>`;
--   * other signed-in users of the tenant (Admin) keep broadcasting on the main topic
--     (announcements, 'announcement' events), as before;
--   * the triggers and feed_probe write as the table owner, past these policies.
--
-- Realtime checks the broadcast and the presence permissions separately at join (a
-- probe row of each extension), so a display still joins and tracks presence on the
-- main topic; a broadcast it sends there is refused ("Unauthorized", or nothing relayed).

drop policy caterking_kitchen_topics_write on realtime.messages;
create policy caterking_kitchen_topics_write on realtime.messages for insert to authenticated
  with check (
    (select caterking_private.may_use_kitchen_topic(realtime.topic()))
    and (
      extension = 'presence'
      or (extension = 'broadcast'
          and (not (select caterking_private.is_display())
               -- `kitchen:` + a 36-character id is 44 characters: longer is a sub-topic
               or length(realtime.topic()) > 44))
    )
  );
