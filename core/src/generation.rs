//! [`Generation`]: invalidates work queued for an earlier state of an object.

use std::cell::Cell;

/// A counter that an object bumps whenever what it is changes (a timer restarted, a
/// socket's fd replaced or closed). Work queued for later (a timer entry, a delayed
/// re-check) carries the [`Stamp`] of its time and does nothing once it is stale.
#[derive(Debug, Default)]
pub(crate) struct Generation(Cell<u64>);

/// A [`Generation`]'s value at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Generation {
    /// The current value, to check later with [`is_current`](Self::is_current).
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp(self.0.get())
    }

    /// Makes every earlier stamp stale.
    pub(crate) fn bump(&self) {
        self.0.set(self.0.get().wrapping_add(1));
    }

    /// Whether nothing changed since `stamp` was taken.
    pub(crate) fn is_current(&self, stamp: Stamp) -> bool {
        self.0.get() == stamp.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_makes_earlier_stamps_stale() {
        let g = Generation::default();
        let first = g.stamp();
        assert!(g.is_current(first));
        g.bump();
        assert!(!g.is_current(first));
        assert!(g.is_current(g.stamp()));
    }
}
