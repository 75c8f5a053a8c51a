-- Paged reset snapshots, newest activity first: each record's last log position.
ALTER TABLE record ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX record_last_seq ON record (last_seq);
