-- Version 2: retention. Old change-log entries and delivered notifications are deleted (see
-- TokenStore::prune, run by one replica at a time); this row says up to which entry the change
-- log has been pruned, so that a replica that had not read that far starts afresh (forgets its
-- cache, reloads every tenant) instead of missing what was pruned.

CREATE TABLE change_log_pruned (
    id   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    upto BIGINT NOT NULL
);
INSERT INTO change_log_pruned (id, upto) VALUES (TRUE, 0);
CREATE INDEX changes_by_time ON changes (at);
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
