//! PL031 interpreter: guest MMIO accesses through `Mmio32`, clock jumps in
//! both directions, polls, resets, offset changes, refused interrupt-sink
//! calls and snapshot + restore with both policies.
//!
//! Invariants checked after every step:
//! - the published interrupt level equals RTCRIS & RTCIMSC (unless the sink
//!   refused a call during the step: then it is retried later);
//! - the sink never sees a redundant raise or lower;
//! - the counter equals an independent model (clock + offset, with RTCLR
//!   loads, offset changes and restores applied to the model);
//! - RTCRIS is set by a forward clock jump exactly when the counter steps
//!   onto RTCMR during it (model computed here), and never by a backward one;
//! - `next_deadline` is exact: polling 1 ns before it does not fire, at it
//!   does;
//! - a saved state survives JSON, is accepted by `from_state`, and the
//!   restored device saves the same state again.

use std::sync::Arc;

use superio_core::test_utils::RecordingIrq;
use superio_core::{BusDevice, Mmio32};
use superio_pl031::{
    ManualClock, Pl031, Pl031Counters, Pl031State, RestorePolicy, NANOS_PER_SEC, RTCDR, RTCICR,
    RTCIMSC, RTCLR, RTCMR, WINDOW_SIZE,
};

use crate::Cursor;

type Dev = Pl031<RecordingIrq, ManualClock, Arc<Pl031Counters>>;

const PERIOD_NS: u128 = (1u128 << 32) * NANOS_PER_SEC as u128;

/// The offsets a guest can name: the eight registers and the ID block.
const OFFSETS: [u32; 16] = [
    0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0xFE0, 0xFE4, 0xFE8, 0xFEC, 0xFF0, 0xFF4,
    0xFF8, 0xFFC,
];

struct Harness {
    bus: Mmio32<Dev>,
    irq: RecordingIrq,
    clock: ManualClock,
    events: Arc<Pl031Counters>,
    /// The model: counter position = (clock + offset) mod 2³² s.
    model_offset: u128,
    /// The sink refused a level change and no update has retried it yet.
    retry_pending: bool,
}

impl Harness {
    fn new(dev: Dev, irq: RecordingIrq, clock: ManualClock, events: Arc<Pl031Counters>) -> Self {
        let mut h = Self {
            bus: Mmio32::new(dev),
            irq,
            clock,
            events,
            model_offset: 0,
            retry_pending: false,
        };
        let s = h.dev().state();
        h.sync_model(&s);
        h
    }

    fn dev(&mut self) -> &mut Dev {
        self.bus.inner_mut()
    }

    /// Points the model at the counter position saved in `s`.
    fn sync_model(&mut self, s: &Pl031State) {
        let now = u128::from(s.clock_ns) % PERIOD_NS;
        self.model_offset = (u128::from(s.counter_ns) + PERIOD_NS - now) % PERIOD_NS;
    }

    fn model_counter_ns(&self) -> u128 {
        (u128::from(self.clock.now_ns_value()) % PERIOD_NS + self.model_offset) % PERIOD_NS
    }

    fn step(&mut self, c: &mut Cursor<'_>) {
        let errors_before = self.events.interrupt_errors();
        match c.u8() % 12 {
            0 | 1 => self.guest_write(c),
            2 | 3 => self.guest_read(c),
            4 => {
                let by = scaled(c);
                self.jump(Jump::Forward(by));
            }
            5 => {
                let by = scaled(c);
                self.jump(Jump::Back(by));
            }
            6 => {
                let to = c.u64();
                self.jump(Jump::To(to));
            }
            7 => {
                let dev = self.dev();
                let deadline = dev.poll();
                assert_eq!(deadline, dev.next_deadline());
            }
            8 => self.check_deadline(),
            9 => {
                let (mr, lr) = {
                    self.dev().reset();
                    let s = self.dev().state();
                    (s.mr, s.lr)
                };
                assert_eq!((mr, lr), (0, 0), "reset clears RTCMR and RTCLR");
            }
            10 => {
                let offset = i128::from(c.u64() as i64) * i128::from(c.u8());
                self.dev().set_offset_ns(offset);
                // Guest time = clock time + offset, modulo 2³² s.
                self.model_offset = offset.rem_euclid(PERIOD_NS as i128) as u128;
            }
            _ => match c.u8() % 3 {
                0 => self.irq.fail_next(u32::from(c.u8() % 4)),
                _ => self.snapshot_restore(c.u8()),
            },
        }
        self.check(errors_before);
    }

    fn guest_write(&mut self, c: &mut Cursor<'_>) {
        let (offset, len) = decode(c);
        let value = match c.u8() % 4 {
            // Keep RTCMR near the counter so alarms actually fire.
            0 => self.dev().counter().wrapping_add(u32::from(c.u8() % 8)),
            1 => u32::from(c.u8() & 3),
            _ => c.u32(),
        };
        let before = self.dev().state();
        let mut wide = [0u8; 8];
        wide[..4].copy_from_slice(&value.to_le_bytes());
        self.bus.write(offset, &wide[..len]);
        let after = self.dev().state();
        let accepted = len == 4 && offset % 4 == 0 && offset < u64::from(WINDOW_SIZE);
        if !accepted {
            assert_eq!(
                before, after,
                "a refused write at {offset:#x}/{len} changed the state"
            );
            return;
        }
        match offset as u32 {
            RTCLR => {
                assert_eq!(after.lr, value);
                assert_eq!(after.dr(), value, "RTCDR reads the loaded value at once");
                self.sync_model(&after);
            }
            RTCMR => assert_eq!(after.mr, value),
            RTCIMSC => assert_eq!(after.imsc, value & 1),
            RTCICR if value & 1 != 0 => assert_eq!(after.ris, 0, "RTCICR bit 0 clears RTCRIS"),
            _ => {}
        }
    }

    fn guest_read(&mut self, c: &mut Cursor<'_>) {
        let (offset, len) = decode(c);
        let mut data = [0xA5u8; 8];
        self.bus.read(offset, &mut data[..len]);
        let accepted = len == 4 && offset % 4 == 0 && offset < u64::from(WINDOW_SIZE);
        if !accepted {
            assert!(
                data[..len].iter().all(|&b| b == 0),
                "refused read returned {data:?}"
            );
            return;
        }
        let value = u32::from_le_bytes(data[..4].try_into().unwrap());
        if offset as u32 == RTCDR {
            let model = (self.model_counter_ns() / u128::from(NANOS_PER_SEC)) as u32;
            assert_eq!(value, model, "RTCDR differs from the model");
        }
    }

    fn jump(&mut self, jump: Jump) {
        let before = self.dev().state();
        let from = self.clock.now_ns_value();
        let to = match jump {
            Jump::Forward(by) => from.saturating_add(by),
            Jump::Back(by) => from.saturating_sub(by),
            Jump::To(to) => to,
        };
        self.clock.set_ns(to);
        let _ = self.dev().poll();
        let after = self.dev().state();
        if before.ris == 1 {
            assert_eq!(after.ris, 1, "RTCRIS stays set until cleared");
            return;
        }
        let expected = if to > before.clock_ns {
            let start = u128::from(before.counter_ns);
            let end = start + u128::from(to - before.clock_ns);
            let s0 = start / u128::from(NANOS_PER_SEC);
            let s1 = end / u128::from(NANOS_PER_SEC);
            // The first second after s0 whose value mod 2³² is RTCMR.
            let dist = (u128::from(before.mr) + (1 << 32) - s0 % (1 << 32)) % (1 << 32);
            let first = s0 + if dist == 0 { 1 << 32 } else { dist };
            first <= s1
        } else {
            false
        };
        assert_eq!(
            after.ris == 1,
            expected,
            "match model: {before:?} jumped to {to} gave {after:?}"
        );
    }

    /// Sets the clock 1 ns before the deadline (no match yet) and then to the
    /// deadline (the match has happened).
    fn check_deadline(&mut self) {
        let s = self.dev().state();
        if self.dev().interrupt_level() != (s.ris == 1 && s.imsc == 1) {
            // A refused sink call: the deadline is its retry, not an alarm.
            return;
        }
        let Some(deadline) = self.dev().next_deadline() else {
            assert!(
                s.ris == 1 || s.imsc == 0,
                "an armed alarm without a deadline: {s:?}"
            );
            return;
        };
        assert!(
            s.ris == 0 && s.imsc == 1,
            "a deadline without an armed alarm: {s:?}"
        );
        if deadline == u64::MAX {
            // Saturated: the match is beyond the clock's range.
            return;
        }
        assert!(
            deadline > s.clock_ns,
            "a deadline in the past: {deadline} for {s:?}"
        );
        self.clock.set_ns(deadline - 1);
        let _ = self.dev().poll();
        assert_eq!(
            self.dev().state().ris,
            0,
            "fired before its deadline {deadline}"
        );
        self.clock.set_ns(deadline);
        let _ = self.dev().poll();
        assert_eq!(
            self.dev().state().ris,
            1,
            "did not fire at its deadline {deadline}"
        );
    }

    fn snapshot_restore(&mut self, how: u8) {
        let saved = self.dev().state();
        let json = serde_json::to_vec(&saved).unwrap();
        let back: Pl031State = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, saved, "JSON round trip");
        let policy = if how & 1 == 0 {
            RestorePolicy::Resume
        } else {
            RestorePolicy::FollowClock
        };
        let irq = RecordingIrq::new();
        let dev = Pl031::from_state(
            &back,
            policy,
            irq.clone(),
            self.clock.clone(),
            self.events.clone(),
        )
        .unwrap_or_else(|e| panic!("own state refused: {e}: {saved:?}"));
        self.bus = Mmio32::new(dev);
        self.irq = irq;
        self.retry_pending = false;
        let again = self.dev().state();
        assert_eq!(
            again, saved,
            "restore at the same clock time must save the same state"
        );
    }

    fn check(&mut self, errors_before: u64) {
        assert_eq!(self.irq.redundant(), 0, "redundant interrupt sink call");
        if self.events.interrupt_errors() != errors_before {
            // The sink refused a change during this step; the device keeps the
            // old published level and retries on its next update.
            self.retry_pending = true;
            return;
        }
        if self.retry_pending {
            let errors = self.events.interrupt_errors();
            let _ = self.dev().state(); // an update: the retry
            if self.events.interrupt_errors() != errors {
                return;
            }
            self.retry_pending = false;
        }
        let level = self.dev().interrupt_level();
        assert_eq!(
            level,
            self.irq.level(),
            "published level differs from the sink"
        );
        let s = self.dev().state();
        assert_eq!(
            level,
            s.ris == 1 && s.imsc == 1,
            "level != RTCRIS & RTCIMSC: {s:?}"
        );
        assert_eq!(
            u128::from(s.counter_ns),
            self.model_counter_ns(),
            "counter differs from the model"
        );
    }
}

enum Jump {
    Forward(u64),
    Back(u64),
    To(u64),
}

/// A clock step at a scale picked by the input: nanoseconds to centuries.
fn scaled(c: &mut Cursor<'_>) -> u64 {
    let scale = c.u8();
    let n = u64::from(c.u16());
    match scale % 6 {
        0 => n,
        1 => n * 1_000_000,
        2 => n * NANOS_PER_SEC / 16,
        3 => n * NANOS_PER_SEC,
        4 => n << 32 << 20,
        _ => c.u64(),
    }
}

fn decode(c: &mut Cursor<'_>) -> (u64, usize) {
    let b = c.u8();
    if b & 0xC0 != 0xC0 {
        return (u64::from(OFFSETS[usize::from(b & 0xF)]), 4);
    }
    crate::decode_access(c, 0x400, 2, 4)
}

/// Runs the interpreter on `data`.
pub fn run_ops(data: &[u8]) {
    let mut c = Cursor::new(data);
    let start = match c.u8() % 4 {
        0 => 0,
        1 => 1_700_000_000 * NANOS_PER_SEC,
        2 => u64::MAX - u64::from(c.u32()),
        _ => c.u64(),
    };
    let clock = ManualClock::new(start);
    let irq = RecordingIrq::new();
    let events = Arc::new(Pl031Counters::default());
    let dev = Pl031::with_events(irq.clone(), clock.clone(), events.clone());
    drive(Harness::new(dev, irq, clock, events), &mut c);
}

fn drive(mut h: Harness, c: &mut Cursor<'_>) {
    crate::run_steps(c, 4096, |c| h.step(c));
}

/// Feeds `data` to the state deserializer and `from_state`, then drives an
/// accepted device with the rest of the input.
pub fn run_state(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mode = c.u8();
    let state = if mode & 1 == 0 {
        // JSON text up to the first NUL, the rest drives the device.
        let rest = c.rest();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        c = Cursor::new(&rest[end.saturating_add(1).min(rest.len())..]);
        match serde_json::from_slice::<Pl031State>(&rest[..end]) {
            Ok(s) => s,
            Err(_) => return,
        }
    } else {
        Pl031State {
            version: u32::from(c.u8() % 3),
            counter_ns: c.u64(),
            clock_ns: c.u64(),
            mr: c.u32(),
            lr: c.u32(),
            imsc: u32::from(c.u8() % 3),
            ris: u32::from(c.u8() % 3),
        }
    };
    let clock = ManualClock::new(c.u64());
    let irq = RecordingIrq::new();
    let events = Arc::new(Pl031Counters::default());
    let policy = if mode & 2 == 0 {
        RestorePolicy::Resume
    } else {
        RestorePolicy::FollowClock
    };
    let valid = state.version == Pl031State::VERSION
        && u128::from(state.counter_ns) < PERIOD_NS
        && state.imsc <= 1
        && state.ris <= 1;
    match Pl031::from_state(&state, policy, irq.clone(), clock.clone(), events.clone()) {
        Ok(dev) => {
            assert!(valid, "accepted an invalid state {state:?}");
            let mut h = Harness::new(dev, irq, clock, events);
            let s = h.dev().state();
            assert_eq!((s.mr, s.lr), (state.mr, state.lr));
            if policy == RestorePolicy::Resume {
                assert_eq!(s.counter_ns, state.counter_ns, "Resume keeps the counter");
            }
            h.check(h.events.interrupt_errors());
            drive(h, &mut c);
        }
        Err(e) => {
            assert!(!valid, "refused a valid state {state:?}: {e}");
            assert!(!e.to_string().is_empty());
        }
    }
}

trait NowValue {
    fn now_ns_value(&self) -> u64;
}

impl NowValue for ManualClock {
    fn now_ns_value(&self) -> u64 {
        superio_pl031::Clock::now_ns(self)
    }
}
