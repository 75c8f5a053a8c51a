-- A refresh token's grace retry (the previous token presented again shortly after a rotation,
-- because the answer was lost) is allowed once: when it was used. Cleared by the next rotation.
ALTER TABLE device ADD COLUMN grace_used_at BIGINT;
