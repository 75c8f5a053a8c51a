-- Keys compare byte by byte (the "C" collation), whatever the database's locale: the order the
-- SQLite engine and canonical JSON use, and a btree comparison that is a memcmp, not a locale's
-- strcoll (statement times in the push benchmark fell by about a fifth). Every text column
-- that is part of a key, an index or a join is changed; the indexes on them are rebuilt.
ALTER TABLE server_meta ALTER COLUMN key TYPE text COLLATE "C";
ALTER TABLE provider ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE principal ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN provider_id TYPE text COLLATE "C";
ALTER TABLE principal_tag ALTER COLUMN principal_id TYPE text COLLATE "C",
    ALTER COLUMN tag TYPE text COLLATE "C";
ALTER TABLE enrolment_code ALTER COLUMN principal_id TYPE text COLLATE "C";
ALTER TABLE device ALTER COLUMN replica_id TYPE text COLLATE "C",
    ALTER COLUMN principal_id TYPE text COLLATE "C";
ALTER TABLE record ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN audience TYPE text[] COLLATE "C";
ALTER TABLE record_field ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN field TYPE text COLLATE "C";
ALTER TABLE record_entry ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN field TYPE text COLLATE "C",
    ALTER COLUMN entry_id TYPE text COLLATE "C";
ALTER TABLE change_audience ALTER COLUMN tag TYPE text COLLATE "C",
    ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE scope_event ALTER COLUMN principal_id TYPE text COLLATE "C",
    ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE change_set_outcome ALTER COLUMN replica_id TYPE text COLLATE "C";
