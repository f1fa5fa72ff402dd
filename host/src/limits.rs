//! The limits every policy call runs under.
//!
//! Defaults are set for the whole host ([`EngineConfig::limits`](crate::EngineConfig)) and can
//! be changed for one policy in the tenant configuration:
//!
//! ```toml
//! [[custom_policies]]
//! name = "slow-but-trusted"
//! component = "slow.wasm"
//! limits = { deadline_ms = 20, memory_mib = 32 }
//! ```

use std::time::Duration;

use serde::Deserialize;

/// Resource limits for one policy call: `metadata`, `validate-settings` or `evaluate`, each in
/// a fresh instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Wall-clock time from instantiation to the call's return. Default 5 ms.
    pub deadline: Duration,
    /// Linear memory, in bytes, summed over the component's memories. Default 16 MiB.
    pub memory_bytes: usize,
    /// Elements in any one table. Default 10,000.
    pub table_elements: usize,
    /// Core instances, tables and memories, each. Default 16.
    pub instances: usize,
    /// Bytes of everything the call returns: codes, messages, prepared settings. Default 64 KiB.
    pub output_bytes: usize,
    /// The wasm stack, in bytes. Default 256 KiB. Calls run on the calling thread's stack, so
    /// evaluate on threads with at least 2 MiB of stack (Rust's and tokio's default).
    pub stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(5),
            memory_bytes: 16 << 20,
            table_elements: 10_000,
            instances: 16,
            output_bytes: 64 << 10,
            stack_bytes: 256 << 10,
        }
    }
}

impl Limits {
    /// The most a tenant's configuration may ask for one policy, unless the operator says
    /// otherwise ([`EngineConfig::ceilings`](crate::EngineConfig), `patrol serve
    /// --max-policy-deadline-ms` and `--max-policy-memory-mib`): a 50 ms deadline, 64 MiB of
    /// memory, 100,000 table elements, 100 instances, 1 MiB of output and a 1 MiB stack. A
    /// tenant's policy holds a core for up to its deadline, and one bulk-memory instruction can
    /// touch all of its memory, so these bound what one tenant can take from the others.
    pub fn default_ceilings() -> Limits {
        Limits {
            deadline: Duration::from_millis(50),
            memory_bytes: 64 << 20,
            table_elements: 100_000,
            instances: 100,
            output_bytes: 1 << 20,
            stack_bytes: 1 << 20,
        }
    }

    /// The first of these limits that is above `ceilings`, as an error naming it.
    pub fn check_within(&self, ceilings: &Limits) -> Result<(), String> {
        let over = |field: &str, value: u128, ceiling: u128, unit: &str| {
            Err(format!(
                "`{field}` = {value} is above this host's ceiling of {ceiling}{unit} (set by the \
                 operator: `EngineConfig::ceilings`; for the `patrol` commands \
                 `$PATROL_MAX_POLICY_DEADLINE_MS` and `$PATROL_MAX_POLICY_MEMORY_MIB`, or \
                 `patrol serve --max-policy-deadline-ms` and `--max-policy-memory-mib`)"
            ))
        };
        if self.deadline > ceilings.deadline {
            return over(
                "deadline_ms",
                self.deadline.as_millis(),
                ceilings.deadline.as_millis(),
                " ms",
            );
        }
        let checks = [
            (
                "memory_mib",
                self.memory_bytes >> 20,
                ceilings.memory_bytes >> 20,
                " MiB",
            ),
            (
                "table_elements",
                self.table_elements,
                ceilings.table_elements,
                "",
            ),
            ("instances", self.instances, ceilings.instances, ""),
            (
                "output_kib",
                self.output_bytes >> 10,
                ceilings.output_bytes >> 10,
                " KiB",
            ),
            (
                "stack_kib",
                self.stack_bytes >> 10,
                ceilings.stack_bytes >> 10,
                " KiB",
            ),
        ];
        for (field, value, ceiling, unit) in checks {
            if value > ceiling {
                return over(field, value as u128, ceiling as u128, unit);
            }
        }
        Ok(())
    }
}

/// The bounds a configured limit must stay within.
pub mod bounds {
    /// Deadlines, in milliseconds.
    pub const DEADLINE_MS: (u64, u64) = (1, 10_000);
    /// Memory, in MiB.
    pub const MEMORY_MIB: (u64, u64) = (1, 4096);
    /// Table elements.
    pub const TABLE_ELEMENTS: (u64, u64) = (1, 1_000_000);
    /// Instances, tables and memories.
    pub const INSTANCES: (u64, u64) = (1, 1_000);
    /// Output, in KiB.
    pub const OUTPUT_KIB: (u64, u64) = (1, 16 * 1024);
    /// The wasm stack, in KiB: at most 1 MiB, well within a 2 MiB thread stack.
    pub const STACK_KIB: (u64, u64) = (16, 1024);
}

/// Per-policy changes to the host's default limits, as written in a tenant configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Deadline in milliseconds.
    pub deadline_ms: Option<u64>,
    /// Linear memory in MiB.
    pub memory_mib: Option<u64>,
    /// Elements in any one table.
    pub table_elements: Option<u64>,
    /// Core instances, tables and memories, each.
    pub instances: Option<u64>,
    /// Output in KiB.
    pub output_kib: Option<u64>,
    /// The wasm stack in KiB.
    pub stack_kib: Option<u64>,
}

impl LimitOverrides {
    /// Applies the overrides to `base`; a value out of range, or above `ceilings`, is an error
    /// naming the field.
    pub fn apply(&self, base: Limits, ceilings: &Limits) -> Result<Limits, String> {
        let limits = self.apply_within_bounds(base)?;
        if *self != LimitOverrides::default() {
            limits.check_within(ceilings)?;
        }
        Ok(limits)
    }

    fn apply_within_bounds(&self, base: Limits) -> Result<Limits, String> {
        let mut limits = base;
        if let Some(ms) = checked("deadline_ms", self.deadline_ms, bounds::DEADLINE_MS)? {
            limits.deadline = Duration::from_millis(ms);
        }
        if let Some(mib) = checked("memory_mib", self.memory_mib, bounds::MEMORY_MIB)? {
            limits.memory_bytes = to_usize(mib) << 20;
        }
        if let Some(n) = checked(
            "table_elements",
            self.table_elements,
            bounds::TABLE_ELEMENTS,
        )? {
            limits.table_elements = to_usize(n);
        }
        if let Some(n) = checked("instances", self.instances, bounds::INSTANCES)? {
            limits.instances = to_usize(n);
        }
        if let Some(kib) = checked("output_kib", self.output_kib, bounds::OUTPUT_KIB)? {
            limits.output_bytes = to_usize(kib) << 10;
        }
        if let Some(kib) = checked("stack_kib", self.stack_kib, bounds::STACK_KIB)? {
            limits.stack_bytes = to_usize(kib) << 10;
        }
        Ok(limits)
    }
}

fn checked(field: &str, value: Option<u64>, (min, max): (u64, u64)) -> Result<Option<u64>, String> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(format!(
            "`{field}` must be between {min} and {max}, got `{v}`"
        )),
        other => Ok(other),
    }
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name_and_are_range_checked() {
        let base = Limits::default();
        let ceilings = Limits::default_ceilings();
        let limits = LimitOverrides {
            deadline_ms: Some(20),
            ..LimitOverrides::default()
        }
        .apply(base, &ceilings)
        .unwrap();
        assert_eq!(limits.deadline, Duration::from_millis(20));
        assert_eq!(limits.memory_bytes, base.memory_bytes);
        let error = LimitOverrides {
            memory_mib: Some(0),
            ..LimitOverrides::default()
        }
        .apply(base, &ceilings)
        .unwrap_err();
        assert_eq!(error, "`memory_mib` must be between 1 and 4096, got `0`");
    }

    #[test]
    fn a_tenant_may_not_ask_for_more_than_the_operator_allows() {
        let ceilings = Limits::default_ceilings();
        let asking = |overrides: LimitOverrides| overrides.apply(Limits::default(), &ceilings);
        let error = asking(LimitOverrides {
            deadline_ms: Some(10_000),
            ..LimitOverrides::default()
        })
        .unwrap_err();
        assert!(
            error.starts_with("`deadline_ms` = 10000 is above this host's ceiling of 50 ms"),
            "{error}"
        );
        let error = asking(LimitOverrides {
            memory_mib: Some(2048),
            ..LimitOverrides::default()
        })
        .unwrap_err();
        assert!(
            error.starts_with("`memory_mib` = 2048 is above this host's ceiling of 64 MiB"),
            "{error}"
        );
        assert!(
            asking(LimitOverrides {
                deadline_ms: Some(50),
                memory_mib: Some(64),
                ..LimitOverrides::default()
            })
            .is_ok()
        );
    }
}
