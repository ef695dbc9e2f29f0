-- 0005_pending_ref_updates: the release switches of a push that git has not confirmed yet.
-- A push switches its releases (pre-receive) before git moves its refs. The rows are written in the release
-- transaction and deleted once git-receive-pack has ended and the refs were checked (src/deploy/ref-guard.ts).
-- A row left behind means the server died in between: the next start reconciles it (src/deploy/reconcile.ts).
-- Tables touched: pending_ref_updates (new).

CREATE TABLE pending_ref_updates (
  app_id              bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  branch              text NOT NULL,
  -- the pushed commit; null when the push deletes the branch (a preview removal)
  commit_sha          text,
  -- the release the push made live (null: the preview was removed) and the one live before (null: none)
  release_id          bigint,
  previous_release_id bigint,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, branch)
);
