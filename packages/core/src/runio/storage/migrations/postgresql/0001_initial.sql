-- runio schema, version 1 (PostgreSQL). Times are seconds since the epoch (DOUBLE PRECISION); JSON is
-- TEXT, stored as written, so both dialects hand back the same text. The tables go to the first schema
-- of the connection's search_path (set `options=-csearch_path=runio` in the URL to keep them apart).

CREATE TABLE jobs (
    app_id      TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    version     TEXT NOT NULL,
    name        TEXT NOT NULL,
    event_name  TEXT NOT NULL,
    trigger     TEXT,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (app_id, job_id)
);
CREATE INDEX jobs_by_event ON jobs (app_id, event_name);

CREATE TABLE events (
    app_id      TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    timestamp   DOUBLE PRECISION NOT NULL,
    deliver_at  DOUBLE PRECISION,
    PRIMARY KEY (app_id, id)
);

-- Leases are renewed often: lease_expires is left out of every index so a heartbeat is a HOT update,
-- and the free space kept in each page (fillfactor) lets those updates stay in place.
CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    job_version     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    output          TEXT,
    error           TEXT,
    created_at      DOUBLE PRECISION NOT NULL,
    started_at      DOUBLE PRECISION,
    ended_at        DOUBLE PRECISION,
    ready_at        DOUBLE PRECISION,
    lease_owner     TEXT,
    lease_expires   DOUBLE PRECISION,
    lease_token     BIGINT NOT NULL DEFAULT 0,
    execution_count INTEGER NOT NULL DEFAULT 0,
    is_retry        BOOLEAN NOT NULL DEFAULT FALSE,
    replay_of       TEXT
) WITH (fillfactor = 80);
-- What claims scan: runs waiting for their time, in time order, and the (few) executing runs.
CREATE INDEX runs_ready ON runs (app_id, ready_at) WHERE status IN ('QUEUED', 'WAITING');
CREATE INDEX runs_executing ON runs (app_id) WHERE status = 'EXECUTING';
CREATE INDEX runs_by_event ON runs (app_id, event_id);
CREATE INDEX runs_by_created ON runs (created_at);
CREATE INDEX runs_by_app_created ON runs (app_id, created_at);

-- A run's tasks are found through the primary key; ids are time-ordered, so they also give
-- the order in which the tasks were created. Every update names (run_id, id).
CREATE TABLE tasks (
    run_id             TEXT NOT NULL,
    id                 TEXT NOT NULL,
    parent_id          TEXT,
    idempotency_key    TEXT NOT NULL,
    cache_key          TEXT NOT NULL,
    kind               TEXT NOT NULL,
    name               TEXT NOT NULL,
    icon               TEXT,
    properties         TEXT,
    params             TEXT,
    style              TEXT,
    redact             TEXT,
    status             TEXT NOT NULL,
    output             TEXT,
    output_properties  TEXT,
    error              TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    attempt_base       INTEGER NOT NULL DEFAULT 0,
    retry_at           DOUBLE PRECISION,
    wake_at            DOUBLE PRECISION,
    depth              INTEGER NOT NULL,
    created_at         DOUBLE PRECISION NOT NULL,
    started_at         DOUBLE PRECISION,
    ended_at           DOUBLE PRECISION,
    PRIMARY KEY (run_id, id),
    UNIQUE (run_id, idempotency_key)
);

CREATE TABLE attempts (
    task_id     TEXT NOT NULL,
    number      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    started_at  DOUBLE PRECISION NOT NULL,
    ended_at    DOUBLE PRECISION,
    error       TEXT,
    PRIMARY KEY (task_id, number)
);

CREATE TABLE logs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    task_id     TEXT,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL,
    data        TEXT,
    created_at  DOUBLE PRECISION NOT NULL,
    UNIQUE (run_id, scope, seq)
);
