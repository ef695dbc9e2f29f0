-- 0014_jobs_send_due_now: a sent job due at once (no delay_ms) NOTIFYs with due time 0, "claim now". Its due time
-- rounded up to the next millisecond (as 0013 sent it) made a runner that got the NOTIFY within that millisecond arm
-- a 1-2 ms timer before claiming. Claiming at once is safe: the claim's transaction starts after the send's commit,
-- so its now() is not before the job's run_at. Delayed jobs keep their rounded-up due time.
CREATE OR REPLACE FUNCTION picloud_send_jobs(p_app bigint[], p_branch text[], p_queue text[], p_payload text[], p_max int[], p_backoff int[], p_delay_ms bigint[],
  c_app bigint, c_branch text, c_queue text, c_concurrency int, c_lease_ms int, c_done bigint[])
RETURNS SETOF jobs LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  ids bigint[];
BEGIN
  WITH j AS (
    INSERT INTO jobs (app_id, branch, queue, payload, max_attempts, backoff_ms, run_at)
    SELECT a, b, q, p, m, bo, now() + d * interval '1 millisecond'
      FROM unnest(p_app, p_branch, p_queue, p_payload, p_max, p_backoff, p_delay_ms) WITH ORDINALITY AS u(a, b, q, p, m, bo, d, n)
     ORDER BY n
    RETURNING id)
  SELECT array_agg(id) INTO ids FROM j;
  PERFORM pg_notify('picloud_jobs', w) FROM (
    SELECT DISTINCT CASE WHEN run_at <= now() THEN '0' ELSE ceil(extract(epoch FROM run_at) * 1000)::bigint::text END
                    || ':' || app_id || ':' || queue || ':' || branch AS w
      FROM jobs WHERE id = ANY(ids)) d;
  RETURN QUERY SELECT * FROM jobs WHERE id = ANY(ids) ORDER BY id;
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
