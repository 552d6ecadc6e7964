//! Where incoming transactions are checked: at a lower CPU priority than block
//! production.
//!
//! A node has two kinds of work: checking what comes in (decoding, admission rules and
//! the signature of every submitted or pushed transaction) and the consensus path
//! (building, validating and storing blocks). Under overload the first has no end and
//! the second has a deadline: a height whose proposal is not validated within the
//! propose timeout goes to another round. With both at the same priority, a flood of
//! submissions takes the CPU the current height needs, blocks slow down, and the
//! network commits less the more it is offered.
//!
//! So the threads that check incoming transactions run at `[mempool] ingest_nice`
//! (default 10): the consensus path runs first whenever both want the CPU, and checking
//! takes the rest. Submissions then wait for room instead of taking it: the API's
//! checks run in an [`IngestPool`] of a few such threads with a short queue, and a full
//! queue is answered `overloaded` with `Retry-After`. Peers' pushes are checked at
//! normal priority (`consensus::gossip`): the next compact proposal names them, so
//! they are on the consensus path (ADR 0006 measures the other choice).

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// Lowers the calling thread's scheduling priority to `nice` (Linux: per thread; a
/// raise is not possible without privileges, so a thread never gets it back). Returns
/// the error text if the system refused; other systems are left alone.
pub fn lower_thread_priority(nice: i32) -> Result<(), String> {
    if nice <= 0 {
        return Ok(());
    }
    // On Linux a thread id names one thread for `setpriority`.
    #[cfg(target_os = "linux")]
    rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice).map_err(|e| e.to_string())?;
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// Why [`IngestPool::run`] did not run a job.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Every checker is busy and the queue is full: the node is overloaded.
    #[error("every transaction checker is busy and {0} batches are waiting")]
    Busy(usize),
    /// The checker threads are gone (the node is stopping).
    #[error("the transaction checkers have stopped")]
    Stopped,
    /// The check panicked on its thread (a bug; the panic is in the node's log). The
    /// thread lives on for the next job.
    #[error("checking the transactions failed inside the node (see its log)")]
    Failed,
}

/// A few threads at a low priority that check submitted transactions, with a queue of
/// at most two batches per thread.
pub struct IngestPool {
    jobs: SyncSender<Job>,
    queue: usize,
}

impl IngestPool {
    /// Starts `threads` checker threads (at least one) at priority `nice`.
    pub fn start(threads: usize, nice: i32) -> std::io::Result<IngestPool> {
        let threads = threads.max(1);
        let queue = 2 * threads;
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("tx-ingest-{i}")).spawn(move || {
                if let Err(e) = lower_thread_priority(nice) {
                    tracing::warn!(target: "jialing::ingest", nice, error = %e, "could not lower the priority of a transaction checker; it competes with block production");
                }
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(p) => p.into_inner().recv(),
                    };
                    match job {
                        // A panicking job drops its answer channel (`Failed` for the
                        // caller); the thread stays for the next one.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(IngestPool { jobs, queue })
    }

    /// One checker per core (at most four), at priority `nice`.
    pub fn for_machine(nice: i32) -> std::io::Result<IngestPool> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        IngestPool::start(cores.min(4), nice)
    }

    /// Runs `f` on a checker thread and waits for its result; `Busy` at once when the
    /// queue is full.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, IngestError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(IngestError::Busy(self.queue)),
            Err(TrySendError::Disconnected(_)) => return Err(IngestError::Stopped),
        }
        rx.await.map_err(|_| IngestError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls a future once (enqueueing a job happens on the first poll).
    fn poll_once<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
        std::pin::Pin::new(f).poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    }

    /// Jobs run and return their results; with every checker held and the queue full,
    /// the next job is refused at once (`Busy`), and the queued ones still run.
    #[tokio::test]
    async fn a_full_pool_says_busy_instead_of_queueing_without_end() {
        let pool = IngestPool::start(1, 0).unwrap();
        assert_eq!(pool.run(|| 2 + 2).await, Ok(4));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let mut blocker = Box::pin(pool.run(move || {
            started_tx.send(()).unwrap();
            hold.recv().unwrap();
        }));
        assert!(poll_once(&mut blocker).is_pending());
        started.recv().unwrap();
        // The only checker is held: two jobs fill the queue, the third is refused.
        let mut one = Box::pin(pool.run(|| 1));
        let mut two = Box::pin(pool.run(|| 2));
        assert!(poll_once(&mut one).is_pending());
        assert!(poll_once(&mut two).is_pending());
        let mut three = Box::pin(pool.run(|| 3));
        assert_eq!(poll_once(&mut three), std::task::Poll::Ready(Err(IngestError::Busy(2))));
        release.send(()).unwrap();
        assert_eq!(blocker.await, Ok(()));
        assert_eq!((one.await, two.await), (Ok(1), Ok(2)));
        assert_eq!(pool.run(|| 5).await, Ok(5));
    }

    /// A job that panics is `Failed` for its caller, and the one thread goes on.
    #[tokio::test]
    async fn a_panicking_check_fails_its_caller_and_the_thread_goes_on() {
        let pool = IngestPool::start(1, 0).unwrap();
        let failed: Result<(), IngestError> = pool.run(|| panic!("a bug")).await;
        assert_eq!(failed, Err(IngestError::Failed));
        assert_eq!(pool.run(|| 6).await, Ok(6));
    }

    /// The calling thread's nice value goes up (Linux).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_checker_thread_runs_at_the_lower_priority() {
        let nice = std::thread::spawn(|| {
            lower_thread_priority(7).unwrap();
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
        })
        .join()
        .unwrap();
        assert!(nice >= 7, "nice {nice}");
    }
}
