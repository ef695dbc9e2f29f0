-- 0012_jobs_claim: one round trip per claim (queue/job-runner.ts). picloud_claim_jobs marks the tries a runner
-- finished as done, then, under the queue's advisory lock (so `concurrency` holds platform-wide), claims up to
-- concurrency − running due jobs. Each statement of a VOLATILE plpgsql function takes a fresh snapshot, so the count
-- of running jobs is read after the lock is held. The claim commits without waiting for the WAL flush
-- (synchronous_commit off, this transaction only): a claim or completion lost in a PostgreSQL crash leaves the job
-- pending or running-until-its-lease-ends, so it runs again (at least once); only queue::send's insert must be
-- durable before it returns, and it stays synchronous.
-- NOTIFY 'picloud_jobs' payloads name the queue from now on: `<run_at ms>:<app_id>:<queue>:<branch>`.
CREATE FUNCTION picloud_claim_jobs(p_app bigint, p_branch text, p_queue text, p_concurrency int, p_lease_ms int, p_done bigint[])
RETURNS SETOF jobs LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  IF cardinality(p_done) > 0 THEN
    UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = now()
     WHERE id = ANY(p_done) AND state = 'running';
  END IF;
  IF p_concurrency <= 0 THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('jobs:' || p_app || ':' || p_branch || ':' || p_queue, 0));
  RETURN QUERY
    WITH free AS (
      SELECT greatest(p_concurrency - count(*), 0) AS n FROM jobs
       WHERE app_id = p_app AND branch = p_branch AND queue = p_queue AND state = 'running' AND lease_until > now()),
    picked AS (
      SELECT id FROM jobs WHERE app_id = p_app AND branch = p_branch AND queue = p_queue AND state = 'pending' AND run_at <= now()
       ORDER BY run_at, id LIMIT (SELECT n FROM free) FOR UPDATE SKIP LOCKED)
    UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_until = now() + p_lease_ms * interval '1 millisecond', updated_at = now()
      FROM picked WHERE j.id = picked.id
    RETURNING j.*;
END $$;
