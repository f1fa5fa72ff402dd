//! Evaluation threads: where the service judges decisions.
//!
//! One thread per call slot of the engine (one per core by default), each a
//! [`patrol::EvaluationThread`]: it judges a request with instances it prepared beforehand,
//! hands the answer back, and only then drops the used instances and prepares the next ones,
//! while the answer is on its way. tokio's blocking pool could do neither: its threads come and
//! go, and there is no moment after the answer at which they run code of ours.
//!
//! A request whose tenant would have to wait for a call slot (the engine is busy, or the tenant
//! holds its share: see `patrol`'s admission control) is not judged here: an evaluation thread
//! that waited would hold up every request queued behind it, whichever tenant's. It goes to the
//! blocking pool, where requests wait their turn fairly, as they all did before these threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crossbeam_channel::{Receiver, SendError, Sender};
use std::thread;

use patrol::{EvaluationThread, Tenant};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::ApiError;

/// Work for an evaluation thread.
struct Job {
    /// Whose policies the work calls: asked whether its calls would wait.
    tenant: Arc<Tenant>,
    /// Where to send the work if they would.
    runtime: Handle,
    work: Box<dyn FnOnce() + Send>,
}

/// The evaluation threads. Dropping this stops them once their queue is empty.
pub(crate) struct Evaluators {
    jobs: Sender<Job>,
    unfinished: Arc<Unfinished>,
}

/// How many jobs have been handed over and not finished, second parts included.
#[derive(Default)]
struct Unfinished {
    count: Mutex<usize>,
    none: Condvar,
}

impl Unfinished {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.count
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One unfinished job; finished when dropped, however the job ended.
struct Counted(Arc<Unfinished>);

impl Counted {
    fn new(unfinished: &Arc<Unfinished>) -> Counted {
        *unfinished.lock() += 1;
        Counted(Arc::clone(unfinished))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut count = self.0.lock();
        *count -= 1;
        if *count == 0 {
            self.0.none.notify_all();
        }
    }
}

impl Evaluators {
    /// Starts `threads` evaluation threads (at least one).
    pub(crate) fn start(threads: usize) -> std::io::Result<Evaluators> {
        let (sender, receiver) = crossbeam_channel::unbounded::<Job>();
        for index in 0..threads.max(1) {
            let receiver = receiver.clone();
            thread::Builder::new()
                .name(format!("patrol-evaluation-{index}"))
                .spawn(move || evaluate_jobs(&receiver))?;
        }
        Ok(Evaluators {
            jobs: sender,
            unfinished: Arc::default(),
        })
    }

    /// Runs `work`, which calls `tenant`'s policies, on an evaluation thread (or, when its
    /// calls would wait, on the blocking pool). `work` comes in two parts: the first returns
    /// the answer, and the second runs once the answer has been handed back, while the caller
    /// goes on (the decision log, for instance).
    pub(crate) async fn run_then<R: Send + 'static, Then: FnOnce()>(
        &self,
        tenant: &Arc<Tenant>,
        work: impl FnOnce() -> (R, Then) + Send + 'static,
    ) -> Result<R, ApiError> {
        let (answer, answered) = oneshot::channel();
        let counted = Counted::new(&self.unfinished);
        let job = Job {
            tenant: Arc::clone(tenant),
            runtime: Handle::current(),
            work: Box::new(move || {
                let (result, then) = work();
                // The receiver is gone when the client went away: nothing to answer.
                let _ = answer.send(result);
                then();
                drop(counted);
            }),
        };
        if let Err(SendError(job)) = self.jobs.send(job) {
            // Every evaluation thread has stopped (which should not happen: a panic is caught):
            // the work still gets done, on the blocking pool.
            tracing::error!("the evaluation threads have stopped; judging on the blocking pool");
            job.runtime.spawn_blocking(job.work);
        }
        answered
            .await
            .map_err(|_| ApiError::internal("the decision did not finish"))
    }

    /// Waits until every job handed over so far has finished, second parts included: at
    /// shutdown, before the decision log is closed. Blocking.
    pub(crate) fn wait_finished(&self) {
        let mut count = self.unfinished.lock();
        while *count > 0 {
            count = self
                .unfinished
                .none
                .wait(count)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// An evaluation thread's loop: until the queue is closed, take a job, run it (or pass it on,
/// if it would wait), then tidy while nobody waits for this thread.
fn evaluate_jobs(jobs: &Receiver<Job>) {
    let evaluation = EvaluationThread::start();
    while let Ok(job) = jobs.recv() {
        if job.tenant.calls_would_wait() {
            job.runtime.spawn_blocking(job.work);
            continue;
        }
        // A panic drops the job's answer channel, which its caller reports as a failure; the
        // thread goes on with the next job.
        if catch_unwind(AssertUnwindSafe(job.work)).is_err() {
            tracing::error!("a decision panicked on an evaluation thread");
        }
        evaluation.tidy();
    }
}
