-- Version 4: who administers a tenant. API credentials with a role (only their secret's
-- SHA-256 is kept), the users and groups the tenant's identity provider provisions over SCIM
-- (each resource's attributes as JSON, with a version that grows with every write), and the
-- users it deprovisioned (no token may be issued to them).

CREATE TABLE credentials (
    id           TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,              -- admin, auditor or provisioner
    secret_hash  BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    rotated_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX credentials_by_tenant ON credentials (tenant, created_at);
-- A name names one live credential of its tenant (a revoked one keeps its name for the record).
CREATE UNIQUE INDEX credentials_live_names ON credentials (tenant, name) WHERE revoked_at IS NULL;

CREATE TABLE scim_resources (
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL,               -- User or Group
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,               -- userName or displayName, as given
    name_key    TEXT NOT NULL,               -- the same, lowercase: unique per tenant and kind
    external_id TEXT,
    active      INTEGER NOT NULL,
    document    TEXT NOT NULL,               -- JSON, without id and meta
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind, id)
);
CREATE UNIQUE INDEX scim_resources_by_name ON scim_resources (tenant, kind, name_key);

CREATE TABLE deprovisioned_users (
    tenant  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
