-- runio schema, version 6 (PostgreSQL): an index of ready runs per status.
-- Claims take waiting runs whose time has come (and runs whose lease expired) before queued
-- ones, each status in time order, so each status needs its own ordered range: runs_ready,
-- (app_id, ready_at) over both statuses, can only give them interleaved. runs_ready stays:
-- workers of the previous release, still running during a rolling upgrade, plan their claims
-- and their next_ready_at with it (without it, each of their idle polls reads the whole table).
-- One partial index per status, not one on (app_id, status, ready_at): the planner then has no
-- reason to read a status's range through runs_ready, filtering out the other status's rows.

CREATE INDEX runs_waiting ON runs (app_id, ready_at) WHERE status = 'WAITING';
CREATE INDEX runs_queued ON runs (app_id, ready_at) WHERE status = 'QUEUED';
