//! Corrupt snapshots (issue 9), exhaustively: every value of every register
//! field (all 256), FIFO contents one byte past each configured depth and
//! grossly oversized, break lists out of order or out of range, future
//! versions, and the JSON form truncated, retyped and incomplete. Each must be
//! refused with the error naming the problem; a refused restore must neither
//! raise the interrupt nor write to the output sink; and every value a
//! 16550A can hold must still be accepted.

use superio_core::test_utils::{RecordingIrq, TestSink};
use superio_uart16550::{Config, NoEvents, StateError, Uart16550, Uart16550State};

/// Register bits a 16550A implements (TI/NS PC16550D datasheet, Table 3):
/// IER bits 0-3; FCR as stored: FIFO enable (0), DMA mode (3), RX trigger
/// (6-7), bits 1-2 being self-clearing actions and 4-5 reserved; MCR bits
/// 0-4; LSR's sticky error bits OE, PE, FE, BI (1-4); MSR inputs CTS, DSR,
/// RI, DCD (4-7) and deltas (0-3).
const IER_BITS: u8 = 0x0F;
const FCR_STORED_BITS: u8 = 0x01 | 0x08 | 0xC0;
const MCR_BITS: u8 = 0x1F;
const LSR_ERROR_BITS: u8 = 0x1E;
const MSR_INPUT_BITS: u8 = 0xF0;
const MSR_DELTA_BITS: u8 = 0x0F;
/// FCR bit 0: FIFOs enabled (the FIFOs then hold the configured depth,
/// otherwise one byte: the 16450 holding registers).
const FCR_FIFO_ENABLE: u8 = 0x01;

fn fifo_state() -> Uart16550State {
    Uart16550State {
        fcr: FCR_FIFO_ENABLE,
        ..Uart16550State::default()
    }
}

/// Restores `s`, returning the result and the sinks it was given.
fn restore(s: &Uart16550State, config: Config) -> (Result<(), StateError>, RecordingIrq, TestSink) {
    let irq = RecordingIrq::new();
    let sink = TestSink::new();
    let r = Uart16550::from_state(s, config, irq.clone(), NoEvents, sink.clone()).map(|_| ());
    (r, irq, sink)
}

fn assert_refused(s: &Uart16550State, config: Config, err: &StateError) {
    let (r, irq, sink) = restore(s, config);
    assert_eq!(r.as_ref().err(), Some(err), "{s:?}");
    assert_eq!(
        irq.raises() + irq.lowers(),
        0,
        "refused restore touched the interrupt"
    );
    assert_eq!(sink.write_calls(), 0, "refused restore wrote to the sink");
}

fn assert_accepted(s: &Uart16550State, config: Config) {
    assert_eq!(restore(s, config).0, Ok(()), "{s:?}");
}

/// Every value of one register field: those within `valid` restore, all
/// others are refused as reserved bits of `field`.
fn sweep(field: &'static str, valid: u8, set: fn(&mut Uart16550State, u8)) {
    for value in 0..=u8::MAX {
        let mut s = Uart16550State::default();
        set(&mut s, value);
        if value & !valid == 0 {
            assert_accepted(&s, Config::default());
        } else {
            assert_refused(
                &s,
                Config::default(),
                &StateError::ReservedBits { field, value },
            );
        }
    }
}

#[test]
fn test_corrupt_state_future_and_zero_versions_are_refused() {
    for found in [0, 2, 3, u32::MAX] {
        let s = Uart16550State {
            version: found,
            ..fifo_state()
        };
        assert_refused(&s, Config::default(), &StateError::Version { found });
    }
}

#[test]
fn test_corrupt_state_version_is_checked_before_fields() {
    let s = Uart16550State {
        version: 2,
        ier: 0xFF,
        rx_fifo: vec![0; 5000],
        ..fifo_state()
    };
    assert_refused(&s, Config::default(), &StateError::Version { found: 2 });
}

#[test]
fn test_corrupt_state_ier_every_value() {
    sweep("ier", IER_BITS, |s, v| s.ier = v);
}

#[test]
fn test_corrupt_state_fcr_every_value() {
    sweep("fcr", FCR_STORED_BITS, |s, v| s.fcr = v);
}

#[test]
fn test_corrupt_state_mcr_every_value() {
    sweep("mcr", MCR_BITS, |s, v| s.mcr = v);
}

#[test]
fn test_corrupt_state_lsr_errors_every_value() {
    sweep("lsr_errors", LSR_ERROR_BITS, |s, v| s.lsr_errors = v);
}

#[test]
fn test_corrupt_state_modem_lines_every_value() {
    sweep("modem_lines", MSR_INPUT_BITS, |s, v| s.modem_lines = v);
}

#[test]
fn test_corrupt_state_msr_deltas_every_value() {
    sweep("msr_deltas", MSR_DELTA_BITS, |s, v| s.msr_deltas = v);
}

#[test]
fn test_corrupt_state_free_registers_take_every_value() {
    // DLL, DLM, LCR and SCR are full 8-bit registers: nothing to refuse.
    for v in 0..=u8::MAX {
        let s = Uart16550State {
            dll: v,
            dlm: v,
            lcr: v,
            scr: v,
            ..fifo_state()
        };
        assert_accepted(&s, Config::default());
    }
}

#[test]
fn test_corrupt_state_fifo_one_past_each_depth_is_refused() {
    for depth in [16, 64, 4096] {
        let config = Config::default().with_fifo_size(depth).unwrap();
        for field in ["rx_fifo", "tx_fifo"] {
            let mut s = fifo_state();
            let full = vec![0x41; depth];
            if field == "rx_fifo" {
                s.rx_fifo = full;
            } else {
                s.tx_fifo = full;
            }
            assert_accepted(&s, config);
            if field == "rx_fifo" {
                s.rx_fifo.push(0x42);
            } else {
                s.tx_fifo.push(0x42);
            }
            let err = StateError::FifoOverflow {
                field,
                len: depth + 1,
                capacity: depth,
            };
            assert_refused(&s, config, &err);
        }
    }
}

#[test]
fn test_corrupt_state_fifo_with_fifos_disabled_holds_one_byte() {
    let s = Uart16550State {
        rx_fifo: vec![1],
        tx_fifo: vec![2],
        ..Uart16550State::default()
    };
    assert_accepted(&s, Config::default());
    let s = Uart16550State {
        tx_fifo: vec![1, 2],
        ..Uart16550State::default()
    };
    let err = StateError::FifoOverflow {
        field: "tx_fifo",
        len: 2,
        capacity: 1,
    };
    assert_refused(&s, Config::default(), &err);
}

#[test]
fn test_corrupt_state_oversized_buffers_are_refused() {
    let s = Uart16550State {
        rx_fifo: vec![0; 1 << 20],
        ..fifo_state()
    };
    let err = StateError::FifoOverflow {
        field: "rx_fifo",
        len: 1 << 20,
        capacity: 64,
    };
    assert_refused(&s, Config::default(), &err);
}

#[test]
fn test_corrupt_state_break_indices_out_of_range_or_order_are_refused() {
    // A break at index 0 is the head (its BI is in lsr_errors), so valid
    // indices are 1..rx_len, strictly increasing.
    let rx_len = 4;
    for breaks in [
        vec![0],
        vec![4],
        vec![u32::MAX],
        vec![2, 2],
        vec![3, 1],
        vec![1, 2, 3, 3],
    ] {
        let s = Uart16550State {
            rx_fifo: vec![0; rx_len],
            rx_breaks: breaks,
            ..fifo_state()
        };
        assert_refused(&s, Config::default(), &StateError::BreakIndex { rx_len });
    }
    let s = Uart16550State {
        rx_fifo: vec![0; rx_len],
        rx_breaks: vec![1, 2, 3],
        ..fifo_state()
    };
    assert_accepted(&s, Config::default());
}

#[test]
fn test_corrupt_state_oversized_break_list_is_refused() {
    let s = Uart16550State {
        rx_fifo: vec![0; 8],
        rx_breaks: (1..100_000).collect(),
        ..fifo_state()
    };
    assert_refused(&s, Config::default(), &StateError::BreakIndex { rx_len: 8 });
}

#[test]
fn test_corrupt_state_thri_pending_with_tx_bytes_is_refused() {
    let s = Uart16550State {
        thri_pending: true,
        tx_fifo: vec![1, 2, 3],
        ..fifo_state()
    };
    assert_refused(&s, Config::default(), &StateError::ThriWithTxData(3));
}

#[cfg(feature = "serde")]
mod json {
    use super::*;

    fn busy() -> serde_json::Value {
        let s = Uart16550State {
            ier: 0x05,
            rx_fifo: b"abc".to_vec(),
            rx_breaks: vec![2],
            tx_fifo: b"xy".to_vec(),
            ..fifo_state()
        };
        serde_json::to_value(s).unwrap()
    }

    #[test]
    fn test_corrupt_state_every_truncation_is_a_parse_error() {
        let text = busy().to_string();
        for end in 0..text.len() {
            let err = serde_json::from_str::<Uart16550State>(&text[..end]).unwrap_err();
            assert!(err.is_eof() || err.is_syntax(), "prefix {end}: {err}");
        }
    }

    #[test]
    fn test_corrupt_state_out_of_range_numbers_are_type_errors() {
        for (field, value) in [
            ("ier", serde_json::json!(256)),
            ("lcr", serde_json::json!(-1)),
            ("version", serde_json::json!(1u64 << 32)),
            ("rx_fifo", serde_json::json!([1, 2, 256])),
            ("rx_breaks", serde_json::json!([-1])),
            ("thri_pending", serde_json::json!(1)),
            ("tx_fifo", serde_json::json!("xy")),
        ] {
            let mut v = busy();
            v[field] = value.clone();
            let err = serde_json::from_value::<Uart16550State>(v).unwrap_err();
            assert!(err.is_data(), "{field}={value}: {err}");
        }
    }

    #[test]
    fn test_corrupt_state_unknown_budget_action_is_refused() {
        let mut v = busy();
        v["output_budget"] = serde_json::json!({"bytes": 5, "when_exhausted": "Explode"});
        let err = serde_json::from_value::<Uart16550State>(v).unwrap_err();
        assert!(err.to_string().contains("Explode"), "{err}");
    }

    #[test]
    fn test_corrupt_state_missing_fields_are_named() {
        for field in [
            "version",
            "ier",
            "fcr",
            "rx_fifo",
            "rx_breaks",
            "tx_fifo",
            "thri_pending",
            // Regression: a missing Option field was taken as `None`, so an
            // edited snapshot could silently drop the guest's output budget.
            "output_budget",
        ] {
            let mut v = busy();
            v.as_object_mut().unwrap().remove(field);
            let err = serde_json::from_value::<Uart16550State>(v).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
    }
}
