//! Replays the committed seed corpora through the interpreters on stable, so
//! a change in a device crate that breaks an invariant on a Linux transcript
//! fails `cargo test` here before anyone runs the fuzzer.

use superio_fuzz::{i8042, pl031, replay_seeds, uart};

#[test]
fn test_seeds_uart_ops_hold_invariants() {
    assert!(replay_seeds("uart_ops", uart::run_ops) >= 5);
}

#[test]
fn test_seeds_uart_state_hold_invariants() {
    assert!(replay_seeds("uart_state", uart::run_state) >= 1);
}

#[test]
fn test_seeds_i8042_ops_hold_invariants() {
    assert!(replay_seeds("i8042_ops", i8042::run_ops) >= 4);
}

#[test]
fn test_seeds_i8042_state_hold_invariants() {
    assert!(replay_seeds("i8042_state", i8042::run_state) >= 1);
}

#[test]
fn test_seeds_pl031_ops_hold_invariants() {
    assert!(replay_seeds("pl031_ops", pl031::run_ops) >= 3);
}

#[test]
fn test_seeds_pl031_state_hold_invariants() {
    assert!(replay_seeds("pl031_state", pl031::run_state) >= 1);
}
