//! The RX FIFO's storage: a fixed ring of bytes.

use std::fmt;

use crate::state::MAX_FIFO_SIZE;

/// Slots in the ring: the deepest FIFO any [`crate::Config`] allows, so the
/// ring never reallocates. A power of two, so a position masked with
/// [`MASK`] is always a valid index and the compiler can drop the bounds
/// check on the per-byte path.
const SLOTS: usize = MAX_FIFO_SIZE;
const MASK: usize = SLOTS - 1;
const _: () = assert!(SLOTS.is_power_of_two());

/// A byte queue over a fixed, heap-allocated ring. Its head is the count of
/// bytes ever popped (wrapping), which also gives every byte an absolute
/// index: the UART marks break characters by that index.
///
/// The caller bounds the length (the FIFO depth of the current mode); pushes
/// beyond [`SLOTS`] are refused rather than overwriting.
pub(crate) struct RxRing {
    slots: Box<[u8; SLOTS]>,
    /// Bytes ever popped or cleared; `head & MASK` is the head slot.
    head: u64,
    /// Bytes ever pushed; `tail - head` is the length. Two counters rather
    /// than head and length, so a pop updates one field.
    tail: u64,
}

impl RxRing {
    pub(crate) fn new() -> Self {
        Self {
            slots: Box::new([0; SLOTS]),
            head: 0,
            tail: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        // At most SLOTS: every push checks.
        self.tail.wrapping_sub(self.head) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// The absolute index of the head byte (bytes popped or cleared so far).
    pub(crate) fn popped(&self) -> u64 {
        self.head
    }

    fn slot(index: u64) -> usize {
        // Truncating is fine: only the low bits select the slot.
        (index as usize) & MASK
    }

    pub(crate) fn pop(&mut self) -> Option<u8> {
        if self.head == self.tail {
            return None;
        }
        let byte = self.slots.get(Self::slot(self.head)).copied().unwrap_or(0);
        self.head = self.head.wrapping_add(1);
        Some(byte)
    }

    /// Appends `byte`; returns false (and drops it) if the ring is full.
    pub(crate) fn push(&mut self, byte: u8) -> bool {
        if self.len() >= SLOTS {
            return false;
        }
        if let Some(s) = self.slots.get_mut(Self::slot(self.tail)) {
            *s = byte;
        }
        self.tail = self.tail.wrapping_add(1);
        true
    }

    /// Appends as much of `bytes` as fits; returns how many were taken.
    pub(crate) fn extend(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(SLOTS - self.len());
        let start = Self::slot(self.tail);
        // At most two runs: up to the end of the slots, then from slot 0.
        let first = n.min(SLOTS - start);
        let (a, b) = bytes.split_at(first);
        if let Some(dst) = self.slots.get_mut(start..start + first) {
            dst.copy_from_slice(a);
        }
        if let (Some(dst), Some(src)) = (self.slots.get_mut(..n - first), b.get(..n - first)) {
            dst.copy_from_slice(src);
        }
        self.tail = self.tail.wrapping_add(n as u64);
        n
    }

    /// Empties the ring, counting the discarded bytes as popped so the
    /// absolute indices of later bytes stay consistent.
    pub(crate) fn clear(&mut self) {
        self.head = self.tail;
    }

    /// The queued bytes, head first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..self.len() as u64).map(move |i| {
            let slot = Self::slot(self.head.wrapping_add(i));
            self.slots.get(slot).copied().unwrap_or(0)
        })
    }
}

impl fmt::Debug for RxRing {
    // Only the queued bytes: the idle slots are noise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ring_wraps_around_end_keeps_order() {
        let mut r = RxRing::new();
        // Move the head near the end of the slots.
        r.extend(&vec![0; SLOTS - 3]);
        r.clear();
        assert_eq!(r.extend(b"abcdef"), 6);
        assert_eq!(r.iter().collect::<Vec<_>>(), b"abcdef");
        assert_eq!(r.pop(), Some(b'a'));
        assert!(r.push(b'g'));
        let drained: Vec<u8> = std::iter::from_fn(|| r.pop()).collect();
        assert_eq!(drained, b"bcdefg");
        assert_eq!(r.popped(), (SLOTS - 3 + 7) as u64);
    }

    #[test]
    fn test_ring_full_refuses_extra_bytes() {
        let mut r = RxRing::new();
        assert_eq!(r.extend(&vec![1; SLOTS + 5]), SLOTS);
        assert!(!r.push(2));
        assert_eq!(r.extend(b"x"), 0);
        assert_eq!(r.len(), SLOTS);
    }
}
