-- Dashboard sessions (src/manager/dashboard-session.ts) live here, so a restart of the manager signs nobody out.
-- The cookie holds a random id and only its SHA-256 is stored; the token never is: a session points at the
-- token's row, so deleting (revoking) the token ends its sessions at once (ON DELETE CASCADE).
CREATE TABLE dashboard_sessions (
  id_hash    text PRIMARY KEY,                 -- sha256 hex of the cookie's session id
  token_id   bigint NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
  csrf       text NOT NULL,
  flash      jsonb,                            -- {kind, text}: shown once, by the page a form post redirects to
  expires_at timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);
