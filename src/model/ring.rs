//! A bounded ring buffer that remembers how many items it has ever held.

use std::collections::VecDeque;

/// A FIFO of at most `cap` items; pushing beyond drops the oldest. [`Ring::total`] counts every push,
/// so "showing the last 2000 of 15 311" is possible, and each item has a stable absolute index.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
    total: u64,
}

impl<T> Ring<T> {
    /// An empty ring holding at most `cap` (at least 1) items.
    pub fn new(cap: usize) -> Self {
        Ring {
            items: VecDeque::new(),
            cap: cap.max(1),
            total: 0,
        }
    }

    /// Append, dropping the oldest item when full.
    pub fn push(&mut self, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
        self.total += 1;
    }

    /// Items held now.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Capacity.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Items ever pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Items pushed and since dropped.
    pub fn dropped(&self) -> u64 {
        self.total - self.items.len() as u64
    }

    /// Absolute index (count of pushes before it) of the oldest item held.
    pub fn first_index(&self) -> u64 {
        self.dropped()
    }

    /// The item with absolute index `idx`, if still held.
    pub fn get_abs(&self, idx: u64) -> Option<&T> {
        let first = self.first_index();
        if idx < first {
            return None;
        }
        self.items.get(usize::try_from(idx - first).ok()?)
    }

    /// The `i`-th held item, oldest first.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator + Clone {
        self.items.iter()
    }

    /// The newest item.
    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    /// The newest item, mutably.
    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.items.back_mut()
    }

    /// The newest items, mutably, newest first.
    pub fn iter_mut_rev(&mut self) -> impl Iterator<Item = &mut T> {
        self.items.iter_mut().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_with_total_and_absolute_index() {
        let mut r = Ring::new(3);
        for i in 0..10 {
            r.push(i);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.total(), 10);
        assert_eq!(r.dropped(), 7);
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![7, 8, 9]);
        assert_eq!(r.get_abs(6), None);
        assert_eq!(r.get_abs(8), Some(&8));
        assert_eq!(r.get_abs(10), None);
    }
}
