//! Group commit: callers that submit work at the same time share one run of it. A task
//! takes whatever has been submitted (up to a limit), runs it as one batch (one
//! transaction, one commit flush, a few multi-row statements) and answers each caller with
//! its own result; what arrives meanwhile goes in the next batch. An idle batcher costs a
//! parked task; a lone caller is a batch of one, so nothing waits for company.
//!
//! ```
//! # async fn demo() {
//! let doubler = service_kit::batch::Batcher::start(64, |xs: Vec<i64>| async move {
//!     xs.into_iter().map(|x| x * 2).collect::<Vec<_>>()
//! });
//! assert_eq!(doubler.submit(21).await, Ok(42));
//! # }
//! ```

use std::future::Future;

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

/// The batcher's task has ended (the runtime is shutting down), or the batch function
/// returned fewer results than it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the batch writer has stopped")]
pub struct Stopped;

type Waiter<T, R> = (T, oneshot::Sender<R>);

/// Runs submitted items in batches of at most `max`, one batch at a time. Cheap to clone;
/// the task ends once every clone is dropped.
pub struct Batcher<T, R> {
    tx: mpsc::Sender<Waiter<T, R>>,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T, R> std::fmt::Debug for Batcher<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Starts the task (on the current Tokio runtime) with one writer: one batch at a
    /// time. `run` gets a batch in submission order and must return one result per item,
    /// in the same order; an item it returns no result for is answered [`Stopped`].
    pub fn start<F, Fut>(max: usize, run: F) -> Self
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        Self::start_concurrent(1, max, run)
    }

    /// [`start`](Self::start) with up to `writers` batches running at once: a batch is
    /// taken only when a writer is free, so what arrives while all are busy waits for the
    /// next batch (with one writer, the batches run back to back). For a store that runs
    /// transactions side by side (PostgreSQL), where a batch's time is mostly its round
    /// trips waiting, not work: the writers overlap their waits.
    pub fn start_concurrent<F, Fut>(writers: usize, max: usize, mut run: F) -> Self
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let max = max.max(1);
        let free = Arc::new(Semaphore::new(writers.max(1)));
        let (tx, mut rx) = mpsc::channel::<Waiter<T, R>>(4 * max);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max);
            loop {
                let Ok(writer) = free.clone().acquire_owned().await else {
                    return;
                };
                if rx.recv_many(&mut batch, max).await == 0 {
                    return;
                }
                let (items, waiters): (Vec<T>, Vec<_>) = batch.drain(..).unzip();
                let results = run(items);
                tokio::spawn(async move {
                    for (w, r) in waiters.into_iter().zip(results.await) {
                        // A caller that gave up (its request was dropped) is not waited for.
                        let _ = w.send(r);
                    }
                    drop(writer);
                });
            }
        });
        Self { tx }
    }

    /// Submits `item`; answers once the batch that holds it has run.
    pub async fn submit(&self, item: T) -> Result<R, Stopped> {
        let (done, answer) = oneshot::channel();
        self.tx.send((item, done)).await.map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn callers_at_the_same_time_share_a_batch_and_get_their_own_answers() {
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let started = Arc::new(AtomicUsize::new(0));
        let running = started.clone();
        let (gate_tx, gate_rx) = tokio::sync::watch::channel(false);
        let b = Batcher::start(8, move |xs: Vec<u32>| {
            seen.lock().unwrap().push(xs.len());
            running.fetch_add(1, Ordering::SeqCst);
            let mut gate = gate_rx.clone();
            async move {
                // Every batch waits until the test opens the gate.
                let _ = gate.wait_for(|open| *open).await;
                xs.into_iter().map(|x| x + 100).collect::<Vec<_>>()
            }
        });
        let call = |i: u32| {
            let b = b.clone();
            tokio::spawn(async move { (i, b.submit(i).await) })
        };
        // A lone caller is a batch of one, run at once.
        let mut calls = vec![call(0)];
        while started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // Nineteen more arrive while it runs: they queue for the next batches.
        calls.extend((1..20).map(call));
        while b.tx.max_capacity() - b.tx.capacity() < 19 {
            tokio::task::yield_now().await;
        }
        gate_tx.send(true).unwrap();
        for c in calls {
            let (i, r) = c.await.unwrap();
            assert_eq!(r, Ok(i + 100));
        }
        assert_eq!(*sizes.lock().unwrap(), [1, 8, 8, 3]);
    }

    #[tokio::test]
    async fn concurrent_writers_run_that_many_batches_at_once_and_no_more() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (gate_tx, gate_rx) = tokio::sync::watch::channel(false);
        let (now, peak) = (running.clone(), most.clone());
        let b = Batcher::start_concurrent(2, 4, move |xs: Vec<u32>| {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            let (now, mut gate) = (now.clone(), gate_rx.clone());
            async move {
                let _ = gate.wait_for(|open| *open).await;
                now.fetch_sub(1, Ordering::SeqCst);
                xs.into_iter().map(|x| x * 10).collect::<Vec<_>>()
            }
        });
        let calls: Vec<_> = (0..12)
            .map(|i| {
                let b = b.clone();
                tokio::spawn(async move { (i, b.submit(i).await) })
            })
            .collect();
        // Two batches start and hold their writers; the rest wait in the queue.
        while running.load(Ordering::SeqCst) < 2 || b.tx.max_capacity() - b.tx.capacity() == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(running.load(Ordering::SeqCst), 2, "a third batch started");
        gate_tx.send(true).unwrap();
        for c in calls {
            let (i, r) = c.await.unwrap();
            assert_eq!(r, Ok(i * 10));
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_item_left_without_a_result_is_told_the_batcher_stopped() {
        let b = Batcher::start(4, |xs: Vec<u32>| async move {
            xs.into_iter().filter(|x| *x == 1).collect::<Vec<_>>()
        });
        assert_eq!(b.submit(1).await, Ok(1));
        assert_eq!(b.submit(2).await, Err(Stopped));
    }
}
