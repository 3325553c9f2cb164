//! The small timer table every transaction machine keeps (RFC 3261 §17 timers A–K, RFC 6026
//! timers L and M), and the queue its actions wait in.
//!
//! A machine has at most five timers, so instead of a heap each keeps a fixed
//! `[Option<Instant>; N]` indexed by its own `Timer` enum (the idea of quinn-proto's
//! `TimerTable`). [`TimerTable::next`] answers both "when must I be woken?"
//! (`poll_timeout`) and "why?" (str0m's `Reason` idea: the timer's name goes in the log).
//! [`TimerTable::pop_expired`] hands out due timers one at a time, earliest first, so a machine
//! woken late processes them in the order they would have fired.
//!
//! Actions are queued in an [`ActionQueue`] with inline room for a few entries, so a
//! transaction never allocates to report what it wants done (ARCHITECTURE.md §3, anti-pattern 7
//! of the Sans-IO notes).

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use smallvec::SmallVec;

/// A machine's timer names: a dense index into its [`TimerTable`].
pub(crate) trait TimerId: Copy + 'static {
    /// Every timer, in tie-break order: when two expire at the same instant, the one listed
    /// first fires first (machines list their terminating timer before the retransmission one).
    const ALL: &'static [Self];
    /// The slot of this timer; below the table's `N` by construction of each machine's enum.
    fn index(self) -> usize;
}

/// Deadlines of one machine's timers; `None` means disarmed.
#[derive(Debug, Clone)]
pub(crate) struct TimerTable<T, const N: usize> {
    slots: [Option<Instant>; N],
    _ids: PhantomData<T>,
}

impl<T: TimerId, const N: usize> TimerTable<T, N> {
    /// All timers disarmed.
    pub(crate) fn new() -> Self {
        Self {
            slots: [None; N],
            _ids: PhantomData,
        }
    }

    /// Arms `timer` to fire `after` from `now`, replacing any earlier deadline. A sum that would
    /// overflow `Instant` (impossible with a validated config) arms nothing rather than panic.
    pub(crate) fn set(&mut self, timer: T, now: Instant, after: Duration) {
        if let Some(slot) = self.slots.get_mut(timer.index()) {
            *slot = now.checked_add(after);
        }
    }

    /// Disarms `timer`.
    pub(crate) fn stop(&mut self, timer: T) {
        if let Some(slot) = self.slots.get_mut(timer.index()) {
            *slot = None;
        }
    }

    /// Disarms every timer (the machine terminated).
    pub(crate) fn stop_all(&mut self) {
        self.slots = [None; N];
    }

    /// The deadline of `timer`, if armed.
    pub(crate) fn get(&self, timer: T) -> Option<Instant> {
        self.slots.get(timer.index()).copied().flatten()
    }

    /// The earliest armed timer and its deadline; ties go to the timer listed first in `ALL`.
    pub(crate) fn next(&self) -> Option<(T, Instant)> {
        let mut best: Option<(T, Instant)> = None;
        for &t in T::ALL {
            if let Some(at) = self.get(t)
                && best.is_none_or(|(_, b)| at < b)
            {
                best = Some((t, at));
            }
        }
        best
    }

    /// Disarms and returns the earliest timer whose deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<T> {
        let (t, at) = self.next()?;
        if at > now {
            return None;
        }
        self.stop(t);
        Some(t)
    }
}

/// A FIFO of pending actions with inline room for four (no machine emits more per event).
#[derive(Debug, Clone)]
pub(crate) struct ActionQueue<A> {
    items: SmallVec<[A; 4]>,
}

impl<A> ActionQueue<A> {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        Self {
            items: SmallVec::new(),
        }
    }

    /// Appends an action.
    pub(crate) fn push(&mut self, action: A) {
        self.items.push(action);
    }

    /// Removes and returns the oldest action.
    pub(crate) fn pop(&mut self) -> Option<A> {
        if self.items.is_empty() {
            None
        } else {
            Some(self.items.remove(0))
        }
    }
}

/// How many expired timers one `handle_*` call processes at most. Every machine has at most
/// five timers and a re-armed timer always lies after `now` (T1 > 0), so a handful suffices; the
/// bound only guarantees termination should that invariant ever break.
pub(crate) const MAX_FIRINGS_PER_CALL: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum T {
        X,
        Y,
    }

    impl TimerId for T {
        const ALL: &'static [Self] = &[Self::X, Self::Y];
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn earliest_first_with_ties_in_declaration_order() {
        let base = crate::transaction::test_clock_origin();
        let mut tt = TimerTable::<T, 2>::new();
        assert_eq!(tt.next(), None);
        tt.set(T::Y, base, Duration::from_secs(1));
        tt.set(T::X, base, Duration::from_secs(2));
        assert_eq!(tt.next(), Some((T::Y, base + Duration::from_secs(1))));
        assert_eq!(tt.pop_expired(base), None);
        tt.set(T::X, base, Duration::from_secs(1));
        assert_eq!(tt.pop_expired(base + Duration::from_secs(5)), Some(T::X));
        assert_eq!(tt.pop_expired(base + Duration::from_secs(5)), Some(T::Y));
        assert_eq!(tt.pop_expired(base + Duration::from_secs(5)), None);
        tt.set(T::X, base, Duration::MAX);
        assert_eq!(tt.get(T::X), None, "overflow arms nothing");
        tt.set(T::Y, base, Duration::ZERO);
        tt.stop_all();
        assert_eq!(tt.next(), None);
    }

    #[test]
    fn queue_is_fifo_and_spills() {
        let mut q = ActionQueue::new();
        for i in 0..6 {
            q.push(i);
        }
        for i in 0..6 {
            assert_eq!(q.pop(), Some(i));
        }
        assert_eq!(q.pop(), None);
    }
}
