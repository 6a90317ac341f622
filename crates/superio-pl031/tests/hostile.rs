//! Hostile guests (issue 9): loops a malicious or broken kernel can run
//! against the PL031. Whatever the guest does, the device must stay the same
//! size, call its interrupt sink at most once per level change (never twice
//! for the same level) and keep the counter exact.

mod common;

use std::time::Duration;

use common::*;
use superio_core::test_utils::log_count;
use superio_core::BusDevice;

/// RTCIMSC / RTCICR bit 0 (TRM Table 3.1).
const INT: u32 = 1;

#[test]
fn test_hostile_mr_lr_churn_with_jumps_fires_only_on_real_matches() {
    // The guest loads RTCLR = v and RTCMR = v + 2 over and over while the
    // host clock jumps 1 s forward, then 3 s back: the counter never steps
    // onto RTCMR (v → v+1, then back), so no alarm may fire.
    let mut rig = Rig::at_secs(T0);
    rig.wr(IMSC, INT);
    for i in 0..50_000u32 {
        let v = i.wrapping_mul(2_654_435_761);
        rig.wr(LR, v);
        rig.wr(MR, v.wrapping_add(2));
        rig.advance(Duration::from_secs(1));
        rig.dev().poll();
        rig.clock.rewind_ns(3 * NS);
        rig.dev().poll();
    }
    assert_eq!(rig.rd(RIS), 0);
    assert_eq!(rig.irq.raises(), 0);
    assert_eq!(rig.counters.alarms_fired(), 0);
}

#[test]
fn test_hostile_mr_lr_churn_with_forward_jumps_fires_once_per_match() {
    // Each round: load RTCLR = v, set RTCMR = v + 1, jump 1 s: exactly one
    // match per round. The guest clears with RTCICR each time: one raise and
    // one lower per round, never a redundant call.
    let mut rig = Rig::at_secs(T0);
    rig.wr(IMSC, INT);
    let rounds = 20_000u64;
    for i in 0..rounds {
        let v = (i as u32).wrapping_mul(40_503);
        rig.wr(LR, v);
        rig.wr(MR, v.wrapping_add(1));
        rig.advance(Duration::from_secs(1));
        rig.dev().poll();
        assert_eq!(rig.rd(MIS), 1, "round {i}");
        rig.wr(ICR, INT);
    }
    assert_eq!((rig.irq.raises(), rig.irq.lowers()), (rounds, rounds));
    assert_eq!(rig.irq.redundant(), 0);
    assert_eq!(rig.counters.alarms_fired(), rounds);
}

#[test]
fn test_hostile_uncleared_alarm_raises_once_however_often_it_matches() {
    // A guest that never clears RTCRIS while the counter keeps passing
    // RTCMR (it rewrites RTCMR ahead each second): the level stays high, so
    // the sink hears one raise, not one per match.
    let mut rig = Rig::at_secs(T0);
    rig.wr(IMSC, INT);
    for _ in 0..10_000 {
        let now = rig.rd(DR);
        rig.wr(MR, now.wrapping_add(1));
        rig.advance(Duration::from_secs(1));
        rig.dev().poll();
    }
    assert_eq!((rig.irq.raises(), rig.irq.lowers()), (1, 0));
    assert!(rig.irq.level());
}

#[test]
fn test_hostile_imsc_toggle_storm_costs_one_sink_call_per_toggle() {
    // With RTCRIS set, every RTCIMSC toggle changes RTCINTR: one sink call
    // each, bounded by the guest's own accesses.
    let mut rig = Rig::at_secs(T0);
    let now = rig.rd(DR);
    rig.wr(MR, now + 1);
    rig.advance(Duration::from_secs(1));
    assert_eq!(rig.rd(RIS), 1);
    let toggles = 100_000u64;
    for i in 0..toggles {
        rig.wr(IMSC, (i as u32 + 1) & 1);
    }
    assert_eq!(rig.irq.raises() + rig.irq.lowers(), toggles);
    assert_eq!(rig.irq.redundant(), 0);
}

#[test]
fn test_hostile_icr_and_imsc_writes_without_match_never_call_the_sink() {
    let mut rig = Rig::at_secs(T0);
    for i in 0..100_000u32 {
        rig.wr(IMSC, i & 1);
        rig.wr(ICR, INT);
    }
    assert_eq!((rig.irq.raises(), rig.irq.lowers()), (0, 0));
}

#[test]
fn test_hostile_invalid_access_flood_is_counted_and_changes_nothing() {
    // Reserved offsets, misaligned offsets and wrong widths, a million times:
    // no state change, exact counts, the counter unaffected.
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, 77);
    let before = rig.dev().state();
    let n = 250_000u64;
    for i in 0..n {
        let reserved = 0x020 + 4 * (i % 0x3EC); // 0x020..0xFDC: no register
        rig.wr(reserved, 0xFFFF_FFFF);
        assert_eq!(rig.rd(reserved), 0);
    }
    let mut wide = [0u8; 8];
    for _ in 0..n {
        rig.bus.write(MR + 1, &[1, 2, 3, 4]); // misaligned
        rig.bus.read(DR, &mut wide); // 8 bytes wide
    }
    assert_eq!(rig.dev().state(), before);
    assert_eq!(rig.counters.invalid_writes(), n);
    assert_eq!(rig.counters.invalid_reads(), n);
    assert_eq!(rig.bus.stats().invalid_offset, n);
    assert_eq!(rig.bus.stats().invalid_width, n);
    assert_eq!(rig.rd(DR), T0 as u32);
}

#[test]
fn test_hostile_clock_oscillation_across_mr_fires_only_on_forward_crossings() {
    // The host clock (e.g. NTP steps) oscillates ±1.5 s around RTCMR. A jump
    // backward never fires; each forward crossing of RTCMR fires once, and the
    // guest clears each time: alarms == forward crossings exactly.
    let mut rig = Rig::at_secs(T0);
    let now = rig.rd(DR);
    rig.wr(MR, now + 1);
    rig.wr(IMSC, INT);
    let swings = 10_000u64;
    for _ in 0..swings {
        rig.advance_ns(1_500_000_000); // onto MR (now + 1.5 s)
        rig.dev().poll();
        assert_eq!(rig.rd(MIS), 1);
        rig.wr(ICR, INT);
        rig.clock.rewind_ns(1_500_000_000); // back before MR: must not fire
        rig.dev().poll();
        assert_eq!(rig.rd(RIS), 0);
    }
    assert_eq!(rig.counters.alarms_fired(), swings);
    assert_eq!((rig.irq.raises(), rig.irq.lowers()), (swings, swings));
}

#[test]
fn test_hostile_lr_churn_keeps_deadline_exact() {
    // After every RTCLR write the deadline is exactly (RTCMR - RTCLR) seconds
    // ahead: a load restarts the second (TRM §2.1 semantics, crate docs).
    let mut rig = Rig::at_ns(T0 * NS + 123_456_789);
    rig.wr(MR, 1_000);
    rig.wr(IMSC, INT);
    for i in 0..10_000u64 {
        let lr = 1_000 - 1 - (i % 900) as u32;
        rig.advance_ns(i * 7_919);
        rig.wr(LR, lr);
        let expect = rig.clock_ns() + u64::from(1_000 - lr) * NS;
        assert_eq!(rig.dev().next_deadline(), Some(expect), "lr {lr}");
    }
    assert_eq!(rig.irq.raises(), 0);
}

#[test]
fn test_hostile_invalid_access_flood_logs_only_at_powers_of_two() {
    // Two million undecoded accesses must not become two million log lines:
    // one record at each power of two, 2^0 ..= 2^20, i.e. 21.
    use superio_core::test_utils::log_count;
    use superio_core::test_utils::RecordingIrq;
    use superio_pl031::{ManualClock, Pl031};
    let mut dev = Pl031::with_clock(RecordingIrq::new(), ManualClock::from_secs(T0));
    let before = log_count::records("superio_pl031");
    for _ in 0..1_000_000 {
        dev.read(0x020);
        dev.write(0x024, 1);
    }
    assert_eq!(log_count::records("superio_pl031") - before, 21);
    assert_eq!(dev.read(DR as u32), T0 as u32, "the counter is unaffected");
}

#[test]
fn test_hostile_refusing_sink_storm_logs_only_at_powers_of_two() {
    // The interrupt sink refuses every call while the guest toggles RTCIMSC
    // with RTCRIS set: each enable is a failed raise (50 000), counted
    // exactly, but logged only at powers of two (2^0 ..= 2^15: 16 records).
    use superio_core::test_utils::RecordingIrq;
    use superio_pl031::{ManualClock, Pl031, Pl031Counters};
    let counters = Pl031Counters::default();
    let clock = ManualClock::from_secs(T0);
    let irq = RecordingIrq::new();
    let mut dev = Pl031::with_events(irq.clone(), clock.clone(), &counters);
    let now = dev.read(DR as u32);
    dev.write(MR as u32, now + 1);
    clock.advance(Duration::from_secs(1));
    assert_eq!(dev.read(RIS as u32), 1);
    irq.fail_next(u32::MAX);
    let before = log_count::records("superio_pl031");
    for i in 0..100_000u32 {
        dev.write(IMSC as u32, (i + 1) & 1);
    }
    assert_eq!(dev.events().interrupt_errors(), 50_000);
    assert_eq!(log_count::records("superio_pl031") - before, 16);
    assert!(
        !dev.interrupt().level(),
        "the refused raise never reached the sink"
    );
    assert_eq!(superio_pl031::Clock::now_ns(dev.clock()), (T0 + 1) * NS);
}

#[test]
fn test_regression_dr_cache_wrapping_compare_after_jump_from_clock_top_to_zero() {
    // Found by the pl031_ops fuzz target: RTCDR was cached with the clock
    // time its second began, and the cache was compared with a wrapping
    // difference. A second that began within the last second of the u64
    // clock, then a clock set back to 0, wrapped to a small difference and
    // RTCDR read the stale value instead of the counter at 0 (which is 0 s,
    // for a fresh device: the counter is the clock modulo 2^32 s).
    const PERIOD_NS: u64 = (1 << 32) * NS;
    let top = u64::MAX - 0x00FF_5252;
    let mut rig = Rig::at_ns(top);
    let expected_top = ((top % PERIOD_NS) / NS) as u32;
    assert_eq!(rig.rd(DR), expected_top);
    rig.clock.set_ns(0);
    assert_eq!(rig.rd(DR), 0, "the counter after the clock went back to 0");
}
