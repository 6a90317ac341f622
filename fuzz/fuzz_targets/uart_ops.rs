//! Fuzz bytes → an interleaving of guest accesses and host calls on the
//! uart, with the invariants checked after every step (see src/uart.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| superio_fuzz::uart::run_ops(data));
