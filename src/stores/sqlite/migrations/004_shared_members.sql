-- Version 4: named sets of SharedState (addMembers / members): one row per member, keyed by
-- (set, member), so adding one is one row whatever the set's size and a page is a range of the key.
-- WhatsApp consent lists every recorded number from one (the old index was one JSON value
-- rewritten whole on every record).
CREATE TABLE IF NOT EXISTS shared_members (set_key TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (set_key, member)) WITHOUT ROWID;
