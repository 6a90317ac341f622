//! Fuzz bytes → a snapshot (JSON, or fields taken straight from the bytes)
//! → `from_state`; an accepted state is then driven like uart_ops.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| superio_fuzz::uart::run_state(data));
