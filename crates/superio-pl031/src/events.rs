//! What the RTC tells its VMM besides the interrupt: events for metrics, logs
//! and the control plane.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::NANOS_PER_SEC;

/// The guest loaded a new time into the counter (a write to RTCLR).
///
/// A control plane that wants the guest's clock setting to survive a VM
/// restart persists [`TimeSet::offset_ns`] and hands it back with
/// [`crate::Pl031::set_offset_ns`] when it creates the next instance.
///
/// ```
/// use superio_pl031::{TimeSet, NANOS_PER_SEC};
///
/// // At host time 1000.25 s the guest set its RTC to 400 s.
/// let set = TimeSet { value: 400, clock_ns: 1_000 * NANOS_PER_SEC + 250_000_000 };
/// assert_eq!(set.offset_ns(), -600_250_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSet {
    /// The value written to RTCLR: seconds the counter (RTCDR) now reads.
    pub value: u32,
    /// The device clock's reading at the moment of the write.
    pub clock_ns: u64,
}

impl TimeSet {
    /// Guest time minus clock time, in nanoseconds, right after the write: the
    /// quantity [`crate::Pl031::set_offset_ns`] takes.
    pub fn offset_ns(&self) -> i128 {
        i128::from(self.value) * i128::from(NANOS_PER_SEC) - i128::from(self.clock_ns)
    }
}

/// Events the RTC reports. Every method has a no-op default, so an
/// implementation overrides only what it needs.
///
/// Methods take `&self` so one sink can be shared (`Arc`) between the device
/// and a metrics exporter.
///
/// ```
/// use std::cell::Cell;
/// use superio_pl031::{Pl031Events, TimeSet};
///
/// /// Remembers the last time the guest set.
/// #[derive(Debug, Default)]
/// struct Persist(Cell<Option<i128>>);
/// impl Pl031Events for Persist {
///     fn time_set(&self, set: TimeSet) { self.0.set(Some(set.offset_ns())); }
/// }
///
/// let p = Persist::default();
/// p.time_set(TimeSet { value: 10, clock_ns: 4_000_000_000 });
/// assert_eq!(p.0.get(), Some(6_000_000_000));
/// ```
pub trait Pl031Events {
    /// A read the device does not decode (reserved space, the write-only
    /// RTCICR, a misaligned offset). It read 0.
    fn invalid_read(&self, _offset: u32) {}
    /// A write the device ignores (read-only or reserved register, misaligned
    /// offset).
    fn invalid_write(&self, _offset: u32, _value: u32) {}
    /// The guest set the time (wrote RTCLR).
    fn time_set(&self, _set: TimeSet) {}
    /// The counter reached the match value: RTCRIS went from 0 to 1.
    fn alarm_fired(&self) {}
    /// The interrupt sink refused a level change; the device retries on its
    /// next update (and [`crate::Pl031::next_deadline`] asks for one soon).
    fn interrupt_error(&self) {}
}

/// Ignores every event.
///
/// ```
/// use superio_pl031::{NoEvents, Pl031Events};
/// NoEvents.alarm_fired(); // does nothing
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NoEvents;

impl Pl031Events for NoEvents {}

impl<E: Pl031Events + ?Sized> Pl031Events for &E {
    fn invalid_read(&self, offset: u32) {
        (**self).invalid_read(offset);
    }
    fn invalid_write(&self, offset: u32, value: u32) {
        (**self).invalid_write(offset, value);
    }
    fn time_set(&self, set: TimeSet) {
        (**self).time_set(set);
    }
    fn alarm_fired(&self) {
        (**self).alarm_fired();
    }
    fn interrupt_error(&self) {
        (**self).interrupt_error();
    }
}

impl<E: Pl031Events + ?Sized> Pl031Events for Arc<E> {
    fn invalid_read(&self, offset: u32) {
        (**self).invalid_read(offset);
    }
    fn invalid_write(&self, offset: u32, value: u32) {
        (**self).invalid_write(offset, value);
    }
    fn time_set(&self, set: TimeSet) {
        (**self).time_set(set);
    }
    fn alarm_fired(&self) {
        (**self).alarm_fired();
    }
    fn interrupt_error(&self) {
        (**self).interrupt_error();
    }
}

/// Ready-made metrics: atomic counters for every event, plus the offset of the
/// guest's last time setting. Share it as `Arc<Pl031Counters>` between the
/// device and an exporter.
///
/// ```
/// use std::sync::Arc;
/// use superio_core::test_utils::RecordingIrq;
/// use superio_pl031::{ManualClock, Pl031, Pl031Counters, RTCLR};
///
/// let counters = Arc::new(Pl031Counters::default());
/// let clock = ManualClock::from_secs(100);
/// let mut rtc = Pl031::with_events(RecordingIrq::new(), clock, Arc::clone(&counters));
/// rtc.write(RTCLR, 40);
/// rtc.read(0x020); // reserved
/// assert_eq!(counters.time_sets(), 1);
/// assert_eq!(counters.invalid_reads(), 1);
/// assert_eq!(counters.last_offset_ns(), Some(-60_000_000_000));
/// ```
#[derive(Debug, Default)]
pub struct Pl031Counters {
    invalid_reads: AtomicU64,
    invalid_writes: AtomicU64,
    time_sets: AtomicU64,
    alarms_fired: AtomicU64,
    interrupt_errors: AtomicU64,
    /// Offset of the last time set, as `i64` (saturated); valid when `time_sets > 0`.
    last_offset_ns: std::sync::atomic::AtomicI64,
}

fn bump(counter: &AtomicU64) {
    // Saturate rather than wrap: a counter that wraps to 0 would hide a flood.
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_add(1));
}

impl Pl031Counters {
    /// Reads of undecoded offsets.
    pub fn invalid_reads(&self) -> u64 {
        self.invalid_reads.load(Ordering::Relaxed)
    }
    /// Ignored writes.
    pub fn invalid_writes(&self) -> u64 {
        self.invalid_writes.load(Ordering::Relaxed)
    }
    /// Guest writes of RTCLR.
    pub fn time_sets(&self) -> u64 {
        self.time_sets.load(Ordering::Relaxed)
    }
    /// Match events (RTCRIS rising).
    pub fn alarms_fired(&self) -> u64 {
        self.alarms_fired.load(Ordering::Relaxed)
    }
    /// Refused interrupt-sink calls.
    pub fn interrupt_errors(&self) -> u64 {
        self.interrupt_errors.load(Ordering::Relaxed)
    }
    /// [`TimeSet::offset_ns`] of the guest's last time setting (saturated to
    /// the `i64` range, ±292 years), or `None` if the guest never set the time.
    pub fn last_offset_ns(&self) -> Option<i64> {
        (self.time_sets() > 0).then(|| self.last_offset_ns.load(Ordering::Relaxed))
    }
}

impl Pl031Events for Pl031Counters {
    fn invalid_read(&self, _offset: u32) {
        bump(&self.invalid_reads);
    }
    fn invalid_write(&self, _offset: u32, _value: u32) {
        bump(&self.invalid_writes);
    }
    fn time_set(&self, set: TimeSet) {
        let offset = set.offset_ns();
        let clamped = i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX });
        self.last_offset_ns.store(clamped, Ordering::Relaxed);
        bump(&self.time_sets);
    }
    fn alarm_fired(&self) {
        bump(&self.alarms_fired);
    }
    fn interrupt_error(&self) {
        bump(&self.interrupt_errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_counters_saturate_at_u64_max() {
        let c = Pl031Counters::default();
        c.alarms_fired.store(u64::MAX, Ordering::Relaxed);
        c.alarm_fired();
        assert_eq!(c.alarms_fired(), u64::MAX);
    }

    #[test]
    fn test_time_set_offset_saturates_into_i64() {
        let c = Pl031Counters::default();
        c.time_set(TimeSet {
            value: 0,
            clock_ns: u64::MAX,
        });
        assert_eq!(c.last_offset_ns(), Some(i64::MIN));
    }

    #[test]
    fn test_no_time_set_means_no_offset() {
        assert_eq!(Pl031Counters::default().last_offset_ns(), None);
    }
}
