//! Host cost per guest byte, against vm-superio 0.8.2 on the same access pattern.
//!
//! `cargo bench -p superio-uart16550`

use std::fs::File;
use std::hint::black_box;
use std::io;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// An interrupt sink that does nothing (measures the device, not the eventfd).
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

/// Linux's interrupt-driven TX: per 16-byte load, IIR, LSR, MSR, 16 × THR.
fn tx(c: &mut Criterion) {
    let mut g = c.benchmark_group("tx_4KiB_linux_isr_pattern");
    g.throughput(Throughput::Bytes(4096));
    g.bench_function("superio", |b| {
        let mut u = superio_uart16550::Uart16550::new(Nop, io::sink());
        u.write(2, 0x87);
        u.write(4, 0x0B);
        u.write(1, 0x07);
        b.iter(|| {
            for _ in 0..256 {
                black_box(u.read(2));
                black_box(u.read(5));
                black_box(u.read(6));
                for i in 0..16u8 {
                    u.write(0, i);
                }
            }
        });
    });
    g.bench_function("vm_superio", |b| {
        let mut u = vm_superio::Serial::new(Nop, io::sink());
        u.write(2, 0x87).unwrap();
        u.write(4, 0x0B).unwrap();
        u.write(1, 0x07).unwrap();
        b.iter(|| {
            for _ in 0..256 {
                black_box(u.read(2));
                black_box(u.read(5));
                black_box(u.read(6));
                for i in 0..16u8 {
                    let _ = u.write(0, i);
                }
            }
        });
    });
    g.finish();
}

/// Host enqueues 64 bytes; the guest reads LSR + RBR per byte (Linux `rx_chars`).
fn rx(c: &mut Criterion) {
    let input = [b'x'; 64];
    let mut g = c.benchmark_group("rx_64B_linux_rx_chars_pattern");
    g.throughput(Throughput::Bytes(64));
    g.bench_function("superio", |b| {
        let mut u = superio_uart16550::Uart16550::new(Nop, io::sink());
        u.write(2, 0x87);
        u.write(4, 0x0B);
        u.write(1, 0x05);
        b.iter(|| {
            u.enqueue_raw_bytes(black_box(&input)).unwrap();
            black_box(u.read(2));
            while u.read(5) & 1 != 0 {
                black_box(u.read(0));
            }
        });
    });
    g.bench_function("vm_superio", |b| {
        let mut u = vm_superio::Serial::new(Nop, io::sink());
        u.write(4, 0x0B).unwrap();
        u.write(1, 0x05).unwrap();
        b.iter(|| {
            u.enqueue_raw_bytes(black_box(&input)).unwrap();
            black_box(u.read(2));
            while u.read(5) & 1 != 0 {
                black_box(u.read(0));
            }
        });
    });
    g.finish();
}

/// Vm-superio needs a newtype for its own `Trigger` on an `EventFd`.
struct Efd(EventFd);
impl vm_superio::Trigger for Efd {
    type E = io::Error;
    fn trigger(&self) -> io::Result<()> {
        self.0.write(1)
    }
}

fn devnull() -> io::BufWriter<File> {
    io::BufWriter::new(File::create("/dev/null").unwrap())
}

/// The same TX pattern with what a VMM really wires: an irqfd-style `EventFd`
/// and a buffered file sink (so each flush is a `write(2)`), THRI enabled as
/// Linux's ISR has it while transmitting.
fn tx_real_sinks(c: &mut Criterion) {
    let mut g = c.benchmark_group("tx_4KiB_eventfd_bufwriter_devnull");
    g.throughput(Throughput::Bytes(4096));
    g.bench_function("superio", |b| {
        let irq = EventFd::new(EFD_NONBLOCK).unwrap();
        let mut u = superio_uart16550::Uart16550::new(irq.try_clone().unwrap(), devnull());
        u.write(2, 0x87);
        u.write(4, 0x0B);
        u.write(1, 0x07);
        b.iter(|| {
            for _ in 0..256 {
                black_box(u.read(2));
                black_box(u.read(5));
                black_box(u.read(6));
                for i in 0..16u8 {
                    u.write(0, i);
                }
            }
            let _ = irq.read();
        });
    });
    g.bench_function("vm_superio", |b| {
        let irq = EventFd::new(EFD_NONBLOCK).unwrap();
        let mut u = vm_superio::Serial::new(Efd(irq.try_clone().unwrap()), devnull());
        u.write(2, 0x87).unwrap();
        u.write(4, 0x0B).unwrap();
        u.write(1, 0x07).unwrap();
        b.iter(|| {
            for _ in 0..256 {
                black_box(u.read(2));
                black_box(u.read(5));
                black_box(u.read(6));
                for i in 0..16u8 {
                    let _ = u.write(0, i);
                }
            }
            let _ = irq.read();
        });
    });
    g.finish();
}

criterion_group!(benches, tx, rx, tx_real_sinks);
criterion_main!(benches);
