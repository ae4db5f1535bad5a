-- Approvals: body holds the whole cavra.Approval as JSON; the other columns are the facts that
-- queries filter and sort on. Times are Unix nanoseconds (UTC), 0 for the zero time.
CREATE TABLE approvals (
	tenant        TEXT    NOT NULL,
	workspace     TEXT    NOT NULL,
	id            TEXT    NOT NULL,
	state         TEXT    NOT NULL,
	fingerprint   TEXT    NOT NULL,
	created_at_ns INTEGER NOT NULL,
	expires_at_ns INTEGER NOT NULL,
	updated_at_ns INTEGER NOT NULL,
	body          TEXT    NOT NULL,
	PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
-- Each lookup index ends with created_at_ns so that "newest first" is read off the index:
-- otherwise the planner walks approvals_by_time and filters every row.
CREATE INDEX approvals_by_fingerprint ON approvals (tenant, fingerprint, created_at_ns);
CREATE INDEX approvals_by_state ON approvals (tenant, state, created_at_ns);
CREATE INDEX approvals_by_expiry ON approvals (tenant, state, expires_at_ns);
CREATE INDEX approvals_by_time ON approvals (tenant, created_at_ns);

-- API tokens, stored by the SHA-256 of their secret. expires_at_ns and revoked_at_ns are 0
-- for "never" and "not revoked".
CREATE TABLE tokens (
	id            TEXT    NOT NULL PRIMARY KEY,
	tenant        TEXT    NOT NULL,
	name          TEXT    NOT NULL,
	role          TEXT    NOT NULL,
	hash          BLOB    NOT NULL UNIQUE,
	created_at_ns INTEGER NOT NULL,
	expires_at_ns INTEGER NOT NULL,
	revoked_at_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_by_tenant ON tokens (tenant, name);
