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
