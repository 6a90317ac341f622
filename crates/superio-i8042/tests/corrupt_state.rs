//! Corrupt snapshots (issue 9): every field of `I8042State` pushed out of its
//! range (exhaustively for the byte-sized command fields), queues one byte
//! too long, arrays truncated and oversized, unknown enum variants and future
//! versions. Each must be refused with the error that names the problem, a
//! refused restore must not touch the interrupt or reset sinks, and the
//! values just inside each range must still be accepted.

use superio_core::test_utils::RecordingIrq;
use superio_i8042::{ByteSource, I8042State, Key, NoEvents, OutputByte, StateError, I8042};

/// Port offset of the status/command register 0x64 (IBM PC AT reference).
const CMD: u8 = 4;
/// The controller's output capacity the crate documents: 16 bytes (the
/// 8042's one-byte buffer plus the keyboard's 16-byte FIFO, capped).
const CAPACITY: usize = 16;
/// Controller commands followed by a data byte on port 0x60 (8042 command
/// set): 0x60-0x7F write RAM, 0xD1 output port, 0xD2/0xD3 write the
/// keyboard/aux output buffer, 0xD4 write to the aux device.
fn takes_data_byte(cmd: u8) -> bool {
    matches!(cmd, 0x60..=0x7F | 0xD1..=0xD4)
}
/// Keyboard commands followed by a parameter: 0xED LEDs, 0xF0 scan code set,
/// 0xF3 typematic rate (IBM PS/2 keyboard reference).
fn takes_parameter(cmd: u8) -> bool {
    matches!(cmd, 0xED | 0xF0 | 0xF3)
}

/// A state from a device in use: a reply and keys queued.
fn valid() -> I8042State {
    let mut dev = I8042::new(RecordingIrq::new(), RecordingIrq::new());
    dev.write(CMD, 0x20);
    dev.press(Key::A).unwrap();
    dev.state()
}

struct Sinks {
    kbd: RecordingIrq,
    reset: RecordingIrq,
}

fn restore(state: &I8042State) -> (Result<(), StateError>, Sinks) {
    let sinks = Sinks {
        kbd: RecordingIrq::new(),
        reset: RecordingIrq::new(),
    };
    let result =
        I8042::from_state(sinks.kbd.clone(), sinks.reset.clone(), NoEvents, state).map(|_| ());
    (result, sinks)
}

fn assert_refused(state: &I8042State, err: StateError) {
    let (result, sinks) = restore(state);
    assert_eq!(result, Err(err));
    assert_eq!(
        sinks.kbd.raises() + sinks.kbd.lowers(),
        0,
        "refused restore touched IRQ1"
    );
    assert_eq!(sinks.reset.raises(), 0, "refused restore pulsed reset");
}

fn assert_accepted(state: &I8042State) {
    assert_eq!(restore(state).0, Ok(()), "{state:?}");
}

#[test]
fn test_corrupt_state_future_and_zero_versions_are_refused() {
    for version in [0, 2, 7, u32::MAX] {
        let state = I8042State { version, ..valid() };
        assert_refused(
            &state,
            StateError::UnsupportedVersion {
                found: version,
                expected: 1,
            },
        );
    }
}

#[test]
fn test_corrupt_state_queue_one_past_capacity_is_refused() {
    let mut state = valid();
    state.output_buffer = None;
    state.pending_reply = None;
    state.keyboard.queue = vec![0x1C; CAPACITY + 1];
    assert_refused(
        &state,
        StateError::QueueTooLong {
            len: CAPACITY + 1,
            max: CAPACITY,
        },
    );
}

#[test]
fn test_corrupt_state_queue_counts_output_buffer_and_reply_latch() {
    let byte = OutputByte {
        value: 0x55,
        source: ByteSource::Controller,
        timeout: false,
    };
    let mut state = valid();
    state.output_buffer = Some(byte);
    state.pending_reply = Some(byte);
    state.keyboard.queue = vec![0x1C; CAPACITY - 1];
    assert_refused(
        &state,
        StateError::QueueTooLong {
            len: CAPACITY + 1,
            max: CAPACITY,
        },
    );
    state.keyboard.queue.pop();
    assert_accepted(&state);
}

#[test]
fn test_corrupt_state_oversized_queue_is_refused() {
    let mut state = valid();
    state.keyboard.queue = vec![0; 1 << 20];
    let len = (1 << 20)
        + usize::from(state.output_buffer.is_some())
        + usize::from(state.pending_reply.is_some());
    assert_refused(&state, StateError::QueueTooLong { len, max: CAPACITY });
}

#[test]
fn test_corrupt_state_awaiting_data_accepts_exactly_data_commands() {
    for cmd in 0..=u8::MAX {
        let state = I8042State {
            awaiting_data: Some(cmd),
            ..valid()
        };
        if takes_data_byte(cmd) {
            assert_accepted(&state);
        } else {
            assert_refused(&state, StateError::InvalidAwaitingCommand(cmd));
        }
    }
}

#[test]
fn test_corrupt_state_keyboard_awaiting_accepts_exactly_parameter_commands() {
    for cmd in 0..=u8::MAX {
        let mut state = valid();
        state.keyboard.awaiting = Some(cmd);
        if takes_parameter(cmd) {
            assert_accepted(&state);
        } else {
            assert_refused(&state, StateError::InvalidKeyboardCommand(cmd));
        }
    }
}

#[test]
fn test_corrupt_state_led_bits_above_caps_lock_are_refused() {
    // LED byte: bit 0 Scroll, bit 1 Num, bit 2 Caps Lock; bits 3-7 reserved.
    for leds in 0..=u8::MAX {
        let mut state = valid();
        state.keyboard.leds = leds;
        if leds <= 0x07 {
            assert_accepted(&state);
        } else {
            let typematic = state.keyboard.typematic;
            assert_refused(
                &state,
                StateError::InvalidKeyboardSetting { leds, typematic },
            );
        }
    }
}

#[test]
fn test_corrupt_state_typematic_bit7_is_refused() {
    // Typematic byte: bits 0-4 rate, 5-6 delay; bit 7 must be 0.
    for typematic in 0..=u8::MAX {
        let mut state = valid();
        state.keyboard.typematic = typematic;
        if typematic <= 0x7F {
            assert_accepted(&state);
        } else {
            let leds = state.keyboard.leds;
            assert_refused(
                &state,
                StateError::InvalidKeyboardSetting { leds, typematic },
            );
        }
    }
}

#[test]
fn test_corrupt_state_timeout_flag_only_on_aux_bytes() {
    for source in [
        ByteSource::Controller,
        ByteSource::Keyboard,
        ByteSource::Aux,
    ] {
        let byte = OutputByte {
            value: 0xFE,
            source,
            timeout: true,
        };
        for (obuf, reply) in [(Some(byte), None), (None, Some(byte))] {
            let state = I8042State {
                output_buffer: obuf,
                pending_reply: reply,
                ..valid()
            };
            if source == ByteSource::Aux {
                assert_accepted(&state);
            } else {
                assert_refused(&state, StateError::InvalidTimeoutFlag);
            }
        }
    }
}

#[test]
fn test_corrupt_state_version_is_checked_before_fields() {
    let mut state = valid();
    state.version = 2;
    state.keyboard.queue = vec![0; 40];
    state.awaiting_data = Some(0x00);
    assert_refused(
        &state,
        StateError::UnsupportedVersion {
            found: 2,
            expected: 1,
        },
    );
}

#[test]
fn test_corrupt_state_free_bytes_take_any_value() {
    // Controller RAM, the output port and the last byte read have no
    // invalid values: their extremes must restore.
    for v in [0x00, 0xFF] {
        let mut state = valid();
        state.ram = [v; 32];
        state.output_port = v;
        state.last_read = v;
        state.initial_ctr = v;
        state.keyboard.last_sent = v;
        assert_accepted(&state);
    }
}

#[cfg(feature = "serde")]
mod json {
    use super::*;

    fn json() -> serde_json::Value {
        serde_json::to_value(valid()).unwrap()
    }

    #[test]
    fn test_corrupt_state_every_truncation_is_a_parse_error() {
        let text = json().to_string();
        for end in 0..text.len() {
            let err = serde_json::from_str::<I8042State>(&text[..end]).unwrap_err();
            assert!(err.is_eof() || err.is_syntax(), "prefix {end}: {err}");
        }
    }

    /// Regression: serde accepts a missing `Option` field as `None`, so an
    /// edited snapshot without `output_buffer` silently dropped the byte the
    /// guest had not read yet. Every optional field must be present (as
    /// `null` when empty).
    #[test]
    fn test_regression_corrupt_state_missing_optional_fields_are_refused() {
        for field in ["awaiting_data", "output_buffer", "pending_reply"] {
            let mut v = json();
            v.as_object_mut().unwrap().remove(field);
            let err = serde_json::from_value::<I8042State>(v).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        let mut v = json();
        v["keyboard"].as_object_mut().unwrap().remove("awaiting");
        let err = serde_json::from_value::<I8042State>(v).unwrap_err();
        assert!(err.to_string().contains("awaiting"), "{err}");
        // Explicit nulls are still a valid, empty field.
        let mut v = json();
        v["output_buffer"] = serde_json::Value::Null;
        serde_json::from_value::<I8042State>(v).unwrap();
    }

    #[test]
    fn test_corrupt_state_ram_of_wrong_length_is_refused() {
        // The 8042 has 32 bytes of RAM (CTR + 31): 31 and 33 must not parse.
        for len in [0, 31, 33, 1000] {
            let mut v = json();
            v["ram"] = serde_json::Value::from(vec![0u8; len]);
            let err = serde_json::from_value::<I8042State>(v).unwrap_err();
            assert!(
                err.to_string().contains("32") || err.to_string().contains("length"),
                "{len}: {err}"
            );
        }
    }

    #[test]
    fn test_corrupt_state_unknown_enum_variants_are_refused() {
        let mut v = json();
        v["keyboard"]["set"] = serde_json::Value::from("Set3");
        let err = serde_json::from_value::<I8042State>(v).unwrap_err();
        assert!(err.to_string().contains("Set3"), "{err}");
        let mut v = json();
        v["output_buffer"] = serde_json::json!({"value": 1, "source": "Mouse", "timeout": false});
        let err = serde_json::from_value::<I8042State>(v).unwrap_err();
        assert!(err.to_string().contains("Mouse"), "{err}");
    }

    #[test]
    fn test_corrupt_state_out_of_range_bytes_are_type_errors() {
        for (path, value) in [
            ("output_port", serde_json::json!(256)),
            ("last_read", serde_json::json!(-1)),
            ("awaiting_data", serde_json::json!(1000)),
            ("version", serde_json::json!(4_294_967_296u64)),
        ] {
            let mut v = json();
            v[path] = value.clone();
            let err = serde_json::from_value::<I8042State>(v).unwrap_err();
            assert!(err.is_data(), "{path}={value}: {err}");
        }
        let mut v = json();
        v["keyboard"]["queue"] = serde_json::json!([1, 2, 300]);
        assert!(serde_json::from_value::<I8042State>(v).is_err());
    }

    #[test]
    fn test_corrupt_state_missing_fields_are_named() {
        for field in ["version", "ram", "keyboard", "xlate_break_pending"] {
            let mut v = json();
            v.as_object_mut().unwrap().remove(field);
            let err = serde_json::from_value::<I8042State>(v).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
    }
}
