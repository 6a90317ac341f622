//! Fuzz bytes → an interleaving of guest accesses and host calls on the
//! pl031, with the invariants checked after every step (see src/pl031.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| superio_fuzz::pl031::run_ops(data));
