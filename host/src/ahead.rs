//! Instances prepared ahead of requests, on evaluation threads.
//!
//! A fresh instance costs about as much to create and to throw away as the policy call it is
//! made for. On an ordinary thread both happen while the caller waits. A thread that declares
//! itself an [`EvaluationThread`] moves them out of that wait: after each decision, at a moment
//! of its choosing (a server: once the answer has been handed back), it calls
//! [`EvaluationThread::tidy`], which drops the decision's instances and creates fresh ones of
//! the components it used recently, so that the next request finds them ready.
//!
//! Isolation is unchanged. A prepared instance has run nothing but its own instantiation; it
//! serves exactly one call and is then thrown away, and settings and the request only reach it
//! in that call. Which tenant's request takes it does not matter: a component's instance holds
//! nothing of any tenant's until it is called. The call's deadline, fuel and output limit are
//! set when it is taken, not when it was made.
//!
//! What is held is bounded: each thread prepares instances of at most [`RECENT`] components
//! (by component and limits), and every instance held across threads takes a ticket from the
//! engine's [`HeldBudget`], for which the engine's instance pool has slots of its own (see
//! [`crate::runtime`]). With no ticket left, a thread creates and drops instances inline, as
//! an ordinary thread does.
//!
//! The work moved off the request path is still done, on the same thread and core: latency
//! drops, CPU per decision does not (see `docs/performance.md`).

use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

use crate::clock::StoreState;
use crate::limits::Limits;

/// Makes a fresh store and instance of one component for its limits, for
/// [`EvaluationThread::tidy`]; `None` when instantiating failed.
pub(crate) type Prepare = Rc<dyn Fn() -> Option<(Store<StoreState>, Instance)>>;

/// How many components (with their limits) one evaluation thread keeps an instance ready for:
/// the seed bundle and a few tenants' custom components.
pub const RECENT: usize = 4;

/// How many instances one engine lets evaluation threads hold at once, per core: prepared ones
/// and used ones waiting to be dropped. The instance pool has this many slots more than calls
/// need.
pub(crate) const HELD_PER_CORE: usize = 16;

/// How many instances one engine lets evaluation threads hold: [`HELD_PER_CORE`] per core.
pub(crate) fn held_instances() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * HELD_PER_CORE
}

/// A compiled component's pre-instantiated form, with an identity that is never reused, so that
/// an instance prepared for it is never handed to another component.
#[derive(Clone)]
pub(crate) struct Instantiable {
    id: u64,
    pre: InstancePre<StoreState>,
}

impl Instantiable {
    pub(crate) fn new(pre: InstancePre<StoreState>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Instantiable {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            pre,
        }
    }

    pub(crate) fn pre(&self) -> &InstancePre<StoreState> {
        &self.pre
    }
}

/// How many more instances evaluation threads may hold for one engine.
#[derive(Debug)]
pub(crate) struct HeldBudget {
    left: AtomicUsize,
}

impl HeldBudget {
    pub(crate) fn new(instances: usize) -> Arc<Self> {
        Arc::new(HeldBudget {
            left: AtomicUsize::new(instances),
        })
    }

    fn ticket(self: &Arc<Self>) -> Option<Ticket> {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(1)
            })
            .ok()
            .map(|_| Ticket {
                budget: Arc::clone(self),
            })
    }
}

/// One instance's share of a [`HeldBudget`], given back when dropped.
struct Ticket {
    budget: Arc<HeldBudget>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.budget.left.fetch_add(1, Ordering::AcqRel);
    }
}

/// A store and its instance, held by an evaluation thread.
pub(crate) struct Held {
    pub(crate) store: Store<StoreState>,
    pub(crate) instance: Instance,
    /// Dropped after the store (fields drop in order), so the budget never promises a pool slot
    /// that is still taken.
    ticket: Option<Ticket>,
}

impl Held {
    /// A store made inline, holding no ticket yet.
    pub(crate) fn inline(store: Store<StoreState>, instance: Instance) -> Self {
        Held {
            store,
            instance,
            ticket: None,
        }
    }
}

/// A component this thread used recently, and its prepared instance.
struct Recent {
    id: u64,
    limits: Limits,
    prepare: Prepare,
    budget: Arc<HeldBudget>,
    prepared: Option<Held>,
    /// Preparing it failed (its instantiation trapped or ran out of time): a cold call will say
    /// why, so it is not prepared again while it stays recent.
    unpreparable: bool,
}

#[derive(Default)]
struct Ahead {
    /// Most recently used first.
    recent: Vec<Recent>,
    /// Instances used since the last tidy.
    spent: Vec<Held>,
}

thread_local! {
    static AHEAD: RefCell<Option<Ahead>> = const { RefCell::new(None) };
}

/// Takes this thread's prepared instance of `pre` for `limits`, if it is an evaluation thread
/// and has one; remembers `pre` as recently used either way, with how to `prepare` it and the
/// `budget` its prepared instances count against.
pub(crate) fn take(
    pre: &Instantiable,
    limits: &Limits,
    budget: &Arc<HeldBudget>,
    prepare: impl FnOnce() -> Prepare,
) -> Option<Held> {
    AHEAD.with(|ahead| {
        let mut ahead = ahead.borrow_mut();
        let ahead = ahead.as_mut()?;
        let position = ahead
            .recent
            .iter()
            .position(|recent| recent.id == pre.id && recent.limits == *limits);
        match position {
            Some(position) => {
                // Move it to the front; the order of the others barely matters.
                ahead.recent.swap(0, position);
                ahead.recent[0].prepared.take()
            }
            None => {
                if ahead.recent.len() == RECENT {
                    ahead.recent.pop();
                }
                ahead.recent.insert(
                    0,
                    Recent {
                        id: pre.id,
                        limits: *limits,
                        prepare: prepare(),
                        budget: Arc::clone(budget),
                        prepared: None,
                        unpreparable: false,
                    },
                );
                None
            }
        }
    })
}

/// Hands a used instance back: an evaluation thread keeps it until its next tidy (when the
/// budget allows), any other thread drops it now.
pub(crate) fn spend(mut held: Held, budget: &Arc<HeldBudget>) {
    AHEAD.with(|ahead| {
        let mut ahead = ahead.borrow_mut();
        if let Some(ahead) = ahead.as_mut() {
            if held.ticket.is_none() {
                held.ticket = budget.ticket();
            }
            if held.ticket.is_some() {
                ahead.spent.push(held);
                return;
            }
        }
        drop(ahead);
        drop(held);
    });
}

/// Makes the calling thread an evaluation thread for as long as it lives: policy calls on it
/// use instances prepared by [`tidy`](EvaluationThread::tidy) when there are some, and leave the
/// instances they used for the next tidy to drop. Calls on other threads are not affected.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let engine = patrol::Engine::new(patrol::EngineConfig::default())?;
/// # let config = patrol::TenantConfig::from_file("examples/contoso/tenant.toml".as_ref())?;
/// # let tenant = patrol::Tenant::load(&engine, &config)?;
/// # let requests: Vec<patrol::Request> = Vec::new();
/// let evaluation = patrol::EvaluationThread::start();
/// for request in &requests {
///     let decision = tenant.evaluate(request);
///     // ... hand the decision to whoever waits for it, then:
///     evaluation.tidy();
/// }
/// # Ok(())
/// # }
/// ```
///
/// Not `Send`: it belongs to the thread that started it. Starting a second one on the same
/// thread while the first lives gives a handle to the same state.
pub struct EvaluationThread {
    /// Whether this handle started the thread's state, and clears it when dropped.
    owner: bool,
    _not_send: PhantomData<*const ()>,
}

impl EvaluationThread {
    /// Makes the calling thread an evaluation thread.
    pub fn start() -> EvaluationThread {
        let owner = AHEAD.with(|ahead| {
            let mut ahead = ahead.borrow_mut();
            if ahead.is_some() {
                return false;
            }
            *ahead = Some(Ahead::default());
            true
        });
        EvaluationThread {
            owner,
            _not_send: PhantomData,
        }
    }

    /// Drops the instances used since the last tidy and prepares a fresh instance of each
    /// component used recently that has none. Call it when nobody waits for this thread.
    pub fn tidy(&self) {
        let spent = AHEAD.with(|ahead| {
            ahead
                .borrow_mut()
                .as_mut()
                .map(|ahead| std::mem::take(&mut ahead.spent))
        });
        drop(spent);
        for index in 0..RECENT {
            // Taken out while it is instantiated, so that nothing borrows the thread's state
            // meanwhile; put back where it was.
            let wanted = AHEAD.with(|ahead| {
                let mut ahead = ahead.borrow_mut();
                let recent = ahead.as_mut()?.recent.get_mut(index)?;
                if recent.prepared.is_some() || recent.unpreparable {
                    return Some(None);
                }
                Some(Some((
                    recent.id,
                    recent.limits,
                    Rc::clone(&recent.prepare),
                    Arc::clone(&recent.budget),
                )))
            });
            let Some(wanted) = wanted else { break };
            let Some((id, limits, prepare, budget)) = wanted else {
                continue;
            };
            let Some(ticket) = budget.ticket() else {
                break;
            };
            let prepared = prepare().map(|(store, instance)| Held {
                store,
                instance,
                ticket: Some(ticket),
            });
            AHEAD.with(|ahead| {
                let mut ahead = ahead.borrow_mut();
                let Some(recent) = ahead.as_mut().and_then(|ahead| {
                    ahead
                        .recent
                        .iter_mut()
                        .find(|recent| recent.id == id && recent.limits == limits)
                }) else {
                    return;
                };
                match prepared {
                    Some(held) => recent.prepared = Some(held),
                    None => recent.unpreparable = true,
                }
            });
        }
    }

    /// How many instances this thread holds ready.
    pub fn prepared(&self) -> usize {
        AHEAD.with(|ahead| {
            ahead.borrow().as_ref().map_or(0, |ahead| {
                ahead
                    .recent
                    .iter()
                    .filter(|recent| recent.prepared.is_some())
                    .count()
            })
        })
    }
}

impl Drop for EvaluationThread {
    fn drop(&mut self) {
        if self.owner {
            let ahead = AHEAD.with(|ahead| ahead.borrow_mut().take());
            drop(ahead);
        }
    }
}

impl std::fmt::Debug for EvaluationThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluationThread")
            .field("prepared", &self.prepared())
            .finish()
    }
}
