//! Delivering notifications: a worker takes what the outbox holds, posts each as JSON to the
//! configured webhook (if any) and writes it to the log, retrying failed deliveries with
//! exponential backoff (1 s, 2 s, 4 s, ... up to an hour). It also queues an `expiring_soon`
//! notification, once, for every token that expires within the configured number of days, and
//! once an hour runs retention: change-log entries older than a week and notifications
//! delivered more than 30 days ago are deleted (the audit log is kept).
//!
//! Because notifications are written to the outbox in the same transaction as the change they
//! report, none is lost if patrol stops before delivering it: the next worker delivers it.
//! Workers claim what they deliver (see [`TokenStore::claim_notifications`]), so several
//! replicas sharing one database may all run one, and each notification is delivered by one of
//! them. (A worker that dies between posting and recording the delivery leaves the notification
//! to be posted again when its claim runs out: delivery is at least once, and once whenever
//! nothing crashes.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::service::notification;
use super::store::{NotificationEvent, PendingNotification, Pruned, StoreError, TokenStore};
use patrol::timestamp::{Timestamp, now};

/// Where notifications go, and when tokens count as expiring soon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierConfig {
    /// A URL to POST each notification to, as JSON. Without one, notifications go to the log
    /// only.
    pub webhook: Option<String>,
    /// Tell owners this many days before a token expires. Default 7.
    pub expiry_notice_days: i64,
    /// Retention: change-log entries are kept this many days. Default 7.
    pub keep_changes_days: i64,
    /// Retention: delivered notifications are kept this many days (the audit log, which is
    /// never pruned, records what happened). Default 30.
    pub keep_delivered_days: i64,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            webhook: None,
            expiry_notice_days: 7,
            keep_changes_days: 7,
            keep_delivered_days: 30,
        }
    }
}

/// How often retention runs.
const RETENTION_INTERVAL_SECONDS: i64 = 3600;

/// The longest wait between attempts to deliver one notification.
const MAX_BACKOFF_SECONDS: i64 = 3600;
/// How many notifications one round claims at most.
const BATCH: usize = 20;
/// How long a claim lasts: long enough to try every notification of a batch against a webhook
/// that times out (10 s each), after which another worker may take what is left.
const LEASE_SECONDS: i64 = BATCH as i64 * 10 + 60;

/// Delivers the outbox, and runs retention.
pub struct Notifier {
    store: Arc<dyn TokenStore>,
    config: NotifierConfig,
    agent: ureq::Agent,
    /// When retention last ran (`i64::MIN`: not yet).
    pruned_at: AtomicI64,
}

impl Notifier {
    /// A notifier for `store`.
    pub fn new(store: Arc<dyn TokenStore>, config: NotifierConfig) -> Notifier {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Notifier {
            store,
            config,
            agent,
            pruned_at: AtomicI64::new(i64::MIN),
        }
    }

    /// Retention, at most once an hour: deletes old change-log entries and old delivered
    /// notifications (see [`TokenStore::prune`]). Returns what it deleted, if it ran.
    pub fn prune_if_due(&self, now: Timestamp) -> Result<Option<Pruned>, StoreError> {
        let last = self.pruned_at.load(Ordering::Relaxed);
        if last != i64::MIN && now - last < RETENTION_INTERVAL_SECONDS {
            return Ok(None);
        }
        self.pruned_at.store(now, Ordering::Relaxed);
        let pruned = self.store.prune(
            now - self.config.keep_changes_days.max(1) * 86_400,
            now - self.config.keep_delivered_days.max(1) * 86_400,
        )?;
        if let Some(pruned) = pruned
            && (pruned.changes > 0 || pruned.notifications > 0)
        {
            tracing::info!(
                changes = pruned.changes,
                notifications = pruned.notifications,
                "retention: deleted old change-log entries and delivered notifications"
            );
        }
        Ok(pruned)
    }

    /// One round: queue expiry notices, then deliver what is due. Returns how many were
    /// delivered.
    pub fn run_once(&self, now: Timestamp) -> Result<usize, StoreError> {
        let horizon = now + self.config.expiry_notice_days.max(0) * 86_400;
        self.store.notify_expiring(now, horizon, &|token| {
            notification(token, NotificationEvent::ExpiringSoon, now, None).payload
        })?;
        let mut delivered = 0;
        let claimed = self
            .store
            .claim_notifications(now, now + LEASE_SECONDS, BATCH)?;
        for pending in claimed {
            match self.deliver(&pending) {
                Ok(()) => {
                    self.store.delivered(pending.seq, now)?;
                    delivered += 1;
                }
                Err(error) => {
                    let backoff = 1i64
                        .checked_shl(pending.attempts.min(20))
                        .unwrap_or(MAX_BACKOFF_SECONDS)
                        .min(MAX_BACKOFF_SECONDS);
                    tracing::warn!(
                        seq = pending.seq, attempts = pending.attempts + 1, %error,
                        "a notification could not be delivered; it will be retried"
                    );
                    self.store
                        .delivery_failed(pending.seq, &error, now + backoff)?;
                }
            }
        }
        Ok(delivered)
    }

    fn deliver(&self, pending: &PendingNotification) -> Result<(), String> {
        let notification = &pending.notification;
        tracing::info!(
            target: "patrol::notifications",
            event = notification.event.as_str(),
            tenant = %notification.tenant,
            owner = notification.owner.as_deref().unwrap_or(""),
            token_id = notification.token_id.as_deref().unwrap_or(""),
            "notification"
        );
        let Some(url) = &self.config.webhook else {
            return Ok(());
        };
        self.agent
            .post(url)
            .header("content-type", "application/json")
            .send(notification.payload.to_string())
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    /// Runs rounds every `interval` on a thread of its own until `stop` is set.
    pub fn spawn(
        self,
        interval: Duration,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<JoinHandle<()>> {
        thread::Builder::new()
            .name("patrol-notifier".to_string())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Err(error) = self.prune_if_due(now()) {
                        tracing::error!(
                            error = %patrol::with_causes(&error),
                            "retention failed; it is tried again in an hour"
                        );
                    }
                    if let Err(error) = self.run_once(now()) {
                        tracing::error!(
                            error = %patrol::with_causes(&error),
                            "delivering notifications failed"
                        );
                    }
                    let mut waited = Duration::ZERO;
                    while waited < interval && !stop.load(Ordering::Relaxed) {
                        thread::sleep(Duration::from_millis(50));
                        waited += Duration::from_millis(50);
                    }
                }
            })
    }
}
