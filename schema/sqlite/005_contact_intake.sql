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
