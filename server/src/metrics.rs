//! The service's Prometheus metrics, served at `GET /metrics`:
//!
//! - `patrol_decisions_total{tenant, outcome}`: decisions, `allowed` or `denied`;
//! - `patrol_policy_duration_seconds{policy}`: time per policy evaluation, fresh instance
//!   included;
//! - `patrol_policy_errors_total{policy, class}`: policies that failed, by error class;
//! - `patrol_tenants_loaded`, `patrol_components_loaded`: what is in memory;
//! - `patrol_reloads_total{outcome}`: configuration changes applied or refused;
//! - `patrol_authentications_total{tenant, outcome}`: tokens presented at the gateway path,
//!   `authenticated`, `denied` (by policy), or why they were refused (`unknown_token`, ...);
//! - as a replica on a shared database: `patrol_token_cache_lookups_total{result}` (`hit`,
//!   `miss`, `read_through` past the staleness bound), `patrol_replica_applied_change` (the
//!   change-log entry applied) and `patrol_replica_behind_seconds` (since the log was last read
//!   to its end).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use patrol::decision::{Decision, TraceOutcome};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    tenant: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    policy: String,
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuarantineLabels {
    tenant: String,
    policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    result: String,
}

/// What a replica reports besides the rest.
pub(crate) struct ReplicaFigures {
    pub(crate) lookups: patrol_store::tokens::Lookups,
    pub(crate) applied: i64,
    pub(crate) behind: Option<std::time::Duration>,
}

type HistogramFamily = Family<PolicyLabels, Histogram, fn() -> Histogram>;

/// The registry and every metric in it.
pub(crate) struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    policy_duration: HistogramFamily,
    policy_errors: Family<ErrorLabels, Counter>,
    tenants: Gauge,
    components: Gauge,
    quarantined: Family<QuarantineLabels, Gauge>,
    reloads: Family<ReloadLabels, Counter>,
    authentications: Family<DecisionLabels, Counter>,
    lookups: Family<LookupLabels, Counter>,
    applied: Gauge,
    behind: Gauge<f64, std::sync::atomic::AtomicU64>,
}

fn policy_histogram() -> Histogram {
    // 1 µs to about 1 s, doubling.
    Histogram::new(exponential_buckets(1e-6, 2.0, 21))
}

impl Metrics {
    /// The metrics of a service; `replica`: serving as a replica of a fleet, with its own.
    pub(crate) fn new(replica: bool) -> Metrics {
        let mut registry = Registry::with_prefix("patrol");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions, by tenant and outcome",
            decisions.clone(),
        );
        let policy_duration = HistogramFamily::new_with_constructor(policy_histogram);
        registry.register(
            "policy_duration_seconds",
            "Time to evaluate one policy in a fresh instance",
            policy_duration.clone(),
        );
        let policy_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "policy_errors",
            "Policy evaluations that failed, by policy and error class",
            policy_errors.clone(),
        );
        let tenants = Gauge::default();
        registry.register("tenants_loaded", "Tenants being served", tenants.clone());
        let components = Gauge::default();
        registry.register(
            "components_loaded",
            "Distinct compiled policy components in memory",
            components.clone(),
        );
        let quarantined = Family::<QuarantineLabels, Gauge>::default();
        registry.register(
            "policies_quarantined",
            "Custom policies set aside for failing again and again (1 while quarantined)",
            quarantined.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "reloads",
            "Tenant configuration changes, applied or refused",
            reloads.clone(),
        );
        let authentications = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "authentications",
            "Tokens presented for authentication, by tenant and outcome",
            authentications.clone(),
        );
        let lookups = Family::<LookupLabels, Counter>::default();
        let applied = Gauge::default();
        let behind = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        if replica {
            registry.register(
                "token_cache_lookups",
                "A replica's token lookups: hit, miss, or read_through (past the staleness bound)",
                lookups.clone(),
            );
            registry.register(
                "replica_applied_change",
                "The change-log entry this replica has applied",
                applied.clone(),
            );
            registry.register(
                "replica_behind_seconds",
                "Time since this replica last read the change log to its end",
                behind.clone(),
            );
        }
        Metrics {
            registry,
            lookups,
            applied,
            behind,
            authentications,
            decisions,
            policy_duration,
            policy_errors,
            tenants,
            components,
            quarantined,
            reloads,
        }
    }

    /// Counts one authentication.
    pub(crate) fn record_authentication(&self, tenant: &str, outcome: &str) {
        self.authentications
            .get_or_create(&DecisionLabels {
                tenant: tenant.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts one decision and the policies in it.
    pub(crate) fn record_decision(&self, tenant: &str, decision: &Decision) {
        let outcome = if decision.allowed {
            "allowed"
        } else {
            "denied"
        };
        self.decisions
            .get_or_create(&DecisionLabels {
                tenant: tenant.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        for trace in &decision.trace {
            if matches!(
                trace.outcome,
                TraceOutcome::NotApplicable | TraceOutcome::Exempt
            ) {
                continue;
            }
            self.policy_duration
                .get_or_create(&PolicyLabels {
                    policy: trace.policy.to_string(),
                })
                .observe(trace.elapsed.as_secs_f64());
        }
        for violation in &decision.violations {
            if let Some(class) = violation.error {
                self.policy_errors
                    .get_or_create(&ErrorLabels {
                        policy: violation.policy.to_string(),
                        class: class.as_str().to_string(),
                    })
                    .inc();
            }
        }
    }

    /// Counts one configuration change, applied or refused.
    pub(crate) fn record_reload(&self, applied: bool) {
        let outcome = if applied { "applied" } else { "refused" };
        self.reloads
            .get_or_create(&ReloadLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// The metrics in Prometheus' text format, with the gauges set to `tenants` and
    /// `components`; `quarantined` lists the (tenant, policy) pairs quarantined now, and
    /// `replica` what a replica of a fleet reports.
    pub(crate) fn render(
        &self,
        tenants: usize,
        components: usize,
        quarantined: &[(String, String)],
        replica: Option<ReplicaFigures>,
    ) -> String {
        if let Some(replica) = replica {
            let lookups = replica.lookups;
            for (result, total) in [
                ("hit", lookups.hits),
                ("miss", lookups.misses),
                ("read_through", lookups.read_through),
            ] {
                let counter = self.lookups.get_or_create(&LookupLabels {
                    result: result.to_string(),
                });
                counter.inc_by(total.saturating_sub(counter.get()));
            }
            self.applied.set(replica.applied);
            self.behind.set(
                replica
                    .behind
                    .map_or(f64::INFINITY, |behind| behind.as_secs_f64()),
            );
        }
        self.quarantined.clear();
        for (tenant, policy) in quarantined {
            self.quarantined
                .get_or_create(&QuarantineLabels {
                    tenant: tenant.clone(),
                    policy: policy.clone(),
                })
                .set(1);
        }
        self.tenants.set(i64::try_from(tenants).unwrap_or(i64::MAX));
        self.components
            .set(i64::try_from(components).unwrap_or(i64::MAX));
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        text
    }
}
