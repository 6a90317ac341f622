//! Corrupt snapshots (issue 9): a state read back from disk is untrusted.
//! Every field is pushed out of its range, the JSON is truncated, padded and
//! retyped, and versions from the future are offered; each must be refused
//! with the specific error that names the problem, and a refused restore must
//! not touch the interrupt sink. Boundary values just inside the ranges must
//! still be accepted, so the checks are not simply "refuse everything".

mod common;

use common::*;
use superio_core::test_utils::RecordingIrq;
use superio_pl031::{ManualClock, NoEvents, Pl031, Pl031State, RestorePolicy, StateError};

/// 2³² seconds in nanoseconds: one full turn of the 32-bit RTCDR counter
/// (TRM §2.1: a 32-bit up-counter of seconds).
const COUNTER_PERIOD_NS: u64 = (1 << 32) * NS;

fn valid() -> Pl031State {
    Pl031State {
        version: 1,
        counter_ns: 5 * NS + 17,
        clock_ns: T0 * NS,
        mr: 9,
        lr: 5,
        imsc: 1,
        ris: 0,
    }
}

fn restore(state: &Pl031State, irq: &RecordingIrq) -> Result<(), StateError> {
    Pl031::from_state(
        state,
        RestorePolicy::FollowClock,
        irq.clone(),
        ManualClock::new(T0 * NS),
        NoEvents,
    )
    .map(|_| ())
}

/// Restores `state`, expecting `err`, and checks the sink was never called.
fn assert_refused(state: &Pl031State, err: StateError) {
    let irq = RecordingIrq::new();
    assert_eq!(restore(state, &irq), Err(err));
    assert_eq!(
        (irq.raises(), irq.lowers()),
        (0, 0),
        "a refused restore touched the sink"
    );
}

#[test]
fn test_corrupt_state_future_versions_are_refused_as_unsupported() {
    for version in [2, 3, 0x100, u32::MAX] {
        let state = Pl031State { version, ..valid() };
        assert_refused(
            &state,
            StateError::UnsupportedVersion {
                found: version,
                supported: 1,
            },
        );
    }
}

#[test]
fn test_corrupt_state_version_zero_is_refused_as_unsupported() {
    let state = Pl031State {
        version: 0,
        ..valid()
    };
    assert_refused(
        &state,
        StateError::UnsupportedVersion {
            found: 0,
            supported: 1,
        },
    );
}

#[test]
fn test_corrupt_state_counter_at_or_past_full_turn_is_refused() {
    for counter_ns in [COUNTER_PERIOD_NS, COUNTER_PERIOD_NS + 1, u64::MAX] {
        let state = Pl031State {
            counter_ns,
            ..valid()
        };
        assert_refused(&state, StateError::CounterOutOfRange(counter_ns));
    }
}

#[test]
fn test_corrupt_state_counter_last_nanosecond_of_turn_is_accepted() {
    let state = Pl031State {
        counter_ns: COUNTER_PERIOD_NS - 1,
        ..valid()
    };
    assert_eq!(restore(&state, &RecordingIrq::new()), Ok(()));
}

#[test]
fn test_corrupt_state_imsc_reserved_bits_are_refused() {
    for imsc in [2, 3, 0x8000_0000, u32::MAX] {
        let state = Pl031State { imsc, ..valid() };
        assert_refused(
            &state,
            StateError::ReservedBits {
                register: "RTCIMSC",
                value: imsc,
            },
        );
    }
}

#[test]
fn test_corrupt_state_ris_reserved_bits_are_refused() {
    for ris in [2, 3, 0x8000_0000, u32::MAX] {
        let state = Pl031State { ris, ..valid() };
        assert_refused(
            &state,
            StateError::ReservedBits {
                register: "RTCRIS",
                value: ris,
            },
        );
    }
}

#[test]
fn test_corrupt_state_version_is_checked_before_fields() {
    // A future layout may give the fields other meanings: say "version", not
    // "corrupt field", so the operator converts rather than discards it.
    let state = Pl031State {
        version: 2,
        counter_ns: u64::MAX,
        imsc: 7,
        ris: 7,
        ..valid()
    };
    assert_refused(
        &state,
        StateError::UnsupportedVersion {
            found: 2,
            supported: 1,
        },
    );
}

#[test]
fn test_corrupt_state_full_range_registers_and_clock_are_accepted() {
    // RTCMR, RTCLR (32-bit registers, TRM Table 3.1) and the clock reading
    // have no invalid values: their extremes must restore.
    for (mr, lr, clock_ns) in [(0, 0, 0), (u32::MAX, u32::MAX, u64::MAX)] {
        let state = Pl031State {
            mr,
            lr,
            clock_ns,
            imsc: 1,
            ris: 1,
            ..valid()
        };
        let irq = RecordingIrq::new();
        assert_eq!(restore(&state, &irq), Ok(()));
        assert!(irq.level(), "RTCRIS & RTCIMSC restored raise the line");
    }
}

#[cfg(feature = "serde")]
mod json {
    use super::*;

    fn json() -> String {
        serde_json::to_string(&valid()).unwrap()
    }

    #[test]
    fn test_corrupt_state_every_truncation_is_a_parse_error() {
        let text = json();
        for end in 0..text.len() {
            let err = serde_json::from_str::<Pl031State>(&text[..end]).unwrap_err();
            assert!(err.is_eof() || err.is_syntax(), "prefix {end}: {err}");
        }
    }

    #[test]
    fn test_corrupt_state_missing_field_is_named() {
        for field in [
            "version",
            "counter_ns",
            "clock_ns",
            "mr",
            "lr",
            "imsc",
            "ris",
        ] {
            let mut v: serde_json::Value = serde_json::from_str(&json()).unwrap();
            v.as_object_mut().unwrap().remove(field);
            let err = serde_json::from_value::<Pl031State>(v).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn test_corrupt_state_oversized_numbers_are_type_errors() {
        // 2³² does not fit the 32-bit registers; 2⁶⁴ not the 64-bit fields.
        for (field, value) in [
            ("version", "4294967296"),
            ("mr", "4294967296"),
            ("lr", "-1"),
            ("imsc", "1.5"),
            ("counter_ns", "18446744073709551616"),
            ("clock_ns", "\"0\""),
        ] {
            let text = json().replacen(
                &format!("\"{field}\":{}", field_value(field)),
                &format!("\"{field}\":{value}"),
                1,
            );
            let err = serde_json::from_str::<Pl031State>(&text).unwrap_err();
            assert!(err.is_data(), "{field}={value}: {err}");
        }
    }

    fn field_value(field: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(&json()).unwrap();
        v[field].to_string()
    }

    #[test]
    fn test_corrupt_state_trailing_garbage_is_refused() {
        let text = format!("{}{}", json(), " {\"version\":1}");
        let err = serde_json::from_str::<Pl031State>(&text).unwrap_err();
        assert!(err.is_syntax(), "{err}");
    }

    #[test]
    fn test_corrupt_state_future_version_in_json_is_refused_after_parse() {
        let text = json().replacen("\"version\":1", "\"version\":2", 1);
        let state: Pl031State = serde_json::from_str(&text).unwrap();
        assert_refused(
            &state,
            StateError::UnsupportedVersion {
                found: 2,
                supported: 1,
            },
        );
    }
}
