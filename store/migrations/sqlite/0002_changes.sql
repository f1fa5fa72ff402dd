-- Version 2: the ordered change log. Every revocation, regeneration and group change writes an
-- entry in its own transaction, so that whoever keeps tokens or groups in memory (a server
-- beside a command working on the same file) learns what to forget.

CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    kind   TEXT NOT NULL,                     -- token, group, tenant, component
    key    TEXT NOT NULL
);
