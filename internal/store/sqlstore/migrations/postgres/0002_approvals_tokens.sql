-- Approvals: body holds the whole cavra.Approval as JSON; the other columns are the facts that
-- queries filter and sort on. Times are Unix nanoseconds (UTC), 0 for the zero time.
CREATE TABLE approvals (
	tenant        TEXT   NOT NULL,
	workspace     TEXT   NOT NULL,
	id            TEXT   NOT NULL,
	state         TEXT   NOT NULL,
	fingerprint   TEXT   NOT NULL,
	created_at_ns BIGINT NOT NULL,
	expires_at_ns BIGINT NOT NULL,
	updated_at_ns BIGINT NOT NULL,
	body          TEXT   NOT NULL,
	PRIMARY KEY (tenant, id)
);
-- Each lookup index ends with created_at_ns so that "newest first" is read off the index:
-- otherwise the planner walks approvals_by_time and filters every row.
CREATE INDEX approvals_by_fingerprint ON approvals (tenant, fingerprint, created_at_ns);
CREATE INDEX approvals_by_state ON approvals (tenant, state, created_at_ns);
CREATE INDEX approvals_by_expiry ON approvals (tenant, state, expires_at_ns);
CREATE INDEX approvals_by_time ON approvals (tenant, created_at_ns);

ALTER TABLE approvals ENABLE ROW LEVEL SECURITY;
ALTER TABLE approvals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON approvals
	USING (tenant = current_setting('app.tenant', true))
	WITH CHECK (tenant = current_setting('app.tenant', true));

-- API tokens, stored by the SHA-256 of their secret. expires_at_ns and revoked_at_ns are 0
-- for "never" and "not revoked".
--
-- No row-level security here, on purpose: the server looks a bearer token up by its hash to
-- learn which tenant the caller belongs to, so that lookup cannot run under a tenant's policy.
-- Isolation is the store's job instead: every other token query names the tenant in its WHERE
-- clause, and the table holds no secrets (only hashes of random secrets).
CREATE TABLE tokens (
	id            TEXT   NOT NULL PRIMARY KEY,
	tenant        TEXT   NOT NULL,
	name          TEXT   NOT NULL,
	role          TEXT   NOT NULL,
	hash          BYTEA  NOT NULL UNIQUE,
	created_at_ns BIGINT NOT NULL,
	expires_at_ns BIGINT NOT NULL,
	revoked_at_ns BIGINT NOT NULL
);
CREATE INDEX tokens_by_tenant ON tokens (tenant, name);
