-- runio schema, version 3 (PostgreSQL): runs waiting for events (io.wait_for_event), delayed events
-- that can be canceled before they are delivered, and the key-value items of io.store.

ALTER TABLE events ADD COLUMN canceled_at DOUBLE PRECISION;
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
    began_at    DOUBLE PRECISION NOT NULL,
    timeout_at  DOUBLE PRECISION NOT NULL,
    event_id    TEXT,
    event_at    DOUBLE PRECISION,
    PRIMARY KEY (run_id, task_id)
);
CREATE INDEX event_waits_by_name ON event_waits (app_id, name);

-- io.store: scope is 'run', 'job' or 'app'; owner the run id, the job id, or '' for the app.
CREATE TABLE store_items (
    app_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    owner       TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (app_id, scope, owner, key)
);

-- Whether a payload matches an event filter (runio._event_filter.matches, in SQL): each key of
-- the filter lists the allowed values at that key of the payload (a nested object is a nested
-- filter), so an event is matched to the waits open when it is stored, in the same statement.
CREATE FUNCTION runio_filter_matches(spec jsonb, payload jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    item record;
BEGIN
    IF jsonb_typeof(payload) IS DISTINCT FROM 'object' THEN
        RETURN false;
    END IF;
    FOR item IN SELECT key, value FROM jsonb_each(spec) LOOP
        IF NOT payload ? item.key THEN
            RETURN false;
        END IF;
        IF jsonb_typeof(item.value) = 'object' THEN
            IF NOT runio_filter_matches(item.value, payload -> item.key) THEN
                RETURN false;
            END IF;
        ELSIF NOT EXISTS (
            SELECT FROM jsonb_array_elements(item.value) AS allowed(v)
            WHERE allowed.v = payload -> item.key
        ) THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END;
$$;
