-- runio schema, version 2 (PostgreSQL): API keys for the HTTP server. Only a SHA-256 hash of each
-- key's secret is stored; the key itself is shown once, when it is created.

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    revoked_at   DOUBLE PRECISION
);
