-- Snapshot images: each record whole, in the binary form, kept ready so that a snapshot page reads
-- one row per record and copies it into the answer. Built in the background after writes
-- (SnapshotImages). `seq` is the record's last_seq when the image was built: an image whose seq is
-- not the record's current last_seq is stale and never sent. `internal` marks a record with parts
-- that only staff see: customers get it through the record's rows instead.
-- An ordinary table with a unique key: images are large rows, rewritten in place.
CREATE TABLE record_image (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    internal INTEGER NOT NULL,
    image BLOB NOT NULL
);
CREATE UNIQUE INDEX record_image_key ON record_image (type, id);
