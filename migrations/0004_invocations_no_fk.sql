-- 0004_invocations_no_fk: the invocation log no longer references apps with a foreign key.
-- The log is written in batches by COPY (db/invocations.ts). A foreign key cost a row lock and a lookup per row
-- (about 15 % of the write), and one row for an app deleted meanwhile failed the whole batch, losing the rows of
-- every other app in it. apps:destroy deletes an app's rows itself; a batch that lands just after leaves a few
-- rows for an id that is never reused, which nobody can read and the age retention removes.
-- Tables touched: invocations (constraint dropped; columns and indexes unchanged).

ALTER TABLE invocations DROP CONSTRAINT IF EXISTS invocations_app_id_fkey;
