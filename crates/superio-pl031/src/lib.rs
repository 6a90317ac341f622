//! ARM PL031 real-time clock emulation for VMMs: all registers, PrimeCell IDs, match alarm, injected clock
//!
//! (Work in progress.)
#![forbid(unsafe_code)]
