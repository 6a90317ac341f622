//! Runs one guest access pattern against this crate or vm-superio 0.8.2, for
//! counting instructions per guest byte under `valgrind --tool=cachegrind`
//! (deterministic, unlike wall-clock benches on a shared machine):
//!
//! ```text
//! cargo build --release -p superio-uart16550 --example host_cost
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/host_cost superio tx 65536
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/host_cost superio tx 131072
//! ```
//!
//! Patterns: `tx` is Linux's interrupt-driven transmit (IIR, LSR, MSR, then
//! 16 THR writes per load); `rx` is the host enqueuing 64 bytes and Linux's
//! `rx_chars` reading LSR + RBR per byte; `tx1` is Linux's polled console
//! (`serial8250_console_write` with IER cleared: LSR until THRE, then one THR
//! write per byte); `lsr` and `iir` are one read of that register per "byte"
//! on an idle port with Linux's RX interrupts enabled.
//!
//! Per byte (or per access): `(I refs at 2N - I refs at N) / N`.

use std::hint::black_box;
use std::io;

struct Nop;
impl superio_core::Trigger for Nop {
    type E = ();
    fn trigger(&self) -> Result<(), ()> {
        Ok(())
    }
}
impl vm_superio::Trigger for Nop {
    type E = ();
    fn trigger(&self) -> Result<(), ()> {
        Ok(())
    }
}

/// The register interface both devices share, for one pattern body.
trait Regs {
    fn rd(&mut self, reg: u8) -> u8;
    fn wr(&mut self, reg: u8, value: u8);
    fn feed(&mut self, input: &[u8]) -> usize;
}

impl Regs for superio_uart16550::Uart16550<Nop, superio_uart16550::NoEvents, io::Sink> {
    fn rd(&mut self, reg: u8) -> u8 {
        self.read(reg)
    }
    fn wr(&mut self, reg: u8, value: u8) {
        self.write(reg, value);
    }
    fn feed(&mut self, input: &[u8]) -> usize {
        self.enqueue_raw_bytes(input).unwrap_or(0)
    }
}

impl Regs for vm_superio::Serial<Nop, vm_superio::serial::NoEvents, io::Sink> {
    fn rd(&mut self, reg: u8) -> u8 {
        self.read(reg)
    }
    fn wr(&mut self, reg: u8, value: u8) {
        let _ = self.write(reg, value);
    }
    fn feed(&mut self, input: &[u8]) -> usize {
        self.enqueue_raw_bytes(input).unwrap_or(0)
    }
}

fn run(u: &mut dyn Regs, pattern: &str, bytes: usize) {
    u.wr(2, 0x87);
    u.wr(4, 0x0B);
    match pattern {
        "tx" => {
            u.wr(1, 0x07);
            for _ in 0..bytes / 16 {
                black_box(u.rd(2));
                black_box(u.rd(5));
                black_box(u.rd(6));
                for i in 0..16u8 {
                    u.wr(0, i);
                }
            }
        }
        "rx" => {
            u.wr(1, 0x05);
            let input = [b'x'; 64];
            for _ in 0..bytes / 64 {
                u.feed(&input);
                black_box(u.rd(2));
                while u.rd(5) & 1 != 0 {
                    black_box(u.rd(0));
                }
            }
        }
        "tx1" => {
            u.wr(1, 0x00);
            let mut byte = 0u8;
            for _ in 0..bytes {
                while u.rd(5) & 0x20 == 0 {}
                u.wr(0, byte);
                byte = byte.wrapping_add(1);
            }
        }
        "lsr" | "iir" => {
            u.wr(1, 0x05);
            let reg = if pattern == "lsr" { 5 } else { 2 };
            for _ in 0..bytes {
                black_box(u.rd(reg));
            }
        }
        other => eprintln!("unknown pattern {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("superio", String::as_str);
    let pattern = args.get(2).map_or("tx", String::as_str);
    let bytes = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(65536);
    match which {
        "vm-superio" => run(
            &mut vm_superio::Serial::new(Nop, io::sink()),
            pattern,
            bytes,
        ),
        _ => run(
            &mut superio_uart16550::Uart16550::new(Nop, io::sink()),
            pattern,
            bytes,
        ),
    }
}
