//! The PL031 state machine: registers, counter, match alarm, snapshots.

use std::num::NonZeroU64;
use std::time::Duration;

use superio_core::{IrqLine, Trigger, WordRegisters};

use crate::{
    Clock, NoEvents, Pl031Events, RealtimeClock, TimeSet, NANOS_PER_SEC, PCELL_ID, PERIPH_ID,
    RTCCR, RTCCR_START, RTCDR, RTCICR, RTCIMSC, RTCLR, RTCMIS, RTCMR, RTCPCELLID0, RTCPCELLID3,
    RTCPERIPHID0, RTCRIS, RTC_INT_ALARM, WINDOW_SIZE,
};

/// One full turn of the 32-bit seconds counter, in nanoseconds (2³² s, about
/// 136 years). It fits in a `u64` with room for the sum of two such values.
const PERIOD_NS: u64 = (1 << 32) * NANOS_PER_SEC;

/// How long after a refused interrupt-sink call [`Pl031::next_deadline`] asks
/// for a retry: 1 ms, soon enough for a transient irqfd error, slow enough not
/// to spin a VMM thread on a sink that keeps failing.
pub const INTERRUPT_RETRY_NS: u64 = 1_000_000;

/// How a restored RTC's time relates to the time it had when saved.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_pl031::{ManualClock, NoEvents, Pl031, RestorePolicy, RTCDR};
///
/// let clock = ManualClock::from_secs(1_000);
/// let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
/// let saved = rtc.state();
/// clock.set_ns(1_060 * 1_000_000_000); // a minute passes while the VM is saved
///
/// let mut follow = Pl031::from_state(&saved, RestorePolicy::FollowClock,
///     RecordingIrq::new(), clock.clone(), NoEvents).unwrap();
/// assert_eq!(follow.read(RTCDR), 1_060);
/// let mut resume = Pl031::from_state(&saved, RestorePolicy::Resume,
///     RecordingIrq::new(), clock.clone(), NoEvents).unwrap();
/// assert_eq!(resume.read(RTCDR), 1_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Guest time follows the clock: the offset between guest time and clock
    /// time is kept, so time that passed on the clock while the VM was saved
    /// (or in transit) shows up in the guest, like a battery-backed RTC on a
    /// powered-off board. An alarm that came due meanwhile fires on restore.
    /// The usual choice for live migration and suspend-to-disk.
    FollowClock,
    /// Guest time resumes where it was saved: the counter continues from the
    /// saved value (with its sub-second phase), as if the VM had never
    /// stopped. For deterministic replay and for snapshots restored much later
    /// where the guest must not see the gap.
    Resume,
}

/// A saved PL031: plain data, versioned, validated by [`Pl031::from_state`].
///
/// The time is saved as the counter position *and* the clock reading at that
/// moment, which is all both [`RestorePolicy`]s need.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_pl031::{ManualClock, Pl031, Pl031State, RTCMR};
///
/// let mut rtc = Pl031::with_clock(RecordingIrq::new(), ManualClock::from_secs(77));
/// rtc.write(RTCMR, 80);
/// let state = rtc.state();
/// assert_eq!(state.version, Pl031State::VERSION);
/// assert_eq!((state.dr(), state.mr), (77, 80));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pl031State {
    /// Layout version; [`Pl031State::VERSION`] for this build.
    pub version: u32,
    /// The counter's position in nanoseconds, below 2³² s: RTCDR is this
    /// divided by 10⁹, and the remainder is the sub-second phase.
    pub counter_ns: u64,
    /// The device clock's reading when the state was taken.
    pub clock_ns: u64,
    /// RTCMR.
    pub mr: u32,
    /// RTCLR (the last value loaded).
    pub lr: u32,
    /// RTCIMSC: 0 or 1.
    pub imsc: u32,
    /// RTCRIS: 0 or 1.
    pub ris: u32,
}

impl Pl031State {
    /// The state layout this build writes and reads.
    pub const VERSION: u32 = 1;

    /// The RTCDR value at the time of the snapshot.
    pub fn dr(&self) -> u32 {
        u32::try_from(self.counter_ns / NANOS_PER_SEC).unwrap_or(u32::MAX)
    }

    fn validate(&self) -> Result<(), StateError> {
        if self.version != Self::VERSION {
            return Err(StateError::UnsupportedVersion {
                found: self.version,
                supported: Self::VERSION,
            });
        }
        if self.counter_ns >= PERIOD_NS {
            return Err(StateError::CounterOutOfRange(self.counter_ns));
        }
        for (register, value) in [("RTCIMSC", self.imsc), ("RTCRIS", self.ris)] {
            if value & !RTC_INT_ALARM != 0 {
                return Err(StateError::ReservedBits { register, value });
            }
        }
        Ok(())
    }
}

/// Why [`Pl031::from_state`] refused a state. Nothing was changed; the caller
/// can fix or convert the snapshot, or start a fresh device instead.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_pl031::{ManualClock, NoEvents, Pl031, RestorePolicy, StateError};
///
/// let mut state = Pl031::with_clock(RecordingIrq::new(), ManualClock::new(0)).state();
/// state.ris = 2;
/// let err = Pl031::from_state(&state, RestorePolicy::Resume, RecordingIrq::new(),
///     ManualClock::new(0), NoEvents).unwrap_err();
/// assert_eq!(err, StateError::ReservedBits { register: "RTCRIS", value: 2 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The state was written by a build with another layout.
    #[error("PL031 state version {found} is not supported (this build reads {supported}); convert the snapshot or restore it with a matching build")]
    UnsupportedVersion {
        /// The version in the state.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A 1-bit register holds other bits: the snapshot is corrupt.
    #[error("PL031 state: {register} = {value:#x} has bits other than bit 0 set; the snapshot is corrupt")]
    ReservedBits {
        /// Which register.
        register: &'static str,
        /// Its value in the state.
        value: u32,
    },
    /// The counter position is past the 32-bit counter's range: the snapshot is corrupt.
    #[error("PL031 state: counter position {0} ns is beyond the 32-bit counter (2^32 s); the snapshot is corrupt")]
    CounterOutOfRange(u64),
}

/// An ARM PL031 real-time clock.
///
/// Generic over its interrupt sink `T` (a [`Trigger`]), its [`Clock`] `C`
/// (default: the host's [`RealtimeClock`]) and its events sink `E` (default:
/// [`NoEvents`]). Put it on an MMIO bus with [`superio_core::Mmio32`], which
/// checks width and alignment, or call [`Pl031::read`] / [`Pl031::write`]
/// directly.
///
/// ```
/// use superio_core::{BusDevice, Mmio32};
/// use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
/// use superio_pl031::{Pl031, RTCPCELLID0};
///
/// // A VMM: the irqfd of the RTC's SPI, the host clock, no metrics.
/// let irq = EventFd::new(EFD_NONBLOCK).unwrap();
/// let mut bus = Mmio32::new(Pl031::new(irq));
/// let mut data = [0u8; 4];
/// bus.read(u64::from(RTCPCELLID0), &mut data);
/// assert_eq!(u32::from_le_bytes(data), 0x0d);
/// // Arm the VMM's timer from the device after every exit to it:
/// assert_eq!(bus.inner().next_deadline(), None); // no alarm armed
/// ```
#[derive(Debug)]
pub struct Pl031<T: Trigger, C: Clock = RealtimeClock, E: Pl031Events = NoEvents> {
    irq: IrqLine<T>,
    clock: C,
    events: E,
    /// The counter stood at `anchor_counter` (below PERIOD, in nanoseconds)
    /// when the clock read `anchor_clock`; it moves with the clock from
    /// there, modulo PERIOD. Authoritative only while `second_end` is
    /// `None`: otherwise the counter is located by `dr` and `second_end`
    /// alone (see [`Self::anchor`]), so that an RTCLR load does not have to
    /// store it. The offset (two reductions modulo PERIOD) is derived only
    /// on the once-a-second path.
    anchor_clock: u64,
    anchor_counter: u64,
    /// The clock reading at the last update: accesses that do not depend on
    /// the time (everything but RTCDR, RTCRIS, RTCMIS reads and RTCLR writes)
    /// take effect at this time, without a clock read of their own.
    last_now: u64,
    /// RTCDR at `last_now`. Derived, never saved.
    dr: u32,
    /// The clock time at which the counter next steps onto `dr + 1`
    /// (`None`: beyond `u64` nanoseconds; never 0, since the step is always
    /// after a clock reading, which makes the option one word). With `dr`, it
    /// locates the counter without a division, so the match is derived from
    /// it. Derived, never saved.
    second_end: Option<NonZeroU64>,
    /// How far past `last_now` the clock can go before RTCDR or RTCRIS can
    /// change: to `second_end` (a match is a step, so it never comes before
    /// one), or 0 while a refused interrupt level awaits its retry. The whole
    /// cost of an RTCDR read inside a second is the clock read and one
    /// comparison against it; such a read leaves the model alone, since every
    /// clock time in that span gives the same registers. Derived, never saved.
    quiet_span: u64,
    mr: u32,
    lr: u32,
    imsc: bool,
    ris: bool,
    /// Invalid accesses and sink failures seen, for rate-limited logging.
    invalid_accesses: u64,
    irq_failures: u64,
}

impl<T: Trigger> Pl031<T> {
    /// An RTC on the host's real-time clock, reading the host's UTC time
    /// (CONFORMANCE R2), with no events sink.
    pub fn new(irq: T) -> Self {
        Self::with_events(irq, RealtimeClock, NoEvents)
    }
}

impl<T: Trigger, C: Clock> Pl031<T, C> {
    /// An RTC on `clock`, with no events sink.
    pub fn with_clock(irq: T, clock: C) -> Self {
        Self::with_events(irq, clock, NoEvents)
    }
}

impl<T: Trigger, C: Clock, E: Pl031Events> Pl031<T, C, E> {
    /// An RTC on `clock` reporting to `events`. RTCDR starts at the clock's
    /// time in seconds (mod 2³²); all other registers hold their TRM reset
    /// values, except RTCCR, which reads 1 (see [`Pl031::read`]).
    pub fn with_events(irq: T, clock: C, events: E) -> Self {
        let now = clock.now_ns();
        let mut dev = Self {
            irq: IrqLine::new(irq),
            clock,
            events,
            // Counter = clock time mod 2^32 s (CONFORMANCE R2).
            anchor_clock: 0,
            anchor_counter: 0,
            last_now: now,
            dr: 0,
            second_end: None,
            quiet_span: 0,
            mr: 0,
            lr: 0,
            imsc: false,
            ris: false,
            invalid_accesses: 0,
            irq_failures: 0,
        };
        dev.locate();
        dev
    }

    /// Rebuilds an RTC from a saved state, with a fresh interrupt sink (whose
    /// line is raised at once if the saved RTCMIS is 1, CONFORMANCE R9).
    ///
    /// # Errors
    /// [`StateError`] if the state is of another version or corrupt.
    pub fn from_state(
        state: &Pl031State,
        policy: RestorePolicy,
        irq: T,
        clock: C,
        events: E,
    ) -> Result<Self, StateError> {
        state.validate()?;
        let now = clock.now_ns();
        let (anchor_clock, last_now) = match policy {
            RestorePolicy::Resume => (now, now),
            // Search for matches over the time the VM was away, unless the
            // clock is now behind the snapshot (then there is nothing to search).
            RestorePolicy::FollowClock => (state.clock_ns, now.min(state.clock_ns)),
        };
        let mut dev = Self {
            irq: IrqLine::new(irq),
            clock,
            events,
            anchor_clock,
            anchor_counter: state.counter_ns,
            last_now,
            dr: 0,
            second_end: None,
            quiet_span: 0,
            mr: state.mr,
            lr: state.lr,
            imsc: state.imsc & RTC_INT_ALARM != 0,
            ris: state.ris & RTC_INT_ALARM != 0,
            invalid_accesses: 0,
            irq_failures: 0,
        };
        dev.locate();
        dev.advance();
        dev.update_line();
        Ok(dev)
    }

    /// Brings the state up to date and saves it.
    pub fn state(&mut self) -> Pl031State {
        self.advance();
        self.update_line();
        Pl031State {
            version: Pl031State::VERSION,
            counter_ns: self.counter_ns_at(self.last_now),
            clock_ns: self.last_now,
            mr: self.mr,
            lr: self.lr,
            imsc: u32::from(self.imsc),
            ris: u32::from(self.ris),
        }
    }

    /// A 32-bit register read at `offset` (relative to the window base).
    ///
    /// Undefined and misaligned offsets read 0 and are reported as
    /// [`Pl031Events::invalid_read`], as are reads of the write-only RTCICR.
    /// RTCCR reads [`RTCCR_START`]: the emulated RTC is always running, as if
    /// firmware had started it before the guest (the TRM reset value is 0, but
    /// a VM's RTC must hold the time from the start, CONFORMANCE R2/R4).
    ///
    /// Only RTCDR, RTCRIS and RTCMIS read the clock (once each): their
    /// values depend on the time. The other registers answer from state.
    #[inline]
    pub fn read(&mut self, offset: u32) -> u32 {
        // RTCDR (Linux's read_time, hwclock) first and inline: its cost is
        // then the clock read and two comparisons. Only RTCDR, RTCRIS and
        // RTCMIS depend on the time; the other registers answer without a
        // clock read.
        if offset == RTCDR {
            self.observe();
            return self.dr;
        }
        self.read_other(offset)
    }

    #[inline(never)]
    fn read_other(&mut self, offset: u32) -> u32 {
        match offset {
            RTCDR => {
                self.observe();
                self.dr
            }
            RTCMR => self.mr,
            RTCLR => self.lr,
            RTCCR => RTCCR_START,
            RTCIMSC => u32::from(self.imsc),
            RTCRIS => {
                self.observe();
                u32::from(self.ris)
            }
            RTCMIS => {
                self.observe();
                u32::from(self.ris && self.imsc)
            }
            RTCPERIPHID0..=RTCPCELLID3 if offset % 4 == 0 => id_byte(offset),
            _ => {
                self.invalid(offset, None);
                0
            }
        }
    }

    /// A 32-bit register write at `offset`.
    ///
    /// - RTCLR loads the counter: RTCDR reads `value` at once and `value + 1`
    ///   exactly one second later; reported as [`Pl031Events::time_set`].
    /// - RTCCR writes have no effect at all (the RTC is already started; the
    ///   TRM says further writes are ignored until reset), so the time never
    ///   moves when Linux probes (CONFORMANCE R4).
    /// - RTCMR never fires by being written, even if equal to RTCDR (a match
    ///   is the counter stepping onto RTCMR).
    /// - RTCICR bit 0 clears RTCRIS (Linux writes 1). RTCIMSC keeps bit 0.
    /// - Writes to read-only, reserved or misaligned offsets are ignored and
    ///   reported as [`Pl031Events::invalid_write`].
    ///
    /// Only RTCLR reads the clock. The other writes take effect at the time
    /// of the device's last clock reading (the guest's last RTCDR, RTCRIS or
    /// RTCMIS read, RTCLR write, or a host call such as [`Pl031::poll`]): an
    /// RTCMR match is searched from there, so a match between that reading
    /// and the write still fires, at its exact time. Linux reads RTCDR just
    /// before it programs RTCMR, so for it the two times are microseconds
    /// apart; the gain is that its alarm sequence (RTCMR, RTCICR, RTCIMSC)
    /// costs no clock reads.
    #[inline(always)]
    pub fn write(&mut self, offset: u32, value: u32) {
        // The registers Linux writes in its alarm and set-time sequences
        // (RTCMR, RTCIMSC, RTCLR) are tested one by one inline: RTCMR and
        // RTCIMSC need no time (they take effect at the last clock reading,
        // see `last_now`), so each is a compare and a store (plus the line
        // check for RTCIMSC), and RTCLR's fast path is a clock read and a
        // few stores. A call frame around them, or a jump table, would cost
        // more than the work; the rarely written rest goes out of line.
        if offset == RTCMR {
            // The match is derived from RTCMR when needed (match_at), so
            // storing it is the whole write.
            self.mr = value;
        } else if offset == RTCIMSC {
            self.imsc = value & RTC_INT_ALARM != 0;
            self.update_line();
        } else if offset == RTCLR {
            self.write_lr(value);
        } else {
            self.write_other(offset, value);
        }
    }

    /// Every write offset but RTCMR, RTCIMSC and RTCLR, which
    /// [`Self::write`] has handled.
    #[inline(never)]
    fn write_other(&mut self, offset: u32, value: u32) {
        match offset {
            RTCCR => {}
            RTCICR => {
                if value & RTC_INT_ALARM != 0 && self.ris {
                    self.ris = false;
                    self.update_line();
                }
            }
            _ => self.invalid(offset, Some(value)),
        }
    }

    /// RTCLR: the one write that needs the time.
    #[inline]
    fn write_lr(&mut self, value: u32) {
        let now = self.clock.now_ns();
        if now.wrapping_sub(self.last_now) < self.quiet_span {
            // Same second, no match due and the line as published: only the
            // load itself changes anything.
            self.last_now = now;
            self.load(value);
        } else {
            self.write_lr_slow(now, value);
        }
    }

    #[inline(never)]
    fn write_lr_slow(&mut self, now: u64, value: u32) {
        self.advance_to(now);
        self.load(value);
        self.update_line();
    }

    /// Brings the state up to the clock's current time: sets RTCRIS if the
    /// counter reached RTCMR since the last update and publishes the interrupt
    /// level. Call it when the timer programmed from [`Pl031::next_deadline`]
    /// fires; returns the next deadline.
    pub fn poll(&mut self) -> Option<u64> {
        self.advance();
        self.update_line();
        self.next_deadline()
    }

    /// The clock time (nanoseconds, on the device's [`Clock`]) at which
    /// [`Pl031::poll`] must be called for the interrupt to be raised on time,
    /// or `None` if nothing can change the interrupt line before the guest's
    /// next access.
    ///
    /// A deadline exists while the alarm is armed (RTCIMSC = 1, RTCRIS = 0):
    /// it is the exact moment the counter becomes equal to RTCMR. With the
    /// interrupt masked, a match is recorded lazily at the guest's next access
    /// (RTCRIS is only visible through one), so no timer is needed. If the
    /// interrupt sink refused the last level change, the deadline is
    /// [`INTERRUPT_RETRY_NS`] after the failed attempt, so the VMM retries soon
    /// without spinning on a sink that keeps failing. Re-read it after every
    /// guest access or poll: register writes move it.
    pub fn next_deadline(&self) -> Option<u64> {
        let wanted = self.ris && self.imsc;
        if self.irq.level() != wanted {
            return Some(self.last_now.saturating_add(INTERRUPT_RETRY_NS));
        }
        if self.ris || !self.imsc {
            return None;
        }
        Some(self.match_at().unwrap_or(u64::MAX))
    }

    /// How long from now until [`Pl031::next_deadline`] (zero if it is due),
    /// for VMMs whose timers take relative times.
    pub fn time_until_deadline(&self) -> Option<Duration> {
        let deadline = self.next_deadline()?;
        Some(Duration::from_nanos(
            deadline.saturating_sub(self.clock.now_ns()),
        ))
    }

    /// The current counter value (RTCDR), without an access event.
    pub fn counter(&mut self) -> u32 {
        self.advance();
        self.update_line();
        self.dr
    }

    /// Guest time minus clock time in nanoseconds, between -2³¹ s and
    /// +2³¹ s (the counter counts modulo 2³² s, so any offset has many
    /// equivalents; this is the one nearest 0). 0 for a fresh RTC.
    pub fn offset_ns(&self) -> i128 {
        let off = i128::from(self.offset());
        let period = i128::from(PERIOD_NS);
        if off >= period / 2 {
            off - period
        } else {
            off
        }
    }

    /// Sets guest time = clock time + `offset_ns` (taken modulo 2³² s), e.g.
    /// to restore an offset persisted from [`TimeSet::offset_ns`] at the
    /// guest's last boot. Like an RTCLR load, it never fires the alarm; unlike
    /// one, it reports no event and leaves RTCLR alone.
    pub fn set_offset_ns(&mut self, offset_ns: i128) {
        self.advance();
        let reduced = offset_ns.rem_euclid(i128::from(PERIOD_NS));
        // The counter position at clock time 0 is the offset itself.
        self.set_anchor(0, u64::try_from(reduced).unwrap_or(0));
        self.update_line();
    }

    /// The interrupt level last published to the sink.
    pub fn interrupt_level(&self) -> bool {
        self.irq.level()
    }

    /// A system reset of the PL031 (CONFORMANCE R8): RTCMR, RTCLR, RTCIMSC
    /// and RTCRIS return to 0 and the interrupt is lowered. The time is kept,
    /// as a battery-backed RTC keeps it across a reboot.
    pub fn reset(&mut self) {
        self.advance();
        self.mr = 0;
        self.lr = 0;
        self.imsc = false;
        self.ris = false;
        self.update_line();
    }

    /// The events sink.
    pub fn events(&self) -> &E {
        &self.events
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The interrupt sink.
    pub fn interrupt(&self) -> &T {
        self.irq.sink()
    }

    /// Counter position = (clock mod PERIOD + offset) mod PERIOD.
    fn offset(&self) -> u64 {
        let (clock, counter) = self.anchor();
        offset_for(counter, clock)
    }

    /// A (clock, counter position) pair on the counter's line: the step
    /// onto `dr + 1` at `second_end` if that is known, else the stored anchor.
    fn anchor(&self) -> (u64, u64) {
        match self.second_end {
            Some(end) => {
                let next = u64::from(self.dr.wrapping_add(1));
                (end.get(), next * NANOS_PER_SEC)
            }
            None => (self.anchor_clock, self.anchor_counter),
        }
    }

    /// Puts the counter at `counter_ns` (below PERIOD) when the clock reads
    /// `clock_ns`, and locates it at `last_now`.
    fn set_anchor(&mut self, clock_ns: u64, counter_ns: u64) {
        self.anchor_clock = clock_ns;
        self.anchor_counter = counter_ns;
        // The stored anchor is authoritative until locate() derives the rest.
        self.second_end = None;
        self.locate();
    }

    fn counter_ns_at(&self, now: u64) -> u64 {
        // Both terms are below PERIOD_NS, so the sum cannot overflow and is
        // below two periods: one conditional subtraction reduces it.
        let sum = now % PERIOD_NS + self.offset();
        if sum >= PERIOD_NS {
            sum - PERIOD_NS
        } else {
            sum
        }
    }

    /// Brings the model to the clock's current time for a time-dependent
    /// access. Inlined: inside one second and before the alarm (nearly every
    /// RTCDR read) this is the clock read and two comparisons; the rest runs
    /// once a second.
    #[inline]
    fn observe(&mut self) {
        let now = self.clock.now_ns();
        // Wrapping: a clock behind `last_now` gives a difference beyond any
        // span and takes the slow path, which follows it back.
        if now.wrapping_sub(self.last_now) >= self.quiet_span {
            self.observe_change(now);
        }
    }

    /// [`Self::observe`] when the counter stepped, the alarm may have fired
    /// or the clock went back.
    #[inline(never)]
    fn observe_change(&mut self, now: u64) {
        self.advance_to(now);
        self.update_line();
    }

    /// Moves the model to the clock's current time, setting RTCRIS if the
    /// counter stepped onto RTCMR on the way.
    fn advance(&mut self) {
        let now = self.clock.now_ns();
        self.advance_to(now);
    }

    /// [`Self::advance`] to the clock reading `now`.
    fn advance_to(&mut self, now: u64) {
        if now < self.last_now {
            // A clock that went back is followed without searching for
            // matches; the next one is searched from where it landed.
            self.last_now = now;
            self.locate();
            return;
        }
        // The counter stepped onto RTCMR since `last_now` exactly if the
        // clock reached the next match searched from there.
        if !self.ris && self.match_at().is_some_and(|at| now >= at) {
            self.ris = true;
            self.events.alarm_fired();
        }
        self.last_now = now;
        if self.second_end.is_some_and(|end| now >= end.get()) {
            self.locate();
        } else {
            self.set_quiet_span();
        }
    }

    /// Recomputes `dr` and `second_end` from the counter at `last_now` (the
    /// one division of the model, once per second at most on the read path).
    fn locate(&mut self) {
        let counter = self.counter_ns_at(self.last_now);
        // Kept valid here so that it still locates the counter if
        // `second_end` turns out to be beyond u64 nanoseconds.
        self.anchor_clock = self.last_now;
        self.anchor_counter = counter;
        self.dr = u32::try_from(counter / NANOS_PER_SEC).unwrap_or(u32::MAX);
        // phase < 1 s, so the subtraction cannot underflow, and the step is
        // at least 1 ns after last_now, so never at 0.
        self.second_end = self
            .last_now
            .checked_add(NANOS_PER_SEC - counter % NANOS_PER_SEC)
            .and_then(NonZeroU64::new);
        self.set_quiet_span();
    }

    /// When the counter next steps onto RTCMR after `last_now` (`None`:
    /// beyond `u64` nanoseconds): it steps onto `dr + 1` at `second_end` and
    /// onto RTCMR whole seconds later. Derived on demand rather than stored,
    /// so that an RTCMR write is a plain store; it only matters while RTCRIS
    /// is 0.
    fn match_at(&self) -> Option<u64> {
        // seconds_until is 1..=2^32, so the product fits a u64.
        let after_step = (seconds_until(self.dr, self.mr) - 1) * NANOS_PER_SEC;
        self.second_end
            .and_then(|end| end.get().checked_add(after_step))
    }

    /// Every caller publishes the line afterwards, which zeroes the span
    /// again if the sink refuses.
    fn set_quiet_span(&mut self) {
        // After last_now by construction; saturating for safety only.
        self.quiet_span = self
            .second_end
            .map_or(u64::MAX, NonZeroU64::get)
            .saturating_sub(self.last_now);
    }

    /// Loads the counter with `value` at `last_now`. Never fires the alarm
    /// and leaves RTCRIS alone, so the line needs no update.
    #[inline]
    fn load(&mut self, value: u32) {
        let now = self.last_now;
        self.dr = value;
        self.lr = value;
        // The counter now sits exactly at the start of second `value`: no
        // phase, so it steps one second from now (what locate() would
        // compute, without the division). That step locates the counter,
        // so the anchor is not stored (see `anchor`): five plain stores.
        match now.checked_add(NANOS_PER_SEC).and_then(NonZeroU64::new) {
            Some(end) => {
                self.second_end = Some(end);
                self.quiet_span = NANOS_PER_SEC;
            }
            None => self.load_at_end_of_time(value),
        }
        self.events.time_set(TimeSet {
            value,
            clock_ns: now,
        });
    }

    /// [`Self::load`] within the last second of the `u64` clock: the step
    /// is beyond it, so the anchor locates the counter.
    #[cold]
    fn load_at_end_of_time(&mut self, value: u32) {
        // value * 10^9 < 2^32 s: already a counter position.
        self.set_anchor(self.last_now, u64::from(value) * NANOS_PER_SEC);
    }

    /// Publishes the interrupt level if it differs from the published one.
    /// Inlined: on nearly every access the level is unchanged, and this
    /// check is all that runs.
    #[inline]
    fn update_line(&mut self) {
        let level = self.ris && self.imsc;
        if level != self.irq.level() {
            self.publish_line(level);
        }
    }

    #[cold]
    fn publish_line(&mut self, level: bool) {
        if let Err(e) = self.irq.set_level(level) {
            // Retried by the next time-dependent access (see set_quiet_span).
            self.quiet_span = 0;
            self.irq_failures = self.irq_failures.saturating_add(1);
            self.events.interrupt_error();
            if self.irq_failures.is_power_of_two() {
                log::warn!(
                    "pl031: interrupt sink refused level {level} ({} failures): {e:?}",
                    self.irq_failures
                );
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn invalid(&mut self, offset: u32, write: Option<u32>) {
        self.invalid_accesses = self.invalid_accesses.saturating_add(1);
        match write {
            Some(value) => self.events.invalid_write(offset, value),
            None => self.events.invalid_read(offset),
        }
        if self.invalid_accesses.is_power_of_two() {
            log::debug!(
                "pl031: ignored {} at offset {offset:#x} ({} invalid accesses)",
                if write.is_some() { "write" } else { "read" },
                self.invalid_accesses
            );
        }
    }
}

/// The offset that puts the counter at `counter_ns` when the clock reads `at`.
#[inline]
fn offset_for(counter_ns: u64, at: u64) -> u64 {
    // (counter - at) mod PERIOD with both reduced first: one conditional
    // addition instead of a third reduction.
    let counter = counter_ns % PERIOD_NS;
    let at = at % PERIOD_NS;
    if counter >= at {
        counter - at
    } else {
        counter + PERIOD_NS - at
    }
}

/// How many increments take the counter from `dr` to `mr`: 1..=2³². Equal
/// values mean a full turn, because a match is the counter *stepping onto* MR.
fn seconds_until(dr: u32, mr: u32) -> u64 {
    match mr.wrapping_sub(dr) {
        0 => 1 << 32,
        d => u64::from(d),
    }
}

/// An ID register (offset 0xFE0–0xFFC, 4-aligned); reserved offsets in that
/// range do not exist, so any other offset reads 0.
fn id_byte(offset: u32) -> u32 {
    let (table, base) = if offset >= RTCPCELLID0 {
        (&PCELL_ID, RTCPCELLID0)
    } else {
        (&PERIPH_ID, RTCPERIPHID0)
    };
    let index = usize::try_from((offset - base) / 4).unwrap_or(usize::MAX);
    table.get(index).copied().map_or(0, u32::from)
}

impl<T: Trigger, C: Clock, E: Pl031Events> WordRegisters for Pl031<T, C, E> {
    const WINDOW_SIZE: u32 = WINDOW_SIZE;

    #[inline]
    fn read_word(&mut self, offset: u32) -> u32 {
        self.read(offset)
    }

    // Always: `Pl031::write` is a few compares before its out-of-line
    // remainder, cheaper than the call frame around it.
    #[inline(always)]
    fn write_word(&mut self, offset: u32, value: u32) {
        self.write(offset, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_seconds_until_equal_is_a_full_turn() {
        assert_eq!(seconds_until(5, 5), 1 << 32);
        assert_eq!(seconds_until(5, 6), 1);
        assert_eq!(seconds_until(u32::MAX, 0), 1);
        assert_eq!(seconds_until(6, 5), (1 << 32) - 1);
    }

    #[test]
    fn test_offset_for_places_counter_exactly() {
        let at = 123_456_789_012_345_678;
        let off = offset_for(42 * NANOS_PER_SEC, at);
        assert_eq!((at % PERIOD_NS + off) % PERIOD_NS, 42 * NANOS_PER_SEC);
    }

    #[test]
    fn test_offset_for_counter_ahead_of_clock_is_their_difference() {
        let at = 5 * NANOS_PER_SEC + 1;
        let off = offset_for(42 * NANOS_PER_SEC, at);
        assert_eq!(off, 37 * NANOS_PER_SEC - 1);
        // A clock a whole number of turns later needs the same offset.
        assert_eq!(offset_for(42 * NANOS_PER_SEC, at + 3 * PERIOD_NS), off);
    }

    use crate::ManualClock;
    use superio_core::test_utils::RecordingIrq;

    const S: u64 = NANOS_PER_SEC;

    #[test]
    fn test_match_time_unchanged_by_accesses_before_it() {
        let clock = ManualClock::new(1_000 * S + S / 4);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        rtc.write(RTCIMSC, 1);
        rtc.write(RTCMR, 1_003);
        assert_eq!(rtc.next_deadline(), Some(1_003 * S));
        clock.set_ns(1_001 * S + S / 2);
        assert_eq!(rtc.read(RTCDR), 1_001);
        assert_eq!(rtc.next_deadline(), Some(1_003 * S));
        clock.set_ns(1_003 * S - 1);
        assert_eq!(rtc.read(RTCRIS), 0);
        assert_eq!(rtc.next_deadline(), Some(1_003 * S));
        clock.set_ns(1_003 * S);
        assert_eq!(rtc.read(RTCRIS), 1);
    }

    #[test]
    fn test_clock_going_back_searches_the_match_from_the_new_time() {
        // Counter = clock mod 2^32 s: at 2^32 s + 10 s it reads 10, and the
        // next step onto 5 is almost a full turn away.
        let clock = ManualClock::new(((1 << 32) + 10) * S);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        rtc.write(RTCIMSC, 1);
        rtc.write(RTCMR, 5);
        assert_eq!(rtc.next_deadline(), Some(((1 << 33) + 5) * S));
        clock.set_ns(3 * S);
        assert_eq!(rtc.read(RTCDR), 3);
        assert_eq!(rtc.next_deadline(), Some(5 * S));
        clock.set_ns(5 * S);
        assert_eq!(rtc.read(RTCRIS), 1);
    }

    #[test]
    fn test_match_beyond_u64_nanoseconds_never_fires() {
        // Counter 0 at the clock's last representable second: stepping onto
        // RTCMR = 0 takes a full turn, past u64::MAX ns.
        let last = u64::MAX - u64::MAX % PERIOD_NS;
        let clock = ManualClock::new(last);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        rtc.write(RTCIMSC, 1);
        assert_eq!(rtc.next_deadline(), Some(u64::MAX));
        clock.set_ns(u64::MAX);
        assert_eq!(rtc.read(RTCRIS), 0);
    }

    #[test]
    fn test_dr_changes_exactly_at_each_second_boundary() {
        let clock = ManualClock::new(500 * S + S / 2);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        assert_eq!(rtc.read(RTCDR), 500);
        clock.set_ns(501 * S - 1);
        assert_eq!(rtc.read(RTCDR), 500);
        clock.set_ns(501 * S);
        assert_eq!(rtc.read(RTCDR), 501);
        clock.set_ns(503 * S + 7);
        assert_eq!(rtc.read(RTCDR), 503);
    }

    #[test]
    fn test_dr_follows_a_clock_going_back_within_and_before_the_second() {
        let clock = ManualClock::new(500 * S + S / 2);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        assert_eq!(rtc.read(RTCDR), 500);
        clock.set_ns(500 * S);
        assert_eq!(rtc.read(RTCDR), 500);
        clock.set_ns(500 * S - 1);
        assert_eq!(rtc.read(RTCDR), 499);
        clock.set_ns(3 * S);
        assert_eq!(rtc.read(RTCDR), 3);
    }

    #[test]
    fn test_dr_reads_new_time_at_once_after_load_and_offset_change() {
        let clock = ManualClock::new(500 * S + S / 2);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        assert_eq!(rtc.read(RTCDR), 500);
        rtc.write(RTCLR, 77);
        assert_eq!(rtc.read(RTCDR), 77);
        clock.set_ns(501 * S + S / 2 - 1);
        assert_eq!(rtc.read(RTCDR), 77);
        clock.set_ns(501 * S + S / 2);
        assert_eq!(rtc.read(RTCDR), 78);
        rtc.set_offset_ns(-i128::from(100 * S));
        assert_eq!(rtc.read(RTCDR), 401);
    }

    #[test]
    fn test_dr_near_clock_zero_reads_counter() {
        // Counter 2.5 s at clock 0: its second began before the clock's zero.
        let clock = ManualClock::new(0);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        rtc.set_offset_ns(i128::from(2 * S + S / 2));
        assert_eq!(rtc.read(RTCDR), 2);
        clock.set_ns(S / 2 - 1);
        assert_eq!(rtc.read(RTCDR), 2);
        clock.set_ns(S / 2);
        assert_eq!(rtc.read(RTCDR), 3);
    }

    #[test]
    fn test_load_is_located_by_its_step_across_clock_going_back() {
        // After a load the anchor is not stored: the step one second later
        // locates the counter, also for a clock that goes back past it.
        let clock = ManualClock::new(500 * S + S / 2);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        assert_eq!(rtc.read(RTCDR), 500);
        rtc.write(RTCLR, 77);
        assert_eq!(rtc.offset_ns(), -i128::from(423 * S + S / 2));
        clock.set_ns(400 * S + S / 2);
        assert_eq!(rtc.read(RTCDR), u32::MAX - 22);
        assert_eq!(rtc.state().counter_ns, PERIOD_NS - 23 * S);
    }

    #[test]
    fn test_load_in_the_last_second_of_the_clock() {
        let clock = ManualClock::new(u64::MAX - S / 2);
        let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
        rtc.write(RTCLR, 9);
        assert_eq!(rtc.read(RTCDR), 9);
        clock.set_ns(u64::MAX);
        assert_eq!(rtc.read(RTCDR), 9);
        assert_eq!(rtc.state().counter_ns, 9 * S + S / 2);
        // Back from the end of time, the stored anchor still locates it.
        clock.set_ns(u64::MAX - S);
        assert_eq!(rtc.read(RTCDR), 8);
    }

    #[test]
    fn test_id_byte_outside_tables_reads_zero() {
        assert_eq!(id_byte(0xFE0), 0x31);
        assert_eq!(id_byte(0xFFC), 0xB1);
        assert_eq!(id_byte(0x1000), 0);
    }
}
