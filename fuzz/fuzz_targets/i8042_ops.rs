//! Fuzz bytes → an interleaving of guest accesses and host calls on the
//! i8042, with the invariants checked after every step (see src/i8042.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| superio_fuzz::i8042::run_ops(data));
