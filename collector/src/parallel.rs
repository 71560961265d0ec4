//! Work the collector spreads over a few threads: reading and hashing files, where one thread would
//! leave the host's other core idle while the kernel copies and the CPU digests.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads the collector reads and hashes with at most: enough to use a small VM's two cores, few
/// enough not to take a busy host's.
pub const WORKERS: usize = 2;

/// `f` of every item, computed on up to [`WORKERS`] threads (the calling one among them), results in
/// the items' order. Items are handed out one at a time, so one big file does not hold back the rest.
pub fn map_in_order<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_in_order_with(items, || (), |(), item| f(item))
}

/// [`map_in_order`] with a scratch value per thread, made once by `scratch` on each thread that gets an
/// item (a read buffer: one per worker, not one per file).
pub fn map_in_order_with<T: Sync, S, R: Send>(
    items: &[T],
    scratch: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        let mut own: Option<S> = None;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            let s = own.get_or_insert_with(&scratch);
            done.push((i, f(s, item)));
        }
    };
    let mut all: Vec<(usize, R)> = if items.len() < 2 {
        run()
    } else {
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..WORKERS).map(|_| scope.spawn(run)).collect();
            let mut all = run();
            for h in helpers {
                // `f` returns errors as values; a panic in it is a bug, passed on as it is.
                let mut part = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                all.append(&mut part);
            }
            all
        })
    };
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u64> = (0..1000).collect();
        let out = map_in_order(&items, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(map_in_order(&[] as &[u8], |x| *x).is_empty());
        assert_eq!(map_in_order(&[7u8], |x| *x), vec![7]);
    }

    #[test]
    fn scratch_is_made_once_per_thread_not_per_item() {
        let made = AtomicUsize::new(0);
        let items: Vec<u64> = (0..200).collect();
        let out = map_in_order_with(
            &items,
            || {
                made.fetch_add(1, Ordering::Relaxed);
                Vec::<u64>::new()
            },
            |seen, x| {
                seen.push(*x);
                x + 1
            },
        );
        assert_eq!(out, items.iter().map(|x| x + 1).collect::<Vec<_>>());
        assert!((1..=WORKERS).contains(&made.load(Ordering::Relaxed)));
    }
}
