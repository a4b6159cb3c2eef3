-- runio schema, version 6 (PostgreSQL): the index claims scan gains the run's status.
-- Claims take waiting runs whose time has come (and runs whose lease expired) before queued
-- ones, each status in time order, so each status needs its own ordered range: the old index,
-- (app_id, ready_at) over both statuses, could only give them interleaved.

CREATE INDEX runs_ready_by_status ON runs (app_id, status, ready_at)
    WHERE status IN ('QUEUED', 'WAITING');
DROP INDEX IF EXISTS runs_ready;
