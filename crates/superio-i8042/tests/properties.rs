//! Property tests: whatever a guest writes and the host injects, the device
//! never panics, never holds more than 16 bytes, publishes each interrupt
//! change once, never sets IBF, and a snapshot taken at any point resumes
//! identically.

use proptest::prelude::*;
use superio_core::test_utils::RecordingIrq;
use superio_i8042::{
    ByteSource, I8042Config, I8042State, Key, NoEvents, CTR_SYS, I8042, STR_AUXDATA, STR_CMDDAT,
    STR_KEYLOCK, STR_SYS, STR_TIMEOUT,
};

const STR_OBF: u8 = 0x01;
const STR_IBF: u8 = 0x02;
/// Linux's `I8042_BUFFER_SIZE`: the most bytes the device may hold.
const MAX_QUEUED: usize = 16;

type Dev = I8042<RecordingIrq, RecordingIrq>;

#[derive(Debug, Clone)]
enum Op {
    Read(u8),
    Write(u8, u8),
    Press(usize),
    Release(usize),
    Tap(usize),
    CtrlAltDel,
    Set1(Vec<u8>),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    // Offsets 0 and 4 most of the time, any offset sometimes; command and
    // data bytes cover the whole range.
    let offset = prop_oneof![4 => Just(0u8), 4 => Just(4u8), 1 => any::<u8>()];
    let key = 0..Key::ALL.len();
    prop_oneof![
        6 => offset.clone().prop_map(Op::Read),
        8 => (offset, any::<u8>()).prop_map(|(o, v)| Op::Write(o, v)),
        2 => key.clone().prop_map(Op::Press),
        2 => key.clone().prop_map(Op::Release),
        1 => key.prop_map(Op::Tap),
        1 => Just(Op::CtrlAltDel),
        1 => prop::collection::vec(any::<u8>(), 0..6).prop_map(Op::Set1),
        1 => Just(Op::Reset),
    ]
}

/// Applies `op`; returns what a read returned, if it was a read.
fn apply(dev: &mut Dev, op: &Op) -> Option<u8> {
    match op {
        Op::Read(o) => return Some(dev.read(*o)),
        Op::Write(o, v) => dev.write(*o, *v),
        Op::Press(k) => drop(dev.press(Key::ALL[*k])),
        Op::Release(k) => drop(dev.release(Key::ALL[*k])),
        Op::Tap(k) => drop(dev.tap(Key::ALL[*k])),
        Op::CtrlAltDel => drop(dev.ctrl_alt_del()),
        Op::Set1(b) => drop(dev.inject_set1(b)),
        Op::Reset => dev.reset(),
    }
    None
}

fn config(raw: bool) -> I8042Config {
    if raw {
        I8042Config::raw()
    } else {
        I8042Config::default()
    }
}

/// The status register computed from the snapshot's CTR and output buffer,
/// plus a CMDDAT bit that the caller tracks itself from the port each write
/// went to: the device's cached status must always equal it.
fn status_model(state: &I8042State, last_write_was_command: bool) -> u8 {
    let mut s = STR_KEYLOCK;
    if state.ram[0] & CTR_SYS != 0 {
        s |= STR_SYS;
    }
    if last_write_was_command {
        s |= STR_CMDDAT;
    }
    if let Some(b) = state.output_buffer {
        s |= STR_OBF;
        if b.source == ByteSource::Aux {
            s |= STR_AUXDATA;
        }
        if b.timeout {
            s |= STR_TIMEOUT;
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn test_any_sequence_keeps_queue_bounded_and_ibf_clear(
        raw in any::<bool>(),
        ops in prop::collection::vec(op(), 0..200),
    ) {
        let irq1 = RecordingIrq::new();
        let irq12 = RecordingIrq::new();
        let mut dev = I8042::with_config(irq1.clone(), RecordingIrq::new(), NoEvents, config(raw))
            .with_aux_interrupt(irq12.clone());
        for op in &ops {
            apply(&mut dev, op);
            prop_assert!(dev.queued() <= MAX_QUEUED);
            prop_assert_eq!(dev.read(4) & STR_IBF, 0);
        }
        prop_assert_eq!(irq1.redundant(), 0);
        prop_assert_eq!(irq12.redundant(), 0);
        // Linux's flush always empties the controller.
        let mut reads = 0;
        while dev.read(4) & STR_OBF != 0 {
            dev.read(0);
            reads += 1;
            prop_assert!(reads <= MAX_QUEUED);
        }
    }

    #[test]
    fn test_snapshot_at_any_point_resumes_identically(
        raw in any::<bool>(),
        before in prop::collection::vec(op(), 0..100),
        after in prop::collection::vec(op(), 0..100),
    ) {
        let mut a = I8042::with_config(RecordingIrq::new(), RecordingIrq::new(), NoEvents, config(raw));
        for op in &before {
            apply(&mut a, op);
        }
        let state = a.state();
        let mut b = I8042::from_state(RecordingIrq::new(), RecordingIrq::new(), NoEvents, &state).unwrap();
        prop_assert_eq!(b.state(), state);
        for op in &after {
            prop_assert_eq!(apply(&mut a, op), apply(&mut b, op));
            prop_assert_eq!(a.interrupt_level(), b.interrupt_level());
        }
        prop_assert_eq!(a.state(), b.state());
    }

    /// The status byte is cached and updated bit by bit where its inputs
    /// change; after every operation it must equal the status computed from
    /// scratch, and a restored device (which recomputes it) must agree.
    #[test]
    fn test_cached_status_matches_status_from_scratch(
        raw in any::<bool>(),
        ops in prop::collection::vec(op(), 0..200),
    ) {
        let mut dev = I8042::with_config(RecordingIrq::new(), RecordingIrq::new(), NoEvents, config(raw))
            .with_aux_interrupt(RecordingIrq::new());
        // CMDDAT: set by a write to port 0x64, cleared by one to 0x60; other
        // offsets leave it; reset clears it.
        let mut cmd = false;
        for op in &ops {
            apply(&mut dev, op);
            match *op {
                Op::Write(0, _) | Op::Reset => cmd = false,
                Op::Write(4, _) => cmd = true,
                _ => {}
            }
            let state = dev.state();
            prop_assert_eq!(state.last_write_was_command, cmd);
            prop_assert_eq!(dev.status(), status_model(&state, cmd), "after {:?}", op);
            let restored = I8042::from_state(RecordingIrq::new(), RecordingIrq::new(), NoEvents, &state).unwrap();
            prop_assert_eq!(restored.status(), dev.status());
        }
    }
}
