// The replica file's schema, embedded so that the CLI is one binary. The source of truth is
// schema/client/; a test fails when this copy and the file differ.

public enum ClientMigrations {
    /// Numbered migrations, applied in order, each in its own transaction.
    public static let all: [(name: String, sql: String)] = [
        ("001_initial", initial),
        ("002_confirmed_rowid", confirmedRowid),
    ]

    static let initial = #"""
        -- Concierge replica file (one per account, mode 0600): the first schema.
        -- The file's application_id is 0x434F4E43 ("CONC"); a file without it is never opened for writing.

        -- The account this replica belongs to, and its tokens. Exactly one row.
        CREATE TABLE account (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            server TEXT NOT NULL,
            replica TEXT NOT NULL,
            principal TEXT NOT NULL,
            provider TEXT NOT NULL,
            role TEXT NOT NULL,
            refresh_token TEXT NOT NULL,
            access_token TEXT NOT NULL,
            -- A short name the user picked (or principal@host).
            label TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            -- The last sync attempt: when, whether it finished, and its one-line summary.
            last_sync_at INTEGER,
            last_sync_ok INTEGER,
            last_sync_summary TEXT
        );

        -- Where the replica's sync stands. Exactly one row.
        CREATE TABLE replica_meta (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            replica TEXT NOT NULL,
            principal TEXT NOT NULL,
            role TEXT NOT NULL,
            -- epoch:seq of the last pull, NULL before the first.
            cursor TEXT,
            -- While a paged reset snapshot is under way: the token of its next page.
            snapshot TEXT,
            -- The hybrid logical clock's latest value (48-bit milliseconds, 16-bit counter).
            clock INTEGER NOT NULL,
            next_seq INTEGER NOT NULL
        );

        -- The confirmed state: what pulls delivered, one record per row (binary form; canonical JSON in
        -- files written before it, still read).
        CREATE TABLE confirmed (
            type TEXT NOT NULL,
            id TEXT NOT NULL,
            record BLOB NOT NULL,
            PRIMARY KEY (type, id)
        ) WITHOUT ROWID;

        -- The outbox: this replica's change sets (compact binary form) and how far each got.
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            replica TEXT NOT NULL,
            -- pending, sent, acknowledged or delivered.
            state TEXT NOT NULL,
            -- The log position of an accepted set (epoch:seq).
            position TEXT,
            change_set BLOB NOT NULL
        );

        -- Which records each outbox set touches.
        CREATE TABLE outbox_key (
            type TEXT NOT NULL,
            id TEXT NOT NULL,
            seq INTEGER NOT NULL REFERENCES outbox(seq) ON DELETE CASCADE,
            PRIMARY KEY (type, id, seq)
        ) WITHOUT ROWID;
        CREATE INDEX outbox_key_seq ON outbox_key (seq);

        -- Sets the server refused for good, or that lost their scope, with the reason.
        CREATE TABLE rejected (
            n INTEGER PRIMARY KEY AUTOINCREMENT,
            change_set BLOB NOT NULL,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            at INTEGER NOT NULL
        );

        -- Read marks: the newest timeline stamp the user has seen per case.
        CREATE TABLE read_mark (
            case_id TEXT PRIMARY KEY,
            seen TEXT NOT NULL
        ) WITHOUT ROWID;

        """#

    static let confirmedRowid = #"""
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

        """#
}
