//! Behaviour beyond the CONFORMANCE checklist: deadlines, clock jumps,
//! interrupt-sink failures, events, host-side time control and state
//! validation.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use superio_core::test_utils::RecordingIrq;
use superio_pl031::{
    ManualClock, NoEvents, Pl031, Pl031Counters, Pl031State, RestorePolicy, StateError,
};

fn armed(rig: &mut Rig, mr: u32) {
    rig.wr(MR, mr);
    rig.wr(IMSC, 1);
}

// ---- deadlines ----

#[test]
fn test_deadline_none_when_no_alarm_is_armed() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, T0 as u32 + 5); // IMSC still 0
    assert_eq!(rig.dev().next_deadline(), None);
    assert_eq!(rig.dev().time_until_deadline(), None);
}

#[test]
fn test_deadline_is_exact_boundary_with_sub_second_phase() {
    let mut rig = Rig::at_ns(T0 * NS + 250_000_000);
    armed(&mut rig, T0 as u32 + 3);
    assert_eq!(rig.dev().next_deadline(), Some((T0 + 3) * NS));
    assert_eq!(
        rig.dev().time_until_deadline(),
        Some(Duration::from_millis(2_750))
    );
}

#[test]
fn test_deadline_follows_lr_phase() {
    let mut rig = Rig::at_ns(T0 * NS + 250_000_000);
    rig.wr(LR, 100);
    armed(&mut rig, 102);
    assert_eq!(
        rig.dev().next_deadline(),
        Some(T0 * NS + 250_000_000 + 2 * NS)
    );
}

#[test]
fn test_deadline_none_after_match_until_icr() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 + 1);
    rig.advance(Duration::from_secs(1));
    assert_eq!(rig.dev().poll(), None);
    assert!(rig.irq.level());
    rig.wr(ICR, 1);
    // Re-armed for the same MR: the next match is a full counter turn away.
    assert_eq!(
        rig.dev().next_deadline(),
        Some((T0 + 1) * NS + (1u64 << 32) * NS)
    );
}

#[test]
fn test_deadline_saturates_beyond_u64_clock() {
    let mut rig = Rig::at_ns(u64::MAX - NS);
    let dr = rig.rd(DR);
    armed(&mut rig, dr.wrapping_add(100));
    assert_eq!(rig.dev().next_deadline(), Some(u64::MAX));
}

#[test]
fn test_poll_before_deadline_does_not_fire() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 + 2);
    let deadline = rig.dev().next_deadline().unwrap();
    rig.clock.set_ns(deadline - 1);
    assert_eq!(rig.dev().poll(), Some(deadline));
    assert!(!rig.irq.level());
    rig.clock.set_ns(deadline);
    rig.dev().poll();
    assert!(rig.irq.level());
}

#[test]
fn test_late_poll_still_fires_once() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 + 2);
    rig.advance(Duration::from_secs(3600));
    rig.dev().poll();
    rig.dev().poll();
    assert_eq!(rig.irq.raises(), 1);
    assert_eq!(rig.counters.alarms_fired(), 1);
}

// ---- clock jumps ----

#[test]
fn test_clock_jump_forward_across_mr_fires() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 + 10);
    rig.advance(Duration::from_secs(86_400));
    rig.dev().poll();
    assert!(rig.irq.level());
    assert_eq!(rig.rd(DR), T0 as u32 + 86_400);
}

#[test]
fn test_clock_jump_backward_is_followed_and_never_fires() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 - 5);
    rig.clock.set_ns((T0 - 3600) * NS);
    rig.dev().poll();
    assert_eq!(rig.rd(DR), T0 as u32 - 3600);
    assert!(!rig.irq.level());
    // Moving forward again reaches MR and fires exactly there.
    let polls = rig.run_timers_until(T0 * NS);
    assert_eq!(polls, vec![(T0 - 5) * NS]);
    assert!(rig.irq.level());
}

#[test]
fn test_huge_forward_jump_fires_and_wraps_counter() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, 7);
    rig.advance_ns(u64::MAX / 2);
    assert_eq!(rig.rd(RIS), 1);
    let expected = ((T0 * NS + u64::MAX / 2) / NS) % (1u64 << 32);
    assert_eq!(u64::from(rig.rd(DR)), expected);
}

// ---- interrupt sink failures ----

#[test]
fn test_failed_raise_is_retried_after_one_millisecond() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 + 1);
    rig.irq.fail_next(1);
    rig.advance(Duration::from_secs(1));
    rig.dev().poll();
    assert!(!rig.irq.level());
    assert_eq!(rig.counters.interrupt_errors(), 1);
    let retry = rig.dev().next_deadline().unwrap();
    assert_eq!(retry, rig.clock_ns() + 1_000_000);
    rig.clock.set_ns(retry);
    rig.dev().poll();
    assert!(rig.irq.level());
    assert_eq!(rig.dev().next_deadline(), None);
}

#[test]
fn test_failed_lower_is_retried_on_next_access() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 + 1);
    rig.advance(Duration::from_secs(1));
    rig.dev().poll();
    rig.irq.fail_next(1);
    rig.wr(ICR, 1);
    assert!(rig.irq.level());
    assert!(rig.dev().interrupt_level());
    assert_eq!(rig.rd(MIS), 0);
    assert!(!rig.irq.level());
    assert_eq!(rig.irq.redundant(), 0);
}

#[test]
fn test_failed_lower_is_retried_by_an_imsc_write_while_ris_is_clear() {
    // RTCIMSC is written on an inline path of its own. With RTCRIS clear it
    // cannot raise the line, but after a refused lowering the line is still
    // high: the write must still publish the level (low), not skip the
    // check because RTCRIS is 0.
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 + 1);
    rig.advance(Duration::from_secs(1));
    rig.dev().poll();
    assert!(rig.irq.level());
    rig.irq.fail_next(1);
    rig.wr(ICR, 1);
    assert!(rig.irq.level(), "the lowering was refused");
    rig.wr(IMSC, 1);
    assert!(!rig.irq.level(), "the RTCIMSC write retried the lowering");
    assert!(!rig.dev().interrupt_level());
    // No retry is pending: the deadline is the armed alarm's next match,
    // one full turn of the counter away.
    let next = rig.dev().next_deadline().unwrap();
    assert_eq!(next, rig.clock_ns() + (1u64 << 32) * NS);
    assert_eq!(rig.irq.redundant(), 0);
}

#[test]
fn test_inline_and_out_of_line_writes_agree_through_the_bus_and_directly() {
    // RTCMR, RTCIMSC and RTCLR are decoded inline, everything else out of
    // line: a bus write and a direct call must leave the same registers,
    // line and events for every register offset, including the read-only
    // and reserved ones (misaligned ones never reach the device).
    for offset in (0..0x40u32).step_by(4).chain([0xFE0, 0xFFC]) {
        let mut rig = Rig::at_secs(T0);
        let counters = Arc::new(Pl031Counters::default());
        let irq = RecordingIrq::new();
        let mut direct = Pl031::with_events(irq.clone(), rig.clock.clone(), Arc::clone(&counters));
        // An alarm already fired and enabled, so that RTCIMSC and RTCICR
        // writes move the line.
        for (reg, value) in [(MR, T0 as u32 + 1), (IMSC, 1)] {
            rig.wr(reg, value);
            direct.write(reg as u32, value);
        }
        rig.advance(Duration::from_secs(1));
        assert_eq!((rig.rd(RIS), direct.read(RIS as u32)), (1, 1));
        let regs = |d: &mut Dev| [DR, MR, LR, CR, IMSC, RIS, MIS].map(|r| d.read(r as u32));
        for value in [0, 1, 0x1234_5679] {
            rig.wr(u64::from(offset), value);
            direct.write(offset, value);
            let at = format!("offset {offset:#x} value {value:#x}");
            assert_eq!(regs(rig.dev()), regs(&mut direct), "{at}");
            assert_eq!(rig.irq.level(), irq.level(), "{at}");
        }
        assert_eq!(rig.counters.invalid_writes(), counters.invalid_writes());
        assert_eq!(rig.counters.time_sets(), counters.time_sets());
        assert_eq!(rig.counters.alarms_fired(), counters.alarms_fired());
    }
}

// ---- events and host-side time control ----

#[test]
fn test_time_set_event_offset_restores_guest_time_in_new_instance() {
    let mut rig = Rig::at_ns(T0 * NS + 400_000_000);
    rig.wr(LR, 1_000_000);
    let offset = rig.counters.last_offset_ns().unwrap();
    // Next boot, an hour later, on a fresh device.
    let clock = ManualClock::new((T0 + 3600) * NS + 400_000_000);
    let mut next = Pl031::with_clock(RecordingIrq::new(), clock);
    next.set_offset_ns(i128::from(offset));
    assert_eq!(next.read(0x000), 1_003_600);
}

#[test]
fn test_offset_of_fresh_device_is_zero_and_follows_lr() {
    let mut rig = Rig::at_secs(T0);
    assert_eq!(rig.dev().offset_ns(), 0);
    rig.wr(LR, T0 as u32 - 60);
    assert_eq!(rig.dev().offset_ns(), -60 * i128::from(NS));
}

#[test]
fn test_set_offset_does_not_fire_or_touch_lr() {
    let mut rig = Rig::at_secs(T0);
    armed(&mut rig, T0 as u32 + 10);
    rig.dev().set_offset_ns(10 * i128::from(NS));
    assert_eq!(rig.rd(DR), T0 as u32 + 10);
    assert_eq!(rig.rd(RIS), 0);
    assert_eq!(rig.rd(LR), 0);
    assert_eq!(rig.counters.time_sets(), 0);
}

#[test]
fn test_counter_reads_dr_without_events() {
    let mut rig = Rig::at_secs(T0);
    assert_eq!(rig.dev().counter(), T0 as u32);
    assert_eq!(rig.counters.invalid_reads(), 0);
}

// ---- state ----

fn fresh_state() -> Pl031State {
    Pl031::with_clock(RecordingIrq::new(), ManualClock::from_secs(T0)).state()
}

fn restore(state: &Pl031State) -> Result<Pl031<RecordingIrq, ManualClock>, StateError> {
    Pl031::from_state(
        state,
        RestorePolicy::Resume,
        RecordingIrq::new(),
        ManualClock::from_secs(T0),
        NoEvents,
    )
}

#[test]
fn test_state_with_unknown_version_is_refused() {
    let mut state = fresh_state();
    state.version = 2;
    assert_eq!(
        restore(&state).unwrap_err(),
        StateError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
}

#[test]
fn test_state_with_counter_past_32_bits_is_refused() {
    let mut state = fresh_state();
    state.counter_ns = (1u64 << 32) * NS;
    assert_eq!(
        restore(&state).unwrap_err(),
        StateError::CounterOutOfRange((1u64 << 32) * NS)
    );
}

#[test]
fn test_state_with_reserved_imsc_bits_is_refused() {
    let mut state = fresh_state();
    state.imsc = 0x8000_0001;
    assert_eq!(
        restore(&state).unwrap_err(),
        StateError::ReservedBits {
            register: "RTCIMSC",
            value: 0x8000_0001
        }
    );
}

#[test]
fn test_state_round_trips_through_resume() {
    let mut rig = Rig::at_ns(T0 * NS + 123);
    rig.wr(LR, 5);
    rig.wr(MR, 9);
    rig.wr(IMSC, 1);
    let state = rig.dev().state();
    let mut back = Pl031::from_state(
        &state,
        RestorePolicy::Resume,
        RecordingIrq::new(),
        rig.clock.clone(),
        NoEvents,
    )
    .unwrap();
    assert_eq!(back.state(), state);
}

#[test]
fn test_state_error_messages_say_what_to_do() {
    let msg = StateError::UnsupportedVersion {
        found: 9,
        supported: 1,
    }
    .to_string();
    assert!(msg.contains("convert the snapshot"));
}

#[cfg(feature = "serde")]
#[test]
fn test_state_serde_json_round_trip() {
    let mut rig = Rig::at_ns(u64::MAX - 5);
    rig.wr(LR, 0xFFFF_FFFF);
    rig.wr(MR, 3);
    let state = rig.dev().state();
    let json = serde_json::to_string(&state).unwrap();
    let back: Pl031State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
}

#[test]
fn test_device_is_send_for_threaded_vmms() {
    fn assert_send<S: Send>() {}
    assert_send::<
        Pl031<
            vmm_sys_util::eventfd::EventFd,
            superio_pl031::RealtimeClock,
            std::sync::Arc<superio_pl031::Pl031Counters>,
        >,
    >();
}

// ---- which accesses read the clock ----

/// A clock that counts its readings, so a test can tell which accesses
/// consult the time.
#[derive(Debug, Clone)]
struct CountingClock {
    inner: ManualClock,
    reads: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl CountingClock {
    fn new(ns: u64) -> Self {
        Self {
            inner: ManualClock::new(ns),
            reads: Default::default(),
        }
    }
    fn reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl superio_pl031::Clock for CountingClock {
    fn now_ns(&self) -> u64 {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.now_ns()
    }
}

#[test]
fn test_only_dr_ris_mis_reads_and_lr_writes_read_the_clock() {
    let clock = CountingClock::new(T0 * NS);
    let mut rtc = Pl031::with_clock(RecordingIrq::new(), clock.clone());
    // TRM Table 3.1 offsets.
    let mut before = clock.reads();
    for (offset, value) in [(0x004, T0 as u32 + 9), (0x00C, 1), (0x010, 1), (0x01C, 1)] {
        rtc.write(offset, value);
    }
    for offset in [0x004, 0x008, 0x00C, 0x010, 0xFE0, 0xFFC, 0x020] {
        rtc.read(offset);
    }
    assert_eq!(
        clock.reads(),
        before,
        "a time-independent access read the clock"
    );
    for offset in [0x000, 0x014, 0x018] {
        before = clock.reads();
        rtc.read(offset);
        assert_eq!(clock.reads(), before + 1, "read of {offset:#x}");
    }
    before = clock.reads();
    rtc.write(0x008, 5);
    assert_eq!(clock.reads(), before + 1, "RTCLR write");
}

#[test]
fn test_mr_written_then_time_passes_then_imsc_enabled_fires_at_match() {
    // MR and IMSC writes take no clock reading: the alarm must still come
    // due when the counter reached MR, between the two writes.
    let mut rig = Rig::at_ns(T0 * NS + 250_000_000);
    assert_eq!(rig.rd(DR), T0 as u32);
    rig.wr(MR, T0 as u32 + 3);
    rig.clock.set_ns((T0 + 5) * NS);
    rig.wr(IMSC, 1);
    // Due since T0 + 3 s: the VMM's timer fires at once.
    assert_eq!(rig.dev().next_deadline(), Some((T0 + 3) * NS));
    assert_eq!(rig.dev().poll(), None);
    assert!(rig.irq.level());
    assert_eq!(rig.rd(RIS), 1);
    assert_eq!(rig.counters.alarms_fired(), 1);
}

#[test]
fn test_mr_written_then_time_passes_mis_read_sees_match() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(IMSC, 1);
    rig.wr(MR, T0 as u32 + 2);
    rig.clock.set_ns((T0 + 2) * NS - 1);
    assert_eq!(rig.rd(MIS), 0);
    assert!(!rig.irq.level());
    rig.clock.set_ns((T0 + 2) * NS);
    assert_eq!(rig.rd(MIS), 1);
    assert!(rig.irq.level());
}

#[test]
fn test_mr_write_takes_effect_at_last_clock_reading() {
    // Without a time-dependent access in between, an RTCMR write counts from
    // the last clock reading: here RTCDR read 1_000 at 1_000.5 s, so MR =
    // 1_001 is one step away even if the write happens at 1_001.5 s.
    let mut rig = Rig::at_ns(1_000 * NS + NS / 2);
    assert_eq!(rig.rd(DR), 1_000);
    rig.clock.set_ns(1_001 * NS + NS / 2);
    rig.wr(MR, 1_001);
    rig.wr(IMSC, 1);
    assert_eq!(rig.dev().next_deadline(), Some(1_001 * NS));
    assert_eq!(rig.rd(RIS), 1);
}

#[test]
fn test_dr_reads_within_a_second_then_match_on_the_boundary() {
    // Reads inside one second leave the model alone; the step and the
    // match on the next boundary are still seen exactly.
    let mut rig = Rig::at_ns(T0 * NS + 1);
    armed(&mut rig, T0 as u32 + 1);
    for ns in [S4, 2 * S4, 3 * S4, NS - 1] {
        rig.clock.set_ns(T0 * NS + ns);
        assert_eq!(rig.rd(DR), T0 as u32);
        assert!(!rig.irq.level());
    }
    rig.clock.set_ns((T0 + 1) * NS);
    assert_eq!(rig.rd(DR), T0 as u32 + 1);
    assert!(rig.irq.level());
}

#[test]
fn test_lr_write_in_same_second_fires_match_passed_before_it() {
    // The load comes after a match the clock already passed: RTCRIS is set
    // by that match, not by the load.
    let mut rig = Rig::at_ns(T0 * NS + S4);
    armed(&mut rig, T0 as u32 + 1);
    assert_eq!(rig.rd(DR), T0 as u32);
    rig.clock.set_ns((T0 + 1) * NS + S4);
    rig.wr(LR, 7);
    assert!(rig.irq.level());
    assert_eq!(rig.rd(DR), 7);
    // The load itself moved the counter to 7; MR = T0 + 1 is far away.
    rig.wr(ICR, 1);
    assert!(!rig.irq.level());
    rig.clock.set_ns((T0 + 3) * NS);
    assert_eq!(rig.rd(RIS), 0);
}

const S4: u64 = NS / 4;
