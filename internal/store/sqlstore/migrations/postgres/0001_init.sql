-- Times are Unix nanoseconds (UTC); audit indexes and tree node keys are non-negative bigint.
CREATE TABLE decisions (
	tenant         TEXT   NOT NULL,
	workspace      TEXT   NOT NULL,
	id             TEXT   NOT NULL,
	kind           TEXT   NOT NULL,
	principal      TEXT   NOT NULL,
	outcome        TEXT   NOT NULL,
	rule_id        TEXT   NOT NULL,
	fingerprint    TEXT   NOT NULL,
	decided_at_ns  BIGINT NOT NULL,
	recorded_at_ns BIGINT NOT NULL,
	-- The action and decision live once, in the audit entry at audit_index.
	audit_index    BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX decisions_by_time ON decisions (tenant, recorded_at_ns);

CREATE TABLE audit_entries (
	tenant    TEXT   NOT NULL,
	idx       BIGINT NOT NULL,
	id        TEXT   NOT NULL,
	workspace TEXT   NOT NULL,
	type      TEXT   NOT NULL,
	time_ns   BIGINT NOT NULL,
	record    BYTEA  NOT NULL,
	leaf_hash BYTEA  NOT NULL,
	PRIMARY KEY (tenant, idx)
);
CREATE UNIQUE INDEX audit_entries_by_id ON audit_entries (tenant, id);

-- node packs a tree node id: level << 56 | index.
CREATE TABLE tree_nodes (
	tenant TEXT   NOT NULL,
	node   BIGINT NOT NULL,
	hash   BYTEA  NOT NULL,
	PRIMARY KEY (tenant, node)
);

CREATE TABLE audit_heads (
	tenant   TEXT   NOT NULL PRIMARY KEY,
	size     BIGINT NOT NULL,
	cp_seq   BIGINT NOT NULL,
	cp_size  BIGINT NOT NULL,
	cp_at_ns BIGINT NOT NULL
);

CREATE TABLE checkpoints (
	tenant        TEXT   NOT NULL,
	seq           BIGINT NOT NULL,
	origin        TEXT   NOT NULL,
	size          BIGINT NOT NULL,
	root_hash     BYTEA  NOT NULL,
	note          BYTEA  NOT NULL,
	key_id        TEXT   NOT NULL,
	created_at_ns BIGINT NOT NULL,
	PRIMARY KEY (tenant, seq)
);

-- Row-level security: a session sees only the rows of the tenant named by app.tenant, which
-- the store sets per transaction. Superusers and table owners bypass it (FORCE covers owners);
-- superusers remain exempt, so production connects as a plain role.
ALTER TABLE decisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE decisions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON decisions
	USING (tenant = current_setting('app.tenant', true))
	WITH CHECK (tenant = current_setting('app.tenant', true));
ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_entries
	USING (tenant = current_setting('app.tenant', true))
	WITH CHECK (tenant = current_setting('app.tenant', true));
ALTER TABLE tree_nodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE tree_nodes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tree_nodes
	USING (tenant = current_setting('app.tenant', true))
	WITH CHECK (tenant = current_setting('app.tenant', true));
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_heads
	USING (tenant = current_setting('app.tenant', true))
	WITH CHECK (tenant = current_setting('app.tenant', true));
ALTER TABLE checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON checkpoints
	USING (tenant = current_setting('app.tenant', true))
	WITH CHECK (tenant = current_setting('app.tenant', true));
