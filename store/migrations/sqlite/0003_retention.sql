-- Version 3: retention. Old change-log entries and delivered notifications are deleted (see
-- TokenStore::prune); this row says up to which entry the change log has been pruned, so that
-- whoever follows the log and had not read that far knows it must start afresh.

CREATE TABLE change_log_pruned (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL
);
INSERT INTO change_log_pruned (id, upto) VALUES (1, 0);
CREATE INDEX changes_by_time ON changes (at);
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
