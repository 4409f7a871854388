//! Stable sorting through one copy of the standard sort in the bundle: each `sort_by` on a
//! new element type or closure compiles the whole stable sort again (2–4 KB of wasm each,
//! measured with twiggy). [`by`] sorts positions with a `dyn` comparison — one instantiation
//! for every caller — then moves the items into that order.

use std::cmp::Ordering;

/// Sorts `items` stably by `cmp`.
pub fn by<T>(items: &mut Vec<T>, cmp: &dyn Fn(&T, &T) -> Ordering) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    positions(&mut order, &|a, b| cmp(&items[a], &items[b]));
    let mut taken: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(order.into_iter().filter_map(|i| taken[i].take()));
}

#[inline(never)]
fn positions(order: &mut [usize], cmp: &dyn Fn(usize, usize) -> Ordering) {
    order.sort_by(|a, b| cmp(*a, *b));
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorts_stably_like_the_standard_sort() {
        let mut items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        let mut expected = items.clone();
        expected.sort_by_key(|x| x.0);
        super::by(&mut items, &|a, b| a.0.cmp(&b.0));
        assert_eq!(items, expected);
        assert_eq!(items, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut empty: Vec<u8> = Vec::new();
        super::by(&mut empty, &|a, b| a.cmp(b));
        assert!(empty.is_empty());
    }
}
