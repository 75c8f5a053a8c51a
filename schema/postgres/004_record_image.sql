-- Snapshot images: each record whole, in the binary form, kept ready so that a snapshot page reads
-- one row per record and copies it into the answer (see schema/sqlite/003_record_image.sql). Built
-- in the background after writes, by one instance at a time (an advisory lock per batch). `seq` is
-- the record's last_seq when the image was built; an image whose seq is not the record's current
-- last_seq is stale and never sent. `internal` marks a record with parts only staff see.
CREATE TABLE record_image (
    type text NOT NULL,
    id text NOT NULL,
    seq bigint NOT NULL,
    internal boolean NOT NULL,
    image bytea NOT NULL,
    PRIMARY KEY (type, id)
);
