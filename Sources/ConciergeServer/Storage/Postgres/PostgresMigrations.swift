// The PostgreSQL schema, embedded so that the server is one binary. The source of truth is
// schema/postgres/; a test fails when this copy and the file differ.

public enum PostgresMigrations {
    /// Numbered migrations, applied in order, each in its own transaction.
    public static let all: [(name: String, sql: String)] = [
        ("001_initial", initial),
        ("002_byte_order", byteOrder),
        ("003_lean_audience", leanAudience),
        ("004_record_image", recordImage),
        ("005_refresh_grace", refreshGrace),
        ("006_contact_intake", contactIntake),
        ("007_outbound_delivery", outboundDelivery),
    ]

    static let outboundDelivery = #"""
        -- Replies on the customer's channel: an outbound message on a channel other than the app waits here
        -- for the integration that delivers it (docs/intake.md, "Replies"). The row holds no content: the
        -- message is read from the case when it is handed out, so an erasure reaches it too.
        -- state: pending (handed out again once its lease ran out: at least once), delivered or failed.
        -- integration_id is null when no integration of the provider takes the channel (state failed).
        CREATE TABLE outbound_delivery (
            delivery_id text PRIMARY KEY,
            provider_id text NOT NULL,
            integration_id text,
            case_id text NOT NULL,
            entry_id text NOT NULL,
            channel text NOT NULL,
            state text NOT NULL,
            attempts bigint NOT NULL DEFAULT 0,
            leased_until bigint NOT NULL DEFAULT 0,
            detail text,
            created_at bigint NOT NULL,
            finished_at bigint
        );
        CREATE INDEX outbound_delivery_waiting ON outbound_delivery(integration_id, state, created_at);

        """#

    static let contactIntake = #"""
        -- Contact intake: channel integrations (role integration) authenticate with API keys, and every
        -- inbound contact (e-mail, call, SMS, chat, ...) lands on a case timeline, matched to its customer
        -- by contact point and to its case by reference or e-mail thread (docs/intake.md).

        -- The region a provider's national phone numbers are read in (ISO 3166 alpha-2, say DE).
        ALTER TABLE provider ADD COLUMN default_region text;

        -- API keys of integrations: `ck_<key_id>_<secret>`, stored as the secret's SHA-256; each limited to
        -- channels (a comma-separated list). Several per integration, so that a key rotates without downtime.
        CREATE TABLE integration_key (
            key_id text PRIMARY KEY,
            principal_id text NOT NULL REFERENCES principal(id),
            secret_hash bytea NOT NULL,
            channels text NOT NULL,
            created_at bigint NOT NULL,
            revoked_at bigint
        );
        CREATE INDEX integration_key_by_principal ON integration_key(principal_id);

        -- A customer's contact points as the server matches them: kind phone (E.164, or as written when it
        -- could not be read), email (trimmed, lower case) or social (network:handle, lower case).
        -- verified_by: how the point was confirmed (null: seen on an inbound contact, unverified).
        CREATE TABLE contact_point (
            provider_id text NOT NULL,
            kind text NOT NULL,
            value text NOT NULL,
            customer_id text NOT NULL REFERENCES principal(id),
            verified_by text,
            verified_at bigint,
            created_at bigint NOT NULL,
            PRIMARY KEY (provider_id, kind, value)
        );
        CREATE INDEX contact_point_by_customer ON contact_point(customer_id);

        -- Every contact taken in, by the channel's own id: a delivery repeated finds it here. message_id:
        -- an e-mail's Message-ID, which later replies name in In-Reply-To and References.
        CREATE TABLE contact_intake (
            provider_id text NOT NULL,
            channel text NOT NULL,
            channel_id text NOT NULL,
            case_id text NOT NULL,
            customer_id text NOT NULL,
            entry_id text NOT NULL,
            message_id text,
            created_at bigint NOT NULL,
            PRIMARY KEY (provider_id, channel, channel_id)
        );
        CREATE INDEX contact_intake_by_message ON contact_intake(provider_id, message_id);

        """#

    static let refreshGrace = #"""
        -- A refresh token's grace retry (the previous token presented again shortly after a rotation,
        -- because the answer was lost) is allowed once: when it was used. Cleared by the next rotation.
        ALTER TABLE device ADD COLUMN grace_used_at BIGINT;

        """#

    static let recordImage = #"""
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

        """#

    static let initial = #"""
        -- Concierge server, PostgreSQL engine: the first schema.
        -- The same tables as the SQLite engine (schema/sqlite), in PostgreSQL's types. Times are
        -- milliseconds since 1970 (bigint); hashes and payloads are bytea: change sets as canonical JSON,
        -- field and entry states in the binary form of docs/encoding.md (canonical JSON in rows written
        -- before it).

        -- Server-wide values: the epoch, the server's own replica id and clock, the signing key.
        CREATE TABLE server_meta (
            key text PRIMARY KEY,
            value text NOT NULL
        );

        -- The last log position ever assigned. A push holds this row (SELECT ... FOR UPDATE) from its
        -- first read to its commit, so log positions commit in order: see docs/operations.md.
        CREATE TABLE log_head (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            seq bigint NOT NULL
        );
        INSERT INTO log_head (singleton, seq) VALUES (true, 0);

        CREATE TABLE provider (
            id text PRIMARY KEY,
            name text NOT NULL,
            created_at bigint NOT NULL
        );

        -- Customers, agents, specialists, technicians, supervisors and integrations.
        CREATE TABLE principal (
            id text PRIMARY KEY,
            provider_id text NOT NULL REFERENCES provider (id),
            role text NOT NULL,
            display_name text NOT NULL,
            created_at bigint NOT NULL
        );

        -- The audience tags a principal reads, and its skills and queues.
        CREATE TABLE principal_tag (
            principal_id text NOT NULL REFERENCES principal (id),
            tag text NOT NULL,
            PRIMARY KEY (principal_id, tag)
        );
        CREATE INDEX principal_tag_by_tag ON principal_tag (tag, principal_id);

        -- One-time enrolment codes, stored as SHA-256 hashes.
        CREATE TABLE enrolment_code (
            code_hash bytea PRIMARY KEY,
            principal_id text NOT NULL REFERENCES principal (id),
            expires_at bigint NOT NULL,
            used_at bigint
        );

        -- Enrolled devices, with hashed refresh tokens (the previous one kept to detect reuse) and the
        -- cursor each replica acknowledged (compaction's measure).
        CREATE TABLE device (
            replica_id text PRIMARY KEY,
            principal_id text NOT NULL REFERENCES principal (id),
            name text NOT NULL,
            created_at bigint NOT NULL,
            revoked_at bigint,
            refresh_hash bytea NOT NULL,
            previous_refresh_hash bytea,
            rotated_at bigint,
            last_seen_at bigint,
            acked_epoch text,
            acked_seq bigint NOT NULL DEFAULT 0
        );
        CREATE INDEX device_by_principal ON device (principal_id);

        -- One row per record: its markers, its current audience and its last log position.
        CREATE TABLE record (
            type text NOT NULL,
            id text NOT NULL,
            deleted text,
            redacted text,
            audience text[] NOT NULL,
            last_seq bigint NOT NULL,
            PRIMARY KEY (type, id)
        );
        CREATE INDEX record_last_seq ON record (last_seq);
        CREATE INDEX record_audience ON record USING gin (audience);

        -- One row per register or set field; log fields keep their entry redactions here.
        CREATE TABLE record_field (
            type text NOT NULL,
            id text NOT NULL,
            field text NOT NULL,
            state bytea NOT NULL,
            PRIMARY KEY (type, id, field)
        );

        -- One row per log entry: an append writes one row.
        CREATE TABLE record_entry (
            type text NOT NULL,
            id text NOT NULL,
            field text NOT NULL,
            entry_id text NOT NULL,
            kind text NOT NULL,
            state bytea NOT NULL,
            PRIMARY KEY (type, id, field, entry_id)
        );

        -- The change log: every accepted change set at its position (assigned from log_head).
        CREATE TABLE change_log (
            seq bigint PRIMARY KEY,
            replica_id text NOT NULL,
            set_seq bigint NOT NULL,
            change_set bytea NOT NULL,
            committed_at bigint NOT NULL
        );

        -- Who may read which record of a logged set: the record's audience at commit time.
        CREATE TABLE change_audience (
            tag text NOT NULL,
            seq bigint NOT NULL,
            type text NOT NULL,
            id text NOT NULL,
            PRIMARY KEY (tag, seq, type, id)
        );
        CREATE INDEX change_audience_by_seq ON change_audience (seq);

        -- enter and leave events, per principal, in log order.
        CREATE TABLE scope_event (
            principal_id text NOT NULL,
            seq bigint NOT NULL,
            kind text NOT NULL,
            type text NOT NULL,
            id text NOT NULL,
            PRIMARY KEY (principal_id, seq, type, id)
        );
        CREATE INDEX scope_event_by_seq ON scope_event (seq);

        -- The outcome of every change set: accepted (with the log position) or finally rejected.
        CREATE TABLE change_set_outcome (
            replica_id text NOT NULL,
            set_seq bigint NOT NULL,
            content_hash bytea NOT NULL,
            status text NOT NULL,
            code text,
            message text,
            log_seq bigint,
            PRIMARY KEY (replica_id, set_seq)
        );

        """#

    static let byteOrder = #"""
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

        """#

    static let leanAudience = #"""
        -- Every accepted change set writes an audience row per tag of each record it touches (three for a
        -- routed case), and pulls read them by tag and position only. The index by position served the
        -- hourly compaction alone: it now scans the table instead, and a push writes one index entry
        -- fewer per audience row (PostgreSQL's CPU per `make bench-store` run fell by about 5%).
        DROP INDEX change_audience_by_seq;

        """#
}
