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
