-- patrol's token store, version 1: tokens, the audit log, the notification outbox, and the
-- group directory. Times are Unix seconds (UTC); user ids are stored lowercase.

CREATE TABLE tokens (
    id                TEXT PRIMARY KEY,
    tenant            TEXT NOT NULL,
    owner             TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    scopes            TEXT NOT NULL,          -- space-separated, as Azure DevOps writes them
    all_orgs          INTEGER NOT NULL,
    orgs              TEXT NOT NULL,          -- space-separated
    valid_from        INTEGER NOT NULL,
    valid_to          INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    last_used_at      INTEGER,
    last_user_agent   TEXT,
    last_address      TEXT,
    revoked_at        INTEGER,
    revocation_reason TEXT,
    secret_hash       BLOB NOT NULL UNIQUE    -- SHA-256 of the token; the token is never stored
);
CREATE INDEX tokens_by_tenant ON tokens (tenant, created_at, id);
CREATE INDEX tokens_by_owner ON tokens (tenant, owner);
CREATE INDEX tokens_by_expiry ON tokens (valid_to) WHERE revoked_at IS NULL;

CREATE TABLE audit (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    time     INTEGER NOT NULL,
    tenant   TEXT NOT NULL,
    event    TEXT NOT NULL,                   -- Token.PatCreateEvent, ...
    actor    TEXT NOT NULL,
    token_id TEXT,
    outcome  TEXT NOT NULL,                   -- success or denied
    details  TEXT NOT NULL                    -- JSON
);
CREATE INDEX audit_by_tenant ON audit (tenant, time);

CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      INTEGER NOT NULL,
    tenant          TEXT NOT NULL,
    event           TEXT NOT NULL,            -- created, regenerated, revoked, ...
    token_id        TEXT,
    owner           TEXT,
    payload         TEXT NOT NULL,            -- the JSON delivered
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- Tokens whose owner has been told they expire soon, so that they are told once.
CREATE TABLE expiry_notices (
    token_id    TEXT PRIMARY KEY,
    notified_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    tenant   TEXT NOT NULL,
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (tenant, group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (tenant, user_id);
