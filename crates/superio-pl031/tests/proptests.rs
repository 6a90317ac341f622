//! Property tests on a manual clock: arbitrary guest accesses, host calls and
//! clock jumps (forward, backward, huge) never panic, never fire the alarm
//! before the counter reaches RTCMR, never miss it, keep the interrupt line
//! equal to RTCMIS, and the state round-trips.

mod common;

use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use superio_core::test_utils::RecordingIrq;
use superio_core::{BusDevice, Mmio32};
use superio_pl031::{Clock, ManualClock, NoEvents, Pl031, Pl031State, RestorePolicy};

/// 2^32 seconds in nanoseconds: one turn of the 32-bit counter.
const TURN_NS: u128 = (1u128 << 32) * 1_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    /// A guest read at any offset of the device's own decoder.
    Read(u32),
    /// A guest write at any offset of the device's own decoder.
    Write(u32, u32),
    /// A guest write to one of the eight registers 0x00-0x1C.
    Reg(u8, u32),
    /// A bus access of any offset and width through `Mmio32`.
    Bus(u64, u8, bool),
    Forward(u64),
    ForwardHuge(u64),
    Back(u64),
    Set(u64),
    Poll,
    Reset,
    Restore(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u32>().prop_map(Op::Read),
        (any::<u32>(), any::<u32>()).prop_map(|(o, v)| Op::Write(o, v)),
        // Values near the current time matter most for MR; bias towards small ones.
        (0u8..8, prop_oneof![0u32..4, any::<u32>()]).prop_map(|(r, v)| Op::Reg(r, v)),
        (any::<u64>(), 0u8..9, any::<bool>()).prop_map(|(o, w, r)| Op::Bus(o, w, r)),
        (0u64..3 * NS).prop_map(Op::Forward),
        (0u64..3 * NS).prop_map(Op::Forward),
        any::<u64>().prop_map(Op::ForwardHuge),
        (0u64..5 * NS).prop_map(Op::Back),
        any::<u64>().prop_map(Op::Set),
        Just(Op::Poll),
        Just(Op::Reset),
        any::<bool>().prop_map(Op::Restore),
    ]
}

/// Which DR values the counter stepped onto going from `start_ns` forward by
/// `elapsed` ns, and whether `mr` is among them, by enumeration when the step
/// is short and by counting when it is not.
fn steps_onto(start_ns: u64, elapsed: u64, mr: u32) -> bool {
    let start = u128::from(start_ns);
    let end = start + u128::from(elapsed);
    let first = start / 1_000_000_000 + 1;
    let last = end / 1_000_000_000;
    if last < first {
        return false;
    }
    if last - first < 64 {
        (first..=last).any(|s| (s % (1u128 << 32)) as u32 == mr)
    } else {
        // More than 64 steps: MR is passed iff its next occurrence after
        // `first - 1` is at most `last`.
        let dr0 = ((first - 1) % (1u128 << 32)) as u32;
        let mut dist = u128::from(mr.wrapping_sub(dr0));
        if dist == 0 {
            dist = 1 << 32;
        }
        first - 1 + dist <= last
    }
}

fn apply(rig: &mut Rig, op: &Op) {
    match *op {
        Op::Read(o) => {
            rig.dev().read(o);
        }
        Op::Write(o, v) => rig.dev().write(o, v),
        Op::Reg(r, v) => rig.wr(u64::from(r) * 4, v),
        Op::Bus(o, w, read) => {
            let mut data = vec![0u8; usize::from(w)];
            if read {
                rig.bus.read(o, &mut data);
            } else {
                rig.bus.write(o, &data);
            }
        }
        Op::Forward(ns) | Op::ForwardHuge(ns) => rig.clock.advance_ns(ns),
        Op::Back(ns) => rig.clock.rewind_ns(ns),
        Op::Set(ns) => rig.clock.set_ns(ns),
        Op::Poll => {
            rig.dev().poll();
        }
        Op::Reset => rig.dev().reset(),
        Op::Restore(follow) => {
            let state = rig.dev().state();
            let policy = if follow {
                RestorePolicy::FollowClock
            } else {
                RestorePolicy::Resume
            };
            let irq = RecordingIrq::new();
            let dev = Pl031::from_state(
                &state,
                policy,
                irq.clone(),
                rig.clock.clone(),
                Arc::clone(&rig.counters),
            )
            .unwrap();
            rig.irq = irq;
            rig.bus = Mmio32::new(dev);
        }
    }
}

fn check_state_valid(s: &Pl031State) {
    assert_eq!(s.version, 1);
    assert!(u128::from(s.counter_ns) < TURN_NS);
    assert!(s.imsc <= 1 && s.ris <= 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn test_prop_arbitrary_ops_keep_alarm_and_line_correct(
        start in prop_oneof![Just(T0 * NS), any::<u64>()],
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut rig = Rig::at_ns(start);
        for op in &ops {
            let c0 = rig.clock.now_ns();
            let s0 = rig.dev().state();
            apply(&mut rig, op);
            let c1 = rig.clock.now_ns();
            let s1 = rig.dev().state();
            check_state_valid(&s1);

            // The line is RTCMIS, published without redundant calls.
            prop_assert_eq!(rig.irq.level(), s1.ris == 1 && s1.imsc == 1);
            prop_assert_eq!(rig.irq.redundant(), 0);

            match op {
                Op::Forward(_) | Op::ForwardHuge(_) | Op::Back(_) | Op::Set(_) => {
                    if c1 > c0 {
                        let elapsed = c1 - c0;
                        let expected_counter =
                            ((u128::from(s0.counter_ns) + u128::from(elapsed)) % TURN_NS) as u64;
                        prop_assert_eq!(s1.counter_ns, expected_counter);
                        let fired = s0.ris == 0 && steps_onto(s0.counter_ns, elapsed, s0.mr);
                        // Never before DR reaches MR, never missed.
                        prop_assert_eq!(s1.ris == 1, s0.ris == 1 || fired);
                    } else {
                        // Backwards (or no move): followed, and nothing fires.
                        let back = u128::from(c0 - c1);
                        let expected_counter =
                            ((u128::from(s0.counter_ns) + TURN_NS - back % TURN_NS) % TURN_NS) as u64;
                        prop_assert_eq!(s1.counter_ns, expected_counter);
                        prop_assert_eq!(s1.ris, s0.ris);
                    }
                }
                Op::Restore(_) => {
                    // Same clock: both policies give back the same state.
                    prop_assert_eq!(&s1, &s0);
                }
                _ => {
                    // Register accesses and host calls never set RTCRIS.
                    prop_assert!(s1.ris <= s0.ris);
                    prop_assert_eq!(c1, c0);
                }
            }
        }
    }

    #[test]
    fn test_prop_state_round_trips_after_arbitrary_ops(
        ops in proptest::collection::vec(op(), 0..40),
        follow in any::<bool>(),
    ) {
        let mut rig = Rig::at_secs(T0);
        for op in &ops {
            apply(&mut rig, op);
        }
        let state = rig.dev().state();
        let policy = if follow { RestorePolicy::FollowClock } else { RestorePolicy::Resume };
        let mut back = Pl031::from_state(&state, policy, RecordingIrq::new(), rig.clock.clone(), NoEvents).unwrap();
        prop_assert_eq!(back.state(), state);
    }

    #[test]
    fn test_prop_arbitrary_state_is_validated_never_panics(
        version in prop_oneof![Just(1u32), any::<u32>()],
        counter_ns in prop_oneof![0u64..(1u64 << 32) * NS, any::<u64>()],
        clock_ns in any::<u64>(),
        mr in any::<u32>(),
        lr in any::<u32>(),
        imsc in prop_oneof![0u32..2, any::<u32>()],
        ris in prop_oneof![0u32..2, any::<u32>()],
        now in any::<u64>(),
        follow in any::<bool>(),
    ) {
        let state = Pl031State { version, counter_ns, clock_ns, mr, lr, imsc, ris };
        let policy = if follow { RestorePolicy::FollowClock } else { RestorePolicy::Resume };
        let valid = version == 1 && counter_ns < (1u64 << 32) * NS && imsc <= 1 && ris <= 1;
        let irq = RecordingIrq::new();
        match Pl031::from_state(&state, policy, irq.clone(), ManualClock::new(now), NoEvents) {
            Ok(mut dev) => {
                prop_assert!(valid);
                let s = dev.state();
                check_state_valid(&s);
                prop_assert_eq!(irq.level(), s.ris == 1 && s.imsc == 1);
                prop_assert_eq!((s.mr, s.lr, s.imsc), (mr, lr, imsc));
            }
            Err(_) => prop_assert!(!valid),
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn test_prop_state_serde_round_trip(
        ops in proptest::collection::vec(op(), 0..30),
    ) {
        let mut rig = Rig::at_secs(T0);
        for op in &ops {
            apply(&mut rig, op);
        }
        let state = rig.dev().state();
        let json = serde_json::to_string(&state).unwrap();
        let back: Pl031State = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, state);
    }
}
