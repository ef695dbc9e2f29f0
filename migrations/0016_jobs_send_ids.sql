-- 0016_jobs_send_ids: picloud_send_jobs takes the jobs' ids (p_id, taken from jobs_id_seq ahead of the insert by
-- db/job-sends.ts reserveId; a null id takes the next one). queue::send answers the script with its job's id before
-- the commit, and everything the invocation does afterwards that could be seen waits for that commit (the output
-- gate, executor/run.ts), so the id must exist before the row does. Otherwise the same as 0015 (kept for nodes
-- still running the previous code during a rolling upgrade).
CREATE FUNCTION picloud_send_jobs(p_id bigint[], p_app bigint[], p_branch text[], p_queue text[], p_payload text[], p_max int[], p_backoff int[], p_delay_ms bigint[],
  c_app bigint, c_branch text, c_queue text, c_concurrency int, c_lease_ms int, c_done bigint[])
RETURNS SETOF jobs LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN QUERY
    WITH j AS (
      INSERT INTO jobs (id, app_id, branch, queue, payload, max_attempts, backoff_ms, run_at)
      SELECT coalesce(i, nextval('jobs_id_seq')), a, b, q, p, m, bo, now() + d * interval '1 millisecond'
        FROM unnest(p_id, p_app, p_branch, p_queue, p_payload, p_max, p_backoff, p_delay_ms) WITH ORDINALITY AS u(i, a, b, q, p, m, bo, d, n)
       ORDER BY n
      RETURNING *),
    notified AS (
      SELECT count(pg_notify('picloud_jobs', w)) AS k FROM (
        SELECT DISTINCT CASE WHEN run_at <= now() THEN '0' ELSE ceil(extract(epoch FROM run_at) * 1000)::bigint::text END
                        || ':' || app_id || ':' || queue || ':' || branch AS w
          FROM j) d)
    SELECT j.* FROM j, notified;
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
