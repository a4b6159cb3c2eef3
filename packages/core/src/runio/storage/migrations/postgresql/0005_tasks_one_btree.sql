-- runio schema, version 5 (PostgreSQL): the tasks table loses its UNIQUE (run_id,
-- idempotency_key) index. A run's tasks are read by run (the primary key's first column) and
-- every write names (run_id, id), so the index was only ever written. One row per idempotency
-- key is the engine's own rule: an execution claims each key once, loads what earlier
-- executions stored before it starts, and every write checks the execution's lease in its
-- transaction.

ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_run_id_idempotency_key_key;
