//! PL031 register cost, side by side with vm-superio 0.8.2's `Rtc` in the
//! same process.
//!
//! Register offsets go through `black_box` on both systems: a VMM's bus
//! hands the device a runtime offset, so neither device may be
//! specialised for a constant register by the optimiser.
//!
//! `cargo bench -p superio-pl031` (criterion), or `scripts/bench` for every
//! device with repeated runs, instruction counts and a table.
//!
//! Each case is a fixed batch of guest accesses made the way a VMM makes
//! them on an MMIO exit; criterion reports the batch, `scripts/bench`
//! divides by the batch's units. With `SUPERIO_BENCH_COUNT=<group>|<system>`
//! and `SUPERIO_BENCH_ITERS=<n>` the binary runs that one case `n` times
//! without criterion and prints its counters as JSON, so that valgrind or
//! strace can count instructions and syscalls per batch independently of
//! the machine's load. `SUPERIO_BENCH_COUNT=list` lists the cases.

use std::hint::black_box;
use superio_bench_support::{irq_counters, no_counters, run_main, Case, CountingEventFd};

use superio_core::{BusDevice, Mmio32};
use superio_pl031::{ManualClock, Pl031, RTCDR, RTCIMSC, RTCLR, RTCMR};

/// Accesses per batch for the single-register cases.
const BATCH: u64 = 64;

// ---------------------------------------------------------------------------
// PL031 cases.
// ---------------------------------------------------------------------------

/// Linux's `pl031_read_time`: one RTCDR read, through the MMIO exit's byte
/// slice. Ours reads the host's `CLOCK_REALTIME` (`RealtimeClock`, the
/// default) like vm-superio's `SystemTime::now()`.
fn dr_read(cases: &mut Vec<Case>) {
    let irq = CountingEventFd::new();
    let (r, l) = irq.counters();
    let mut rtc = Mmio32::new(Pl031::new(irq));
    cases.push(Case {
        group: "pl031/dr_read",
        system: "superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH {
                let mut data = [0u8; 4];
                rtc.read(black_box(u64::from(RTCDR)), &mut data);
                black_box(data);
            }
        }),
        counters: irq_counters(r, l),
    });
    let mut rtc = vm_superio::Rtc::new();
    cases.push(Case {
        group: "pl031/dr_read",
        system: "vm-superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH {
                let mut data = [0u8; 4];
                rtc.read(black_box(RTCDR as u16), &mut data);
                black_box(data);
            }
        }),
        counters: no_counters(),
    });
}

/// The device alone: RTCDR with an injected clock that does not move, so no
/// clock read is in the figure. vm-superio cannot be given a clock.
fn dr_read_manual_clock(cases: &mut Vec<Case>) {
    let irq = CountingEventFd::new();
    let (r, l) = irq.counters();
    let mut rtc = Mmio32::new(Pl031::with_clock(
        irq,
        ManualClock::from_secs(1_700_000_000),
    ));
    cases.push(Case {
        group: "pl031/dr_read_manual_clock",
        system: "superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH {
                let mut data = [0u8; 4];
                rtc.read(black_box(u64::from(RTCDR)), &mut data);
                black_box(data);
            }
        }),
        counters: irq_counters(r, l),
    });
}

/// Linux's `pl031_set_time` (RTCLR write) followed by the read-back a
/// `hwclock --systohc` makes: both devices re-derive their offset from the
/// host clock on the write.
fn set_time(cases: &mut Vec<Case>) {
    let lr = 1_700_000_000u32.to_le_bytes();
    let irq = CountingEventFd::new();
    let (r, l) = irq.counters();
    let mut rtc = Mmio32::new(Pl031::new(irq));
    cases.push(Case {
        group: "pl031/set_time",
        system: "superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH / 2 {
                rtc.write(black_box(u64::from(RTCLR)), &black_box(lr));
                let mut data = [0u8; 4];
                rtc.read(black_box(u64::from(RTCDR)), &mut data);
                black_box(data);
            }
        }),
        counters: irq_counters(r, l),
    });
    let mut rtc = vm_superio::Rtc::new();
    cases.push(Case {
        group: "pl031/set_time",
        system: "vm-superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH / 2 {
                rtc.write(black_box(RTCLR as u16), &black_box(lr));
                let mut data = [0u8; 4];
                rtc.read(black_box(RTCDR as u16), &mut data);
                black_box(data);
            }
        }),
        counters: no_counters(),
    });
}

/// Linux's `pl031_set_alarm` register traffic: RTCDR read, RTCMR write,
/// RTCIMSC write (enable). vm-superio stores RTCMR but never fires it; ours
/// arms the alarm, deriving the match from the counter position it already
/// has, without a clock read on either write. The written values are hidden
/// from the optimiser with `black_box`, their length (4) is not, as in
/// the RTCDR reads.
fn set_alarm(cases: &mut Vec<Case>) {
    let one = 1u32.to_le_bytes();
    let irq = CountingEventFd::new();
    let (r, l) = irq.counters();
    let mut rtc = Mmio32::new(Pl031::new(irq));
    cases.push(Case {
        group: "pl031/set_alarm",
        system: "superio",
        units: 63,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..21 {
                let mut now = [0u8; 4];
                rtc.read(black_box(u64::from(RTCDR)), &mut now);
                let mr = u32::from_le_bytes(now).wrapping_add(3600).to_le_bytes();
                rtc.write(black_box(u64::from(RTCMR)), &mr);
                rtc.write(black_box(u64::from(RTCIMSC)), &black_box(one));
            }
        }),
        counters: irq_counters(r, l),
    });
    let mut rtc = vm_superio::Rtc::new();
    cases.push(Case {
        group: "pl031/set_alarm",
        system: "vm-superio",
        units: 63,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..21 {
                let mut now = [0u8; 4];
                rtc.read(black_box(RTCDR as u16), &mut now);
                let mr = u32::from_le_bytes(now).wrapping_add(3600).to_le_bytes();
                rtc.write(black_box(RTCMR as u16), &mr);
                rtc.write(black_box(RTCIMSC as u16), &black_box(one));
            }
        }),
        counters: no_counters(),
    });
}

fn main() {
    let mut cases = Vec::new();
    dr_read(&mut cases);
    dr_read_manual_clock(&mut cases);
    set_time(&mut cases);
    set_alarm(&mut cases);
    run_main(cases);
}
