-- Version 15: named sets of SharedState (addMembers / members): one row per member, keyed by
-- (set, member) in binary order (COLLATE "C", the order every store lists in), so adding one is one
-- row whatever the set's size and a page is an index range. WhatsApp consent lists every recorded
-- number from one (the old index was one jsonb value rewritten whole on every record).
CREATE TABLE shared_members (
  set_key text COLLATE "C" NOT NULL,
  member text COLLATE "C" NOT NULL,
  PRIMARY KEY (set_key, member)
);
