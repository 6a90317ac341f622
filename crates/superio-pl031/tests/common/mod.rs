//! A test rig: an RTC on a manual clock, a recording interrupt sink and
//! counters, reached through the same `Mmio32` adapter a VMM uses. Offsets and
//! expected values in the tests are written from the TRM (DDI 0224C, Table
//! 3.1), not imported from the crate, so the tests check the crate against the
//! datasheet rather than against itself.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use superio_core::test_utils::RecordingIrq;
use superio_core::{BusDevice, Mmio32};
use superio_pl031::{ManualClock, Pl031, Pl031Counters};

// TRM DDI 0224C, Table 3.1.
pub(crate) const DR: u64 = 0x000;
pub(crate) const MR: u64 = 0x004;
pub(crate) const LR: u64 = 0x008;
pub(crate) const CR: u64 = 0x00C;
pub(crate) const IMSC: u64 = 0x010;
pub(crate) const RIS: u64 = 0x014;
pub(crate) const MIS: u64 = 0x018;
pub(crate) const ICR: u64 = 0x01C;

pub(crate) const NS: u64 = 1_000_000_000;
/// 2023-11-14T22:13:20Z.
pub(crate) const T0: u64 = 1_700_000_000;

pub(crate) type Dev = Pl031<RecordingIrq, ManualClock, Arc<Pl031Counters>>;

pub(crate) struct Rig {
    pub(crate) clock: ManualClock,
    pub(crate) irq: RecordingIrq,
    pub(crate) counters: Arc<Pl031Counters>,
    pub(crate) bus: Mmio32<Dev>,
}

impl Rig {
    /// An RTC whose clock reads `ns` nanoseconds since the epoch.
    pub(crate) fn at_ns(ns: u64) -> Self {
        let clock = ManualClock::new(ns);
        let irq = RecordingIrq::new();
        let counters = Arc::new(Pl031Counters::default());
        let dev = Pl031::with_events(irq.clone(), clock.clone(), Arc::clone(&counters));
        Self {
            clock,
            irq,
            counters,
            bus: Mmio32::new(dev),
        }
    }

    pub(crate) fn at_secs(secs: u64) -> Self {
        Self::at_ns(secs * NS)
    }

    /// A guest `readl`.
    pub(crate) fn rd(&mut self, offset: u64) -> u32 {
        let mut data = [0xAAu8; 4];
        self.bus.read(offset, &mut data);
        u32::from_le_bytes(data)
    }

    /// A guest `writel`.
    pub(crate) fn wr(&mut self, offset: u64, value: u32) {
        self.bus.write(offset, &value.to_le_bytes());
    }

    pub(crate) fn dev(&mut self) -> &mut Dev {
        self.bus.inner_mut()
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub(crate) fn advance_ns(&self, ns: u64) {
        self.clock.advance_ns(ns);
    }

    /// What a VMM timer loop does while the guest is idle: sleep until the
    /// device's deadline (if it is not after `limit_ns`), then poll.
    /// Returns the clock time of each poll.
    pub(crate) fn run_timers_until(&mut self, limit_ns: u64) -> Vec<u64> {
        let mut polls = Vec::new();
        while let Some(deadline) = self.dev().next_deadline() {
            if deadline > limit_ns || polls.len() > 16 {
                break;
            }
            self.clock.set_ns(deadline.max(self.clock_ns()));
            polls.push(self.clock_ns());
            self.dev().poll();
        }
        if self.clock_ns() < limit_ns {
            self.clock.set_ns(limit_ns);
        }
        polls
    }

    pub(crate) fn clock_ns(&self) -> u64 {
        use superio_pl031::Clock;
        self.clock.now_ns()
    }
}
