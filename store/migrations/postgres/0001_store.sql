-- patrol's store on PostgreSQL, version 1: what the SQLite store keeps (tokens, the audit log,
-- the notification outbox, expiry notices, the group directory), plus what several replicas
-- share: the change log, tenant configurations with their versions, components by digest, and
-- the replicas' heartbeats. Times are Unix seconds (UTC); user ids are stored lowercase.

CREATE TABLE tokens (
    id                TEXT PRIMARY KEY,
    tenant            TEXT NOT NULL,
    owner             TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    scopes            TEXT NOT NULL,          -- space-separated, as Azure DevOps writes them
    all_orgs          BOOLEAN NOT NULL,
    orgs              TEXT NOT NULL,          -- space-separated
    valid_from        BIGINT NOT NULL,
    valid_to          BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    last_used_at      BIGINT,
    last_user_agent   TEXT,
    last_address      TEXT,
    revoked_at        BIGINT,
    revocation_reason TEXT,
    secret_hash       BYTEA NOT NULL UNIQUE   -- SHA-256 of the token; the token is never stored
);
CREATE INDEX tokens_by_tenant ON tokens (tenant, created_at, id);
CREATE INDEX tokens_by_owner ON tokens (tenant, owner);
CREATE INDEX tokens_by_expiry ON tokens (valid_to) WHERE revoked_at IS NULL;

CREATE TABLE audit (
    seq      BIGSERIAL PRIMARY KEY,
    time     BIGINT NOT NULL,
    tenant   TEXT NOT NULL,
    event    TEXT NOT NULL,                   -- Token.PatCreateEvent, ...
    actor    TEXT NOT NULL,
    token_id TEXT,
    outcome  TEXT NOT NULL,                   -- success or denied
    details  TEXT NOT NULL                    -- JSON
);
CREATE INDEX audit_by_tenant ON audit (tenant, time);

CREATE TABLE outbox (
    seq             BIGSERIAL PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    tenant          TEXT NOT NULL,
    event           TEXT NOT NULL,            -- created, regenerated, revoked, ...
    token_id        TEXT,
    owner           TEXT,
    payload         TEXT NOT NULL,            -- the JSON delivered
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

CREATE TABLE expiry_notices (
    token_id    TEXT PRIMARY KEY,
    notified_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    tenant   TEXT NOT NULL,
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (tenant, group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (tenant, user_id);

-- The ordered change log replicas follow (with NOTIFY patrol_changes for promptness).
CREATE TABLE changes (
    seq    BIGSERIAL PRIMARY KEY,
    at     BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    kind   TEXT NOT NULL,                     -- token, group, tenant, component
    key    TEXT NOT NULL
);

-- Tenant configurations, as authored (TOML or JSON), every version kept.
CREATE TABLE tenant_configs (
    tenant     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    format     TEXT NOT NULL,                 -- toml or json
    text       TEXT NOT NULL,                 -- empty for a deletion
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    digest     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, version)
);

-- Policy components, by the SHA-256 of their bytes.
CREATE TABLE components (
    digest     TEXT PRIMARY KEY,              -- sha256:<hex>
    bytes      BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- Each replica's heartbeat and how far it has applied the change log.
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL,             -- Unix milliseconds
    applied_seq  BIGINT NOT NULL,
    started_at   BIGINT NOT NULL
);
