-- runio schema, version 3 (SQLite): runs waiting for events (io.wait_for_event), delayed events
-- that can be canceled before they are delivered, and the key-value items of io.store.

ALTER TABLE events ADD COLUMN canceled_at REAL;
CREATE INDEX events_by_name ON events (app_id, name, timestamp);

-- One row per wait (open while its task is WAITING; the task row keeps the outcome). An event
-- sent after the wait began, whose name and payload match, resumes it: event_id/event_at name the
-- matched event and when it is delivered (a delayed event matches at once, resumes at its time).
CREATE TABLE event_waits (
    run_id      TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    app_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    filter      TEXT,
    began_at    REAL NOT NULL,
    timeout_at  REAL NOT NULL,
    event_id    TEXT,
    event_at    REAL,
    PRIMARY KEY (run_id, task_id)
) WITHOUT ROWID;
CREATE INDEX event_waits_by_name ON event_waits (app_id, name);

-- io.store: scope is 'run', 'job' or 'app'; owner the run id, the job id, or '' for the app.
CREATE TABLE store_items (
    app_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    owner       TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (app_id, scope, owner, key)
) WITHOUT ROWID;
