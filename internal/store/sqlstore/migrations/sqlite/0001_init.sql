-- Times are Unix nanoseconds (UTC); audit indexes and tree node keys are non-negative int64.
CREATE TABLE decisions (
	tenant         TEXT    NOT NULL,
	workspace      TEXT    NOT NULL,
	id             TEXT    NOT NULL,
	kind           TEXT    NOT NULL,
	principal      TEXT    NOT NULL,
	outcome        TEXT    NOT NULL,
	rule_id        TEXT    NOT NULL,
	fingerprint    TEXT    NOT NULL,
	decided_at_ns  INTEGER NOT NULL,
	recorded_at_ns INTEGER NOT NULL,
	-- The action and decision live once, in the audit entry at audit_index.
	audit_index    INTEGER NOT NULL,
	PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX decisions_by_time ON decisions (tenant, recorded_at_ns);

CREATE TABLE audit_entries (
	tenant    TEXT    NOT NULL,
	idx       INTEGER NOT NULL,
	id        TEXT    NOT NULL,
	workspace TEXT    NOT NULL,
	type      TEXT    NOT NULL,
	time_ns   INTEGER NOT NULL,
	record    BLOB    NOT NULL,
	leaf_hash BLOB    NOT NULL,
	PRIMARY KEY (tenant, idx)
) WITHOUT ROWID;
CREATE UNIQUE INDEX audit_entries_by_id ON audit_entries (tenant, id);

-- node packs a tree node id: level << 56 | index.
CREATE TABLE tree_nodes (
	tenant TEXT    NOT NULL,
	node   INTEGER NOT NULL,
	hash   BLOB    NOT NULL,
	PRIMARY KEY (tenant, node)
) WITHOUT ROWID;

CREATE TABLE audit_heads (
	tenant   TEXT    NOT NULL PRIMARY KEY,
	size     INTEGER NOT NULL,
	cp_seq   INTEGER NOT NULL,
	cp_size  INTEGER NOT NULL,
	cp_at_ns INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE checkpoints (
	tenant        TEXT    NOT NULL,
	seq           INTEGER NOT NULL,
	origin        TEXT    NOT NULL,
	size          INTEGER NOT NULL,
	root_hash     BLOB    NOT NULL,
	note          BLOB    NOT NULL,
	key_id        TEXT    NOT NULL,
	created_at_ns INTEGER NOT NULL,
	PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;
