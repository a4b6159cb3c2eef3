-- runio schema, version 4 (PostgreSQL): flow control and task descriptions.
-- runs.concurrency_key: the value of the job's concurrency key for this run (NULL: the job has
-- no key, or a worker has not computed it yet); the claim counts executing runs per key.
-- tasks.description, tasks.display_key: what run_task(description=, display_key=) gave.

ALTER TABLE runs ADD COLUMN concurrency_key TEXT;
ALTER TABLE tasks ADD COLUMN description TEXT;
ALTER TABLE tasks ADD COLUMN display_key TEXT;
