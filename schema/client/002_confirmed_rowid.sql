-- The confirmed state in an ordinary table with a unique index on its key, instead of a table
-- clustered on (type, id). Records are hundreds of bytes, and a first sync inserts them in random
-- key order: in a clustered table that splits pages all over the file. Rows now go to the end of
-- the table, and only the small index entries land at random. On a first sync of 40,000 cases:
-- about 20 ms instead of about 40 ms to write a page of 500, and 740 instead of 814 bytes per case.
CREATE TABLE confirmed_rows (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (type, id)
);
INSERT INTO confirmed_rows (type, id, record) SELECT type, id, record FROM confirmed;
DROP TABLE confirmed;
ALTER TABLE confirmed_rows RENAME TO confirmed;
