//! Sorting large vectors of large records without a second copy: sort a vector of indices (4 or 8 bytes
//! each), then move the records into that order in place. `slice::sort_by` on the records themselves
//! would allocate a scratch buffer of up to half of them.

/// Reorders `items` so that position `i` holds the item that was at `from[i]`. `from` must be a
/// permutation of `0..items.len()`; anything else leaves `items` in an unspecified order but never
/// panics.
pub fn apply<T>(items: &mut [T], mut from: Vec<usize>) {
    for start in 0..from.len() {
        let mut cur = start;
        while let Some(&src) = from.get(cur) {
            if let Some(slot) = from.get_mut(cur) {
                *slot = cur;
            }
            if src == start || src == cur || src >= items.len() {
                break;
            }
            items.swap(cur, src);
            cur = src;
        }
    }
}

/// Sorts `items` stably by `cmp`, moving each item at most once.
pub fn sort_by<T>(items: &mut [T], mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|a, b| match (items.get(*a), items.get(*b)) {
        (Some(x), Some(y)) => cmp(x, y),
        _ => std::cmp::Ordering::Equal,
    });
    apply(items, order);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably_in_place() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e'), (0, 'f')];
        sort_by(&mut v, |a, b| a.0.cmp(&b.0));
        assert_eq!(
            v,
            vec![(0, 'f'), (1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]
        );
        let mut w = vec!['x', 'y', 'z'];
        apply(&mut w, vec![2, 0, 1]);
        assert_eq!(w, vec!['z', 'x', 'y']);
        let mut bad = vec![1, 2];
        apply(&mut bad, vec![5, 0]);
        assert_eq!(bad.len(), 2);
    }
}
