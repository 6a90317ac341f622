//! i8042 PS/2 controller and AT keyboard emulation for VMMs: Linux probe, scan codes, CPU reset
//!
//! (Work in progress.)
#![forbid(unsafe_code)]
