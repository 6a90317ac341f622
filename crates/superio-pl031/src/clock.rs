//! Where the RTC's notion of "now" comes from.
//!
//! The device never reads a clock by itself: it asks a [`Clock`] it was given.
//! That keeps it a pure state machine (tests drive a [`ManualClock`] and never
//! sleep) and lets a VMM decide which host timeline the guest's RTC follows:
//!
//! | clock | follows | when to use |
//! |---|---|---|
//! | [`RealtimeClock`] | the host's `CLOCK_REALTIME`, including NTP steps | default: the guest sees what the host sees |
//! | [`SteadyClock`] | host UTC at creation, then a monotonic clock | host clock steps must not move the guest's RTC |
//! | [`ManualClock`] | whatever the owner sets | tests, deterministic replay, paused VMs |

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A source of wall-clock time: nanoseconds since the Unix epoch (UTC) on the
/// timeline the clock follows.
///
/// Nanoseconds rather than seconds because the RTC's alarm must fire at the
/// exact second boundary on which its counter reaches the match value, and
/// that boundary generally falls between two whole seconds of the host clock
/// (see the crate docs on the sub-second phase). `u64` nanoseconds reach the
/// year 2554, beyond the PL031's own 32-bit range (2106).
///
/// A clock may go backwards (a host `settimeofday`); the device copes: its
/// counter follows the clock back, and no alarm fires for the stretch that is
/// replayed (see [`crate::Pl031`]).
///
/// ```
/// use superio_pl031::{Clock, NANOS_PER_SEC};
///
/// /// A clock frozen at 2024-01-01T00:00:00Z.
/// #[derive(Debug)]
/// struct Frozen;
/// impl Clock for Frozen {
///     fn now_ns(&self) -> u64 { 1_704_067_200 * NANOS_PER_SEC }
/// }
/// assert_eq!(Frozen.now_ns() / NANOS_PER_SEC, 1_704_067_200);
/// ```
pub trait Clock {
    /// The current time, in nanoseconds since 1970-01-01T00:00:00Z.
    fn now_ns(&self) -> u64;
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now_ns(&self) -> u64 {
        (**self).now_ns()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    #[inline]
    fn now_ns(&self) -> u64 {
        (**self).now_ns()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    #[inline]
    fn now_ns(&self) -> u64 {
        (**self).now_ns()
    }
}

/// Seconds below 2³⁴ (year 2514) convert to nanoseconds without overflow
/// (2³⁴ × 10⁹ < 2⁶⁴); testing the high bits is one instruction cheaper on the
/// hot path than comparing with the exact limit.
const FAST_SECS_BITS: u32 = 34;

/// Converts a `SystemTime` to nanoseconds since the epoch, clamping times
/// before 1970 to 0 and after 2554 to `u64::MAX` instead of failing.
/// Inlined: it runs on every time-dependent guest access with the default
/// clock, and inside the device it folds to a compare, a multiply and an add.
#[inline]
fn system_time_ns(t: SystemTime) -> u64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => {
            let secs = d.as_secs();
            let nanos = u64::from(d.subsec_nanos());
            if secs >> FAST_SECS_BITS == 0 {
                // Below 2^34 * 10^9 <= u64::MAX - 10^9: no overflow.
                secs * NANOS_PER_SEC + nanos
            } else {
                // Years 2514 to 2554: exact where it fits, else clamped.
                secs.checked_mul(NANOS_PER_SEC)
                    .and_then(|ns| ns.checked_add(nanos))
                    .unwrap_or(u64::MAX)
            }
        }
        Err(_) => 0,
    }
}

/// The host's real-time clock (`SystemTime`, i.e. `CLOCK_REALTIME`): the
/// default, so that DR reads the host's UTC time at VM start (CONFORMANCE R2).
///
/// It jumps when the host's time is stepped; use [`SteadyClock`] if the guest
/// must not see those jumps.
///
/// ```
/// use superio_pl031::{Clock, RealtimeClock, NANOS_PER_SEC};
///
/// // Some time after 2020-01-01.
/// assert!(RealtimeClock.now_ns() / NANOS_PER_SEC > 1_577_836_800);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RealtimeClock;

impl Clock for RealtimeClock {
    // Inlined across crates: the device is generic over its clock, so the
    // conversion compiles into its register read instead of a call.
    #[inline]
    fn now_ns(&self) -> u64 {
        system_time_ns(SystemTime::now())
    }
}

/// Host UTC read once at creation, then advanced by a monotonic clock
/// (`Instant`): a guest RTC that starts at the right time and then ticks
/// steadily, immune to host time steps (and, like `CLOCK_MONOTONIC`, not
/// advancing while the host itself is suspended).
///
/// ```
/// use superio_pl031::{Clock, RealtimeClock, SteadyClock};
///
/// let steady = SteadyClock::new();
/// let a = steady.now_ns();
/// let b = steady.now_ns();
/// assert!(b >= a); // never goes back
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SteadyClock {
    anchor_ns: u64,
    anchor: Instant,
}

impl SteadyClock {
    /// Anchors the clock to the host's current UTC time.
    pub fn new() -> Self {
        Self::anchored_at(system_time_ns(SystemTime::now()))
    }

    /// Anchors the clock to `epoch_ns` (nanoseconds since the Unix epoch) now.
    pub fn anchored_at(epoch_ns: u64) -> Self {
        Self {
            anchor_ns: epoch_ns,
            anchor: Instant::now(),
        }
    }
}

impl Default for SteadyClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SteadyClock {
    fn now_ns(&self) -> u64 {
        let elapsed = u64::try_from(self.anchor.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.anchor_ns.saturating_add(elapsed)
    }
}

/// A clock that moves only when told to: for tests and deterministic replay.
///
/// Clones share the same time, so a test keeps one handle while the device
/// owns another.
///
/// ```
/// use std::time::Duration;
/// use superio_pl031::{Clock, ManualClock, NANOS_PER_SEC};
///
/// let clock = ManualClock::from_secs(1_000);
/// let handle = clock.clone();
/// handle.advance(Duration::from_millis(1_500));
/// assert_eq!(clock.now_ns(), 1_001 * NANOS_PER_SEC + 500_000_000);
/// handle.set_ns(5);
/// assert_eq!(clock.now_ns(), 5);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `ns` nanoseconds since the epoch.
    pub fn new(ns: u64) -> Self {
        Self(Arc::new(AtomicU64::new(ns)))
    }

    /// A clock reading `secs` whole seconds since the epoch (saturating).
    pub fn from_secs(secs: u64) -> Self {
        Self::new(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// Sets the time (forwards or backwards).
    pub fn set_ns(&self, ns: u64) {
        self.0.store(ns, Ordering::SeqCst);
    }

    /// Moves the time forward by `by`, saturating at `u64::MAX` nanoseconds.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.advance_ns(by);
    }

    /// Moves the time forward by `ns` nanoseconds, saturating.
    pub fn advance_ns(&self, ns: u64) {
        let mut cur = self.0.load(Ordering::SeqCst);
        loop {
            let next = cur.saturating_add(ns);
            match self
                .0
                .compare_exchange(cur, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Moves the time back by `ns` nanoseconds, saturating at 0.
    pub fn rewind_ns(&self, ns: u64) {
        let mut cur = self.0.load(Ordering::SeqCst);
        loop {
            let next = cur.saturating_sub(ns);
            match self
                .0
                .compare_exchange(cur, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_system_time_before_epoch_clamps_to_zero() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(system_time_ns(before), 0);
    }

    #[test]
    fn test_system_time_converts_to_exact_nanoseconds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(system_time_ns(t), 1_700_000_000_123_456_789);
    }

    #[test]
    fn test_system_time_beyond_u64_nanoseconds_clamps_to_max() {
        // u64::MAX ns is 18446744073.709551615 s after the epoch.
        let last = UNIX_EPOCH + Duration::new(18_446_744_073, 709_551_615);
        assert_eq!(system_time_ns(last), u64::MAX);
        let past = UNIX_EPOCH + Duration::new(18_446_744_073, 709_551_616);
        assert_eq!(system_time_ns(past), u64::MAX);
        let far = UNIX_EPOCH + Duration::from_secs(20_000_000_000);
        assert_eq!(system_time_ns(far), u64::MAX);
    }

    #[test]
    fn test_manual_clock_saturates_instead_of_wrapping() {
        let c = ManualClock::new(u64::MAX - 1);
        c.advance_ns(10);
        assert_eq!(c.now_ns(), u64::MAX);
        c.set_ns(3);
        c.rewind_ns(10);
        assert_eq!(c.now_ns(), 0);
    }

    #[test]
    fn test_steady_clock_starts_at_anchor() {
        let c = SteadyClock::anchored_at(42 * NANOS_PER_SEC);
        let now = c.now_ns();
        assert!(now >= 42 * NANOS_PER_SEC);
    }

    #[test]
    fn test_clock_forwarding_through_pointers() {
        let c = ManualClock::new(7);
        let boxed: Box<dyn Clock> = Box::new(c.clone());
        let shared = Arc::new(c.clone());
        let by_ref: &ManualClock = &c;
        assert_eq!(Clock::now_ns(&by_ref), 7);
        assert_eq!(boxed.now_ns(), 7);
        assert_eq!(shared.now_ns(), 7);
    }
}
