-- 0010_jobs: background jobs (architecture.md §5 [[queues]], §6 queue::send) and schedule overlap.
-- * schedules.overlap: false (default) = a tick due while the previous run is still running is skipped (and logged).
-- * jobs: the durable job store of the embedded mode (no REDIS_URL). One row per queue::send. state:
--   pending (run_at says when it may start) → running (lease_until: a runner that dies leaves it to be taken
--   again) → done | failed (a dead letter: attempts used up, or its queue is no longer declared; last_error says
--   why). Runners claim with FOR UPDATE SKIP LOCKED and are woken by NOTIFY 'picloud_jobs' (payload: run_at ms).
--   Jobs are per (app, branch): a removed preview's jobs are deleted with it; an app's are deleted with the app.
ALTER TABLE schedules ADD COLUMN overlap boolean NOT NULL DEFAULT false;

CREATE TABLE jobs (
  id           bigserial PRIMARY KEY,
  app_id       bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  branch       text NOT NULL,
  queue        text NOT NULL,
  payload      text NOT NULL,                 -- the value's JSON text (ctx.body)
  state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
  attempts     integer NOT NULL DEFAULT 0,    -- tries started
  max_attempts integer NOT NULL,
  backoff_ms   integer NOT NULL,
  run_at       timestamptz NOT NULL DEFAULT now(),
  lease_until  timestamptz,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_pending_idx ON jobs (app_id, branch, queue, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_running_idx ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_list_idx ON jobs (app_id, branch, queue, state, id DESC);
