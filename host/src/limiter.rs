//! The resource limiter every policy store carries: linear memory (summed over the
//! instance's memories), table elements, and counts of instances, tables and memories. A
//! refusal is raised as an error rather than a failed `memory.grow`, so the call stops at once
//! and the host can say which limit was hit.

use wasmtime::ResourceLimiter;

use crate::describe::describe_bytes;
use crate::limits::Limits;

/// A limit a component ran into; raised from the limiter, so it arrives as the call's error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitExceeded {
    #[error(
        "linear memory would grow to {}; the limit is {}",
        describe_bytes(*desired),
        describe_bytes(*limit)
    )]
    Memory { desired: usize, limit: usize },
    #[error("a table would grow to {desired} elements; the limit is {limit}")]
    Table { desired: usize, limit: usize },
}

pub(crate) struct Limiter {
    memory_limit: usize,
    /// Linear memory in use across all of the instance's memories.
    memory_in_use: usize,
    table_limit: usize,
    instances: usize,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Limiter {
            memory_limit: limits.memory_bytes,
            memory_in_use: 0,
            table_limit: limits.table_elements,
            instances: limits.instances,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.memory_in_use - current.min(self.memory_in_use) + desired;
        if total > self.memory_limit {
            return Err(wasmtime::Error::new(LimitExceeded::Memory {
                desired: total,
                limit: self.memory_limit,
            }));
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_limit {
            return Err(wasmtime::Error::new(LimitExceeded::Table {
                desired,
                limit: self.table_limit,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances
    }

    fn memories(&self) -> usize {
        self.instances
    }
}
