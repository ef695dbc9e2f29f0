-- 0001_init: the core schema.
-- Tables: apps, api_tokens, scripts (content-addressed AST cache), releases, routes, schedules,
--         branch_pointers (the live release of each (app, branch)), config_vars, kv, invocations.
-- Invariants:
--   * releases are immutable once inserted; (app_id, branch, version) is unique, versions count 1, 2, … per branch.
--   * branch_pointers holds at most one live release per (app, branch); a release switch is one transaction that
--     inserts the release + its routes/schedules, upserts the pointer and NOTIFYs channel 'picloud_releases'
--     with payload {"app": name, "branch": branch, "release": id} (or "release": null when a preview is removed).
--   * scripts.hash = sha256(engine_version || NUL || source); ast is the engine's JSON program.
--   * kv is namespaced by (app_id, branch): previews never see production data.

CREATE TABLE apps (
  id                bigserial PRIMARY KEY,
  name              text NOT NULL UNIQUE,
  production_branch text NOT NULL DEFAULT 'main',
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  token_hash  text NOT NULL UNIQUE,          -- sha256 hex of the token; the token itself is never stored
  role        text NOT NULL DEFAULT 'admin', -- 'admin' may do anything
  created_at  timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);

CREATE TABLE scripts (
  hash           text PRIMARY KEY,
  engine_version text NOT NULL,
  ast            text NOT NULL,
  bytes          integer NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE releases (
  id          bigserial PRIMARY KEY,
  app_id      bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  branch      text NOT NULL,
  version     integer NOT NULL,
  commit_sha  text NOT NULL,
  pusher      text NOT NULL DEFAULT '',
  scripts     jsonb NOT NULL DEFAULT '{}',   -- { "path.rhai": "<hash>" }
  config      jsonb NOT NULL DEFAULT '{}',   -- { env: {..}, limits: {..} } from picloud.toml
  manifest    jsonb NOT NULL DEFAULT '{}',   -- routes and schedules as declared
  description text NOT NULL DEFAULT '',      -- e.g. 'Deploy abc1234' or 'Rollback to v2'
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (app_id, branch, version)
);
CREATE INDEX releases_app_branch_idx ON releases (app_id, branch, version DESC);

CREATE TABLE routes (
  release_id  bigint NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
  idx         integer NOT NULL,
  methods     text[] NOT NULL,               -- upper-case; {'*'} = any
  path        text NOT NULL,                 -- '/hello/:name', final '*' allowed
  script_path text NOT NULL,
  script_hash text NOT NULL REFERENCES scripts(hash),
  function    text,                          -- NULL = run the whole script
  PRIMARY KEY (release_id, idx)
);

CREATE TABLE schedules (
  release_id  bigint NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
  idx         integer NOT NULL,
  cron        text NOT NULL,
  script_path text NOT NULL,
  script_hash text NOT NULL REFERENCES scripts(hash),
  function    text,
  PRIMARY KEY (release_id, idx)
);

CREATE TABLE branch_pointers (
  app_id     bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  branch     text NOT NULL,
  release_id bigint NOT NULL REFERENCES releases(id),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, branch)
);

CREATE TABLE config_vars (
  app_id  bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  branch  text NOT NULL,                     -- the branch the override applies to
  key     text NOT NULL,
  value   text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, branch, key)
);

CREATE TABLE kv (
  app_id  bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  branch  text NOT NULL,
  key     text NOT NULL,
  value   jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, branch, key)
);

CREATE TABLE invocations (
  id          bigserial PRIMARY KEY,
  app_id      bigint NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  branch      text NOT NULL,
  release_id  bigint,
  trigger     text NOT NULL,                 -- 'http' | 'schedule'
  route       text NOT NULL DEFAULT '',      -- route path or cron expression
  method      text NOT NULL DEFAULT '',
  path        text NOT NULL DEFAULT '',
  status      integer NOT NULL,
  duration_ms double precision NOT NULL,
  operations  bigint NOT NULL DEFAULT 0,
  cold        boolean NOT NULL DEFAULT false, -- program was not in the executor's LRU
  logs        jsonb NOT NULL DEFAULT '[]',   -- [{ level: 'print'|'debug', msg, t }]
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invocations_app_created_idx ON invocations (app_id, created_at DESC);
