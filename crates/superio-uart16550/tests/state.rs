//! Snapshots: round trips, re-derived interrupt line, TX restart, and
//! rejection of malformed states.

mod common;

use common::*;
use superio_core::test_utils::{RecordingIrq, TestSink};
use superio_uart16550::{Config, NoEvents, StateError, Uart16550, Uart16550State};

type Restored = (
    Uart16550<RecordingIrq, NoEvents, TestSink>,
    RecordingIrq,
    TestSink,
);

fn restore(state: &Uart16550State, config: Config) -> Result<Restored, StateError> {
    let irq = RecordingIrq::new();
    let sink = TestSink::new();
    Uart16550::from_state(state, config, irq.clone(), NoEvents, sink.clone())
        .map(|u| (u, irq, sink))
}

#[test]
fn test_default_state_is_power_on() {
    let (u, ..) = uart();
    assert_eq!(u.state(), Uart16550State::default());
    let s = Uart16550State::default();
    assert_eq!(
        (s.dll, s.dlm, s.modem_lines, s.lcr, s.mcr),
        (0x0C, 0x00, 0xB0, 0, 0)
    );
}

#[test]
fn test_state_round_trips_registers_fifos_and_breaks() {
    let (mut u, _, sink, _) = uart();
    u.write(FCR, 0x81);
    u.write(LCR, 0x83);
    u.write(DLL, 0x03);
    u.write(LCR, 0x1B);
    u.write(MCR, 0x0B);
    u.write(SCR, 0x77);
    u.write(IER, 0x0D);
    u.enqueue_raw_bytes(b"ab").unwrap();
    u.send_break().unwrap();
    u.read(RX); // pop 'a': the break now sits behind 'b'
    u.set_modem_lines(0x90);
    sink.set_budget(Some(0));
    u.write(TX, b'z');
    let s = u.state();
    assert_eq!(s.rx_fifo, b"b\0");
    assert_eq!(s.rx_breaks, [1]);
    assert_eq!(s.tx_fifo, b"z");
    assert_eq!(s.msr_deltas, 0x02);
    // Restore onto a blocked sink so the TX byte stays put.
    let irq = RecordingIrq::new();
    let blocked = TestSink::with_budget(0);
    let r = Uart16550::from_state(&s, Config::default(), irq, NoEvents, blocked).unwrap();
    assert_eq!(r.state(), s);
}

#[test]
fn test_restore_reasserts_pending_rx_interrupt() {
    let (mut u, ..) = uart();
    u.write(FCR, 0x01);
    u.write(MCR, 0x08);
    u.write(IER, 0x01);
    u.enqueue_raw_bytes(b"x").unwrap();
    let (mut r, irq, _) = restore(&u.state(), Config::default()).unwrap();
    assert!(irq.level(), "RX pending after restore must be signalled");
    assert_eq!(r.read(RX), b'x');
}

#[test]
fn test_restore_with_open_burst_raises_thri() {
    let (mut u, ..) = uart();
    u.write(FCR, 0x01);
    u.write(MCR, 0x08);
    u.write(IER, 0x02);
    u.read(IIR);
    u.write(TX, b'a');
    let s = u.state();
    assert!(s.thri_pending, "an open burst is snapshotted as ended");
    let (_, irq, _) = restore(&s, Config::default()).unwrap();
    assert!(irq.level(), "TX must not stall after restore");
}

#[test]
fn test_restore_drains_pending_tx_to_new_sink_and_raises_thri() {
    let (mut u, _, sink, _) = uart();
    u.write(FCR, 0x01);
    u.write(MCR, 0x08);
    u.write(IER, 0x02);
    u.read(IIR);
    sink.set_budget(Some(0));
    u.write(TX, b'q');
    let (mut r, irq, new_sink) = restore(&u.state(), Config::default()).unwrap();
    assert_eq!(new_sink.data(), b"q");
    assert!(irq.level());
    assert_eq!(r.read(LSR) & 0x60, 0x60);
}

#[test]
fn test_from_state_rejects_unknown_version() {
    let s = Uart16550State {
        version: 2,
        ..Uart16550State::default()
    };
    assert_eq!(
        restore(&s, Config::default()).unwrap_err(),
        StateError::Version { found: 2 }
    );
}

#[test]
fn test_from_state_rejects_reserved_bits() {
    type Corrupt = fn(&mut Uart16550State);
    let cases: [(Corrupt, &str); 6] = [
        (|s| s.ier = 0x10, "ier"),
        (|s| s.fcr = 0x02, "fcr"),
        (|s| s.mcr = 0x20, "mcr"),
        (|s| s.lsr_errors = 0x01, "lsr_errors"),
        (|s| s.modem_lines = 0x01, "modem_lines"),
        (|s| s.msr_deltas = 0x10, "msr_deltas"),
    ];
    for (corrupt, field) in cases {
        let mut s = Uart16550State::default();
        corrupt(&mut s);
        assert!(
            matches!(restore(&s, Config::default()), Err(StateError::ReservedBits { field: f, .. }) if f == field),
            "{field}"
        );
    }
}

#[test]
fn test_from_state_rejects_fifo_larger_than_config() {
    let s = Uart16550State {
        fcr: 0x01,
        rx_fifo: vec![0; 65],
        ..Uart16550State::default()
    };
    assert!(matches!(
        restore(&s, Config::default()),
        Err(StateError::FifoOverflow {
            field: "rx_fifo",
            len: 65,
            capacity: 64
        })
    ));
    let small = Config::default().with_fifo_size(16).unwrap();
    let s = Uart16550State {
        fcr: 0x01,
        tx_fifo: vec![0; 17],
        ..Uart16550State::default()
    };
    assert!(matches!(
        restore(&s, small),
        Err(StateError::FifoOverflow {
            field: "tx_fifo",
            ..
        })
    ));
}

#[test]
fn test_from_state_rejects_two_bytes_with_fifo_disabled() {
    let s = Uart16550State {
        rx_fifo: vec![1, 2],
        ..Uart16550State::default()
    };
    assert!(matches!(
        restore(&s, Config::default()),
        Err(StateError::FifoOverflow { capacity: 1, .. })
    ));
}

#[test]
fn test_from_state_rejects_bad_break_indices() {
    for breaks in [vec![0], vec![3], vec![2, 1], vec![1, 1]] {
        let s = Uart16550State {
            fcr: 0x01,
            rx_fifo: vec![0; 3],
            rx_breaks: breaks.clone(),
            ..Uart16550State::default()
        };
        assert_eq!(
            restore(&s, Config::default()).unwrap_err(),
            StateError::BreakIndex { rx_len: 3 },
            "{breaks:?}"
        );
    }
}

#[test]
fn test_from_state_rejects_thri_with_tx_bytes() {
    let s = Uart16550State {
        thri_pending: true,
        tx_fifo: vec![1],
        ..Uart16550State::default()
    };
    assert_eq!(
        restore(&s, Config::default()).unwrap_err(),
        StateError::ThriWithTxData(1)
    );
}

#[cfg(feature = "serde")]
#[test]
fn test_state_serde_json_round_trip() {
    let (mut u, ..) = uart();
    u.write(FCR, 0x01);
    u.enqueue_raw_bytes(b"abc").unwrap();
    u.send_break().unwrap();
    let s = u.state();
    let json = serde_json::to_string(&s).unwrap();
    let back: Uart16550State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    assert!(restore(&back, Config::default()).is_ok());
}
