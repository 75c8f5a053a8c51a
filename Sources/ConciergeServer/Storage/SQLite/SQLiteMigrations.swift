// The SQLite schema, embedded so that the server is one binary. The source of truth is
// schema/sqlite/; a test fails when this copy and the file differ.

public enum SQLiteMigrations {
    /// Numbered migrations, applied in order, each in its own transaction.
    public static let all: [(name: String, sql: String)] = [
        ("001_initial", initial),
        ("002_snapshot_order", snapshotOrder),
        ("003_record_image", recordImage),
        ("004_refresh_grace", refreshGrace),
        ("005_contact_intake", contactIntake),
        ("006_outbound_delivery", outboundDelivery),
        ("007_first_tag_index", firstTagIndex),
    ]

    static let firstTagIndex = #"""
        -- A record's audience is stored with its tags sorted, so a case's or a profile's customer tag
        -- (`customer:<id>`) is always its first: this index finds a customer's records without reading the
        -- audience of every record (the contact intake looks up a caller's open cases; docs/intake.md).
        CREATE INDEX record_by_first_tag ON record(type, json_extract(audience, '$[0]'));

        """#

    static let outboundDelivery = #"""
        -- Replies on the customer's channel: an outbound message on a channel other than the app waits here
        -- for the integration that delivers it (docs/intake.md, "Replies"). The row holds no content: the
        -- message is read from the case when it is handed out, so an erasure reaches it too.
        -- state: pending (handed out again once its lease ran out: at least once), delivered or failed.
        -- integration_id is null when no integration of the provider takes the channel (state failed).
        CREATE TABLE outbound_delivery (
            delivery_id TEXT PRIMARY KEY,
            provider_id TEXT NOT NULL,
            integration_id TEXT,
            case_id TEXT NOT NULL,
            entry_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            leased_until INTEGER NOT NULL DEFAULT 0,
            detail TEXT,
            created_at INTEGER NOT NULL,
            finished_at INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX outbound_delivery_waiting ON outbound_delivery(integration_id, state, created_at);

        """#

    static let contactIntake = #"""
        -- Contact intake: channel integrations (role integration) authenticate with API keys, and every
        -- inbound contact (e-mail, call, SMS, chat, ...) lands on a case timeline, matched to its customer
        -- by contact point and to its case by reference or e-mail thread (docs/intake.md).

        -- The region a provider's national phone numbers are read in (ISO 3166 alpha-2, say DE).
        ALTER TABLE provider ADD COLUMN default_region TEXT;

        -- API keys of integrations: `ck_<key_id>_<secret>`, stored as the secret's SHA-256; each limited to
        -- channels (a comma-separated list). Several per integration, so that a key rotates without downtime.
        CREATE TABLE integration_key (
            key_id TEXT PRIMARY KEY,
            principal_id TEXT NOT NULL REFERENCES principal(id),
            secret_hash BLOB NOT NULL,
            channels TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        CREATE INDEX integration_key_by_principal ON integration_key(principal_id);

        -- A customer's contact points as the server matches them: kind phone (E.164, or as written when it
        -- could not be read), email (trimmed, lower case) or social (network:handle, lower case).
        -- verified_by: how the point was confirmed (null: seen on an inbound contact, unverified).
        CREATE TABLE contact_point (
            provider_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            customer_id TEXT NOT NULL REFERENCES principal(id),
            verified_by TEXT,
            verified_at INTEGER,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (provider_id, kind, value)
        ) WITHOUT ROWID;
        CREATE INDEX contact_point_by_customer ON contact_point(customer_id);

        -- Every contact taken in, by the channel's own id: a delivery repeated finds it here. message_id:
        -- an e-mail's Message-ID, which later replies name in In-Reply-To and References.
        CREATE TABLE contact_intake (
            provider_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            case_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            entry_id TEXT NOT NULL,
            message_id TEXT,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (provider_id, channel, channel_id)
        ) WITHOUT ROWID;
        CREATE INDEX contact_intake_by_message ON contact_intake(provider_id, message_id);

        """#

    static let refreshGrace = #"""
        -- A refresh token's grace retry (the previous token presented again shortly after a rotation,
        -- because the answer was lost) is allowed once: when it was used. Cleared by the next rotation.
        ALTER TABLE device ADD COLUMN grace_used_at INTEGER;

        """#

    static let recordImage = #"""
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

        """#

    static let snapshotOrder = #"""
        -- Paged reset snapshots, newest activity first: each record's last log position.
        ALTER TABLE record ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX record_last_seq ON record (last_seq);

        """#

    static let initial = #"""
        -- Concierge server, SQLite engine: the first schema.
        -- Names are singular snake_case, the same as in the PostgreSQL schema.

        -- Server-wide values: the epoch (changes when the database is restored or replaced).
        CREATE TABLE server_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        CREATE TABLE provider (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );

        -- Customers, agents, specialists, technicians, supervisors and integrations.
        CREATE TABLE principal (
            id TEXT PRIMARY KEY,
            provider_id TEXT NOT NULL REFERENCES provider(id),
            role TEXT NOT NULL,
            display_name TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );

        -- The audience tags a principal reads: customer:<id>, provider:<id>, skill:<provider>:<skill>, ...
        CREATE TABLE principal_tag (
            principal_id TEXT NOT NULL REFERENCES principal(id),
            tag TEXT NOT NULL,
            PRIMARY KEY (principal_id, tag)
        ) WITHOUT ROWID;
        CREATE INDEX principal_tag_by_tag ON principal_tag(tag, principal_id);

        -- One-time enrolment codes, stored as SHA-256 hashes.
        CREATE TABLE enrolment_code (
            code_hash BLOB PRIMARY KEY,
            principal_id TEXT NOT NULL REFERENCES principal(id),
            expires_at INTEGER NOT NULL,
            used_at INTEGER
        );

        -- Enrolled devices; the replica id is minted here and never reused. Refresh tokens are stored as
        -- SHA-256 hashes; the previous one is kept to detect reuse (which revokes the device), except
        -- within a short grace period after a rotation (a retry after a lost answer).
        CREATE TABLE device (
            replica_id TEXT PRIMARY KEY,
            principal_id TEXT NOT NULL REFERENCES principal(id),
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER,
            refresh_hash BLOB NOT NULL,
            previous_refresh_hash BLOB,
            rotated_at INTEGER,
            last_seen_at INTEGER,
            acked_epoch TEXT,
            acked_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX device_by_principal ON device(principal_id);

        -- One row per record: its markers and current audience (a JSON array of tags).
        CREATE TABLE record (
            type TEXT NOT NULL,
            id TEXT NOT NULL,
            deleted TEXT,
            redacted TEXT,
            audience TEXT NOT NULL,
            PRIMARY KEY (type, id)
        ) WITHOUT ROWID;

        -- One row per register or set field (its state in the binary form, docs/encoding.md; canonical
        -- JSON in rows written before it); a change rewrites only the
        -- fields it touches. Log fields keep their entry redactions here and their entries below.
        CREATE TABLE record_field (
            type TEXT NOT NULL,
            id TEXT NOT NULL,
            field TEXT NOT NULL,
            state BLOB NOT NULL,
            PRIMARY KEY (type, id, field)
        ) WITHOUT ROWID;

        -- One row per log entry (binary form, or canonical JSON as above): an append writes one row.
        CREATE TABLE record_entry (
            type TEXT NOT NULL,
            id TEXT NOT NULL,
            field TEXT NOT NULL,
            entry_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            state BLOB NOT NULL,
            PRIMARY KEY (type, id, field, entry_id)
        ) WITHOUT ROWID;

        -- The change log: every accepted change set, in commit order. AUTOINCREMENT: a sequence number is
        -- never used twice, even after compaction deleted the newest rows.
        CREATE TABLE change_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            replica_id TEXT NOT NULL,
            set_seq INTEGER NOT NULL,
            change_set BLOB NOT NULL,
            committed_at INTEGER NOT NULL
        );

        -- Who may read which record of a logged set: the record's audience at commit time.
        CREATE TABLE change_audience (
            tag TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            id TEXT NOT NULL,
            PRIMARY KEY (tag, seq, type, id)
        ) WITHOUT ROWID;

        -- enter and leave events, per principal, in log order.
        CREATE TABLE scope_event (
            principal_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            type TEXT NOT NULL,
            id TEXT NOT NULL,
            PRIMARY KEY (principal_id, seq, type, id)
        ) WITHOUT ROWID;

        -- The outcome of every change set: accepted (with the log position) or finally rejected.
        CREATE TABLE change_set_outcome (
            replica_id TEXT NOT NULL,
            set_seq INTEGER NOT NULL,
            content_hash BLOB NOT NULL,
            status TEXT NOT NULL,
            code TEXT,
            message TEXT,
            log_seq INTEGER,
            PRIMARY KEY (replica_id, set_seq)
        ) WITHOUT ROWID;

        """#
}
