-- 0002_invocation_notify: announce every recorded invocation so `picloud logs --tail` and the dashboard stream
-- without polling.
-- Tables touched: invocations (AFTER INSERT trigger).
-- Channel 'picloud_invocations', payload JSON {"id": <invocation id>, "app_id": <app id>, "branch": <branch>}.
-- The payload stays small (NOTIFY payloads are limited to 8000 bytes); listeners read the row by id.
-- NOTIFY is delivered on commit only, so a listener never sees an invocation that was rolled back.

CREATE FUNCTION picloud_invocation_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('picloud_invocations',
    json_build_object('id', NEW.id, 'app_id', NEW.app_id, 'branch', NEW.branch)::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER invocations_notify_trg
  AFTER INSERT ON invocations
  FOR EACH ROW EXECUTE FUNCTION picloud_invocation_notify();
