-- runio schema, version 5 (SQLite): tasks are stored in one b-tree.
-- The UNIQUE (run_id, idempotency_key) index is dropped: a run's tasks are read by run (the
-- primary key's first column) and every write names (run_id, id), so the index was only ever
-- written, at a cost of about a third of each task's insert. One row per idempotency key is the
-- engine's own rule: an execution claims each key once, loads what earlier executions stored
-- before it starts, and every write checks the execution's lease in its transaction.
-- SQLite drops a table constraint only by rebuilding the table: the rows are copied as they are.

CREATE TABLE tasks_v5 (
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
    description        TEXT,
    display_key        TEXT,
    PRIMARY KEY (run_id, id)
) WITHOUT ROWID;

INSERT INTO tasks_v5 (
    run_id, id, parent_id, idempotency_key, cache_key, kind, name, icon, properties, params,
    style, redact, status, output, output_properties, error, attempts, attempt_base, retry_at,
    wake_at, depth, created_at, started_at, ended_at, description, display_key
)
SELECT
    run_id, id, parent_id, idempotency_key, cache_key, kind, name, icon, properties, params,
    style, redact, status, output, output_properties, error, attempts, attempt_base, retry_at,
    wake_at, depth, created_at, started_at, ended_at, description, display_key
FROM tasks;

DROP TABLE tasks;

ALTER TABLE tasks_v5 RENAME TO tasks;
