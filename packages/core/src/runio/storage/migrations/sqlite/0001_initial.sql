-- runio schema, version 1 (SQLite). Times are seconds since the epoch (REAL); JSON is TEXT.

CREATE TABLE jobs (
    app_id      TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    version     TEXT NOT NULL,
    name        TEXT NOT NULL,
    event_name  TEXT NOT NULL,
    trigger     TEXT,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (app_id, job_id)
);
CREATE INDEX jobs_by_event ON jobs (app_id, event_name);

CREATE TABLE events (
    app_id      TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    timestamp   REAL NOT NULL,
    deliver_at  REAL,
    PRIMARY KEY (app_id, id)
);

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    job_version     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    status          TEXT NOT NULL,
    output          TEXT,
    error           TEXT,
    created_at      REAL NOT NULL,
    started_at      REAL,
    ended_at        REAL,
    ready_at        REAL,
    lease_owner     TEXT,
    lease_expires   REAL,
    lease_token     INTEGER NOT NULL DEFAULT 0,
    execution_count INTEGER NOT NULL DEFAULT 0,
    is_retry        INTEGER NOT NULL DEFAULT 0,
    replay_of       TEXT
);
CREATE INDEX runs_ready ON runs (app_id, status, ready_at);
CREATE INDEX runs_leases ON runs (status, lease_expires);
CREATE INDEX runs_by_event ON runs (app_id, event_id);
CREATE INDEX runs_by_created ON runs (created_at);

-- Clustered by run (ids are time-ordered): a run's tasks load as one contiguous range, and
-- every update names (run_id, id).
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
    retry_at           REAL,
    wake_at            REAL,
    depth              INTEGER NOT NULL,
    created_at         REAL NOT NULL,
    started_at         REAL,
    ended_at           REAL,
    PRIMARY KEY (run_id, id),
    UNIQUE (run_id, idempotency_key)
) WITHOUT ROWID;

CREATE TABLE attempts (
    task_id     TEXT NOT NULL,
    number      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    started_at  REAL NOT NULL,
    ended_at    REAL,
    error       TEXT,
    PRIMARY KEY (task_id, number)
) WITHOUT ROWID;

CREATE TABLE logs (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    task_id     TEXT,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL,
    data        TEXT,
    created_at  REAL NOT NULL,
    UNIQUE (run_id, scope, seq)
);
