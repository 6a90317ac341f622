//! 16550A UART emulation for VMMs: FIFOs, level interrupts, loopback, modem lines, back-pressured output
//!
//! (Work in progress.)
#![forbid(unsafe_code)]
