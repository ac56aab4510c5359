//! Runs a fleet's plans side by side on a bounded number of threads.
//!
//! Threads, not tasks on one runtime: a plan's run is an engine on its own single-threaded
//! runtime with a synchronous SQLite store and sandbox, exactly as `apply` runs it, so plans
//! never wait on each other's disk I/O. What they do share (a request budget per platform, the
//! stop request) is thread-safe.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `work` applied to every item, at most `concurrency` at a time, results in the items' order.
pub(super) fn each<I, T, F>(items: Vec<I>, concurrency: usize, work: F) -> Vec<T>
where
    I: Send,
    T: Send,
    F: Fn(I) -> T + Sync,
{
    let count = items.len();
    let slots: Vec<Mutex<Option<I>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
    let results: Vec<Mutex<Option<T>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, count.max(1)) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(slot) = slots.get(index) else { break };
                    let item = slot.lock().ok().and_then(|mut s| s.take());
                    if let Some(item) = item {
                        let result = work(item);
                        if let Ok(mut r) = results[index].lock() {
                            *r = Some(result);
                        }
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|r| r.into_inner().ok().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_and_the_bound_holds() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let out = each((0..20).collect(), 3, |i: u64| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        assert_eq!(out, (0..20).map(|i| i * 2).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert!(each(Vec::<u8>::new(), 4, |i| i).is_empty());
    }
}
