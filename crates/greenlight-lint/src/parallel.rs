//! A small parallel map over the machine's cores, without a thread pool
//! crate: workers take the next index from a shared counter.
//!
//! Calls nest: the driver maps over files and the unbound-variable rule
//! maps over one file's scripts. A call made on a worker runs on that
//! worker alone, so a run spawns threads once per level that has work for
//! more than one thread, not once per file.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

thread_local! {
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Returns the number of threads to use. `available_parallelism` reads
/// the CPU affinity and cgroup files on each call, so it is called once.
fn thread_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Applies `f` to every item on up to `available_parallelism` threads and
/// returns the results in the order of `items`.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = thread_count().min(items.len());
    if threads <= 1 || ON_WORKER.with(Cell::get) {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    let work = || {
        let mut local = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                break;
            };
            local.push((index, f(item)));
        }
        // A poisoned lock means another worker panicked; the scope
        // re-raises that panic, so these results are not needed.
        if let Ok(mut all) = results.lock() {
            all.extend(local);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| {
                ON_WORKER.with(|w| w.set(true));
                work();
            });
        }
        // The calling thread is the last worker; it keeps its own flag so
        // a nested call on it still runs inline.
        let was = ON_WORKER.with(|w| w.replace(true));
        work();
        ON_WORKER.with(|w| w.set(was));
    });
    let mut all = results.into_inner().unwrap_or_default();
    all.sort_by_key(|(index, _)| *index);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_of_items() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = map(&items, |n| n * 2);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn nested_calls_run_on_the_calling_worker() {
        let outer: Vec<u32> = (0..8).collect();
        let inner: Vec<u32> = (0..8).collect();
        let threads = map(&outer, |_| {
            let ids = map(&inner, |_| std::thread::current().id());
            ids.windows(2).all(|pair| pair[0] == pair[1])
        });
        assert!(threads.into_iter().all(|same| same));
    }
}
