-- 0015_jobs_send_one_statement: picloud_send_jobs inserts, NOTIFYs and returns its rows in one statement (data-
-- modifying CTE) instead of three (insert into an id array, a NOTIFY query over jobs, a select of the rows back).
-- Same results, same order (inserted rows by id = the input's order, then the claimed ones), same NOTIFY payloads.
-- Measured on the 2-core VM (400 sequential one-job calls on one connection, synchronous commit): 0.57 → 0.35 ms per
-- call; queue::send waits for this call, so a script's loop of sends goes that much faster. The claim stays a later
-- statement: it must see the rows just inserted (each statement of a VOLATILE plpgsql function takes a new snapshot).
CREATE OR REPLACE FUNCTION picloud_send_jobs(p_app bigint[], p_branch text[], p_queue text[], p_payload text[], p_max int[], p_backoff int[], p_delay_ms bigint[],
  c_app bigint, c_branch text, c_queue text, c_concurrency int, c_lease_ms int, c_done bigint[])
RETURNS SETOF jobs LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN QUERY
    WITH j AS (
      INSERT INTO jobs (app_id, branch, queue, payload, max_attempts, backoff_ms, run_at)
      SELECT a, b, q, p, m, bo, now() + d * interval '1 millisecond'
        FROM unnest(p_app, p_branch, p_queue, p_payload, p_max, p_backoff, p_delay_ms) WITH ORDINALITY AS u(a, b, q, p, m, bo, d, n)
       ORDER BY n
      RETURNING *),
    notified AS (
      SELECT count(pg_notify('picloud_jobs', w)) AS k FROM (
        SELECT DISTINCT CASE WHEN run_at <= now() THEN '0' ELSE ceil(extract(epoch FROM run_at) * 1000)::bigint::text END
                        || ':' || app_id || ':' || queue || ':' || branch AS w
          FROM j) d)
    SELECT j.* FROM j, notified ORDER BY j.id;
  IF c_app IS NULL THEN
    RETURN;
  END IF;
  IF cardinality(c_done) > 0 THEN
    UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = now()
     WHERE id = ANY(c_done) AND state = 'running';
  END IF;
  IF c_concurrency <= 0 THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('jobs:' || c_app || ':' || c_branch || ':' || c_queue, 0));
  RETURN QUERY
    WITH free AS (
      SELECT greatest(c_concurrency - count(*), 0) AS n FROM jobs
       WHERE app_id = c_app AND branch = c_branch AND queue = c_queue AND state = 'running' AND lease_until > now()),
    picked AS (
      SELECT id FROM jobs WHERE app_id = c_app AND branch = c_branch AND queue = c_queue AND state = 'pending' AND run_at <= now()
       ORDER BY run_at, id LIMIT (SELECT n FROM free) FOR UPDATE SKIP LOCKED)
    UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_until = now() + c_lease_ms * interval '1 millisecond', updated_at = now()
      FROM picked WHERE j.id = picked.id
    RETURNING j.*;
END $$;
