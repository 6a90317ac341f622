//! 16550A host cost per guest byte, side by side with vm-superio 0.8.2's
//! `Serial` in the same process.
//!
//! `cargo bench -p superio-uart16550 --bench uart` (criterion), or
//! `scripts/bench` for every device with repeated runs, instruction and
//! syscall counts and a table.
//!
//! The access patterns are Linux's 8250 driver's:
//! - `tx_burst16`: the THRI interrupt handler (`serial8250_handle_irq`):
//!   IIR, LSR, MSR reads, then a 16-byte FIFO load of THR writes;
//! - `tx_polled`: the console (`serial8250_console_write`): IER saved and
//!   cleared, then LSR (THRE) + THR per byte, LSR (TEMT), IER restored, for
//!   64-byte lines;
//! - `rx64`: the host enqueues 64 bytes, the handler reads IIR and LSR, then
//!   RBR + LSR per byte (`serial8250_rx_chars`) and MSR;
//! - `lsr_read`, `iir_read`: single-register hot paths on an idle port.
//!
//! Every interrupt is a real non-blocking `EventFd` (an irqfd without KVM
//! behind it: the write syscall is counted, the guest injection is not).
//! Output goes to `io::sink()`, a `BufWriter<File>` on /dev/null, or a raw
//! `File` on /dev/null. Our UART defers the sink flush and the THR-empty
//! interrupt to the end of a burst, which a VMM signals with `end_tx_burst()`
//! on its next non-UART exit: the loops call it after every burst (and every
//! console line), so its cost is in our figures. vm-superio writes, flushes
//! and triggers per byte.
//!
//! Register offsets reach both devices through `black_box` (in the `Port`
//! impls, identically for both systems): a VMM's bus hands the device a
//! runtime offset (port minus base), so a constant the compiler could fold
//! into `read(LSR)` after inlining would measure a specialised read that no
//! VMM runs.
//!
//! With `SUPERIO_BENCH_COUNT=<group>|<system>` and `SUPERIO_BENCH_ITERS=<n>`
//! the binary runs one case `n` times without criterion and prints its
//! counters (interrupt raises/lowers, sink writes/flushes) as JSON, for
//! valgrind/strace; `SUPERIO_BENCH_COUNT=list` lists the cases.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{self, BufWriter, Write};
use superio_bench_support::{no_counters, run_main, Case, Counter, Counters, CountingEventFd};

use superio_uart16550::regs::{
    FCR, FCR_CLEAR_RCVR, FCR_CLEAR_XMIT, FCR_ENABLE_FIFO, FCR_TRIGGER_8, IER, IER_RDI, IER_RLSI,
    IER_THRI, IIR, LCR, LCR_WLEN8, LSR, LSR_DR, MCR, MCR_DTR, MCR_OUT2, MCR_RTS, MSR, RBR, THR,
};
use superio_uart16550::Uart16550;

/// Bytes per TX batch: 256 Linux FIFO loads of 16 bytes.
const TX_BYTES: u64 = 4096;
/// Linux's FIFO load for a 16550A (`tx_loadsz`).
const LOAD: u8 = 16;
/// Console line length for the polled pattern, and lines per batch.
const LINE: u8 = 64;
const LINES: u64 = 4;
/// Bytes per host RX chunk.
const RX_CHUNK: usize = 64;
/// Accesses per batch for the single-register cases.
const BATCH: u64 = 64;

/// An interrupt sink that does nothing: the device's own cost, without the
/// irqfd write.
struct NopIrq;

impl superio_core::Trigger for NopIrq {
    type E = ();
    fn trigger(&self) -> Result<(), ()> {
        Ok(())
    }
}

impl vm_superio::Trigger for NopIrq {
    type E = ();
    fn trigger(&self) -> Result<(), ()> {
        Ok(())
    }
}

/// An output sink wrapper counting the device's `write`/`flush` calls.
struct CountingWriter<W> {
    inner: W,
    writes: Counter,
    flushes: Counter,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.inc();
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flushes.inc();
        self.inner.flush()
    }
}

fn dev_null() -> File {
    OpenOptions::new().write(true).open("/dev/null").unwrap()
}

/// The output sinks a VMM plugs in.
#[derive(Clone, Copy)]
enum Sink {
    /// `io::sink()`: no I/O at all.
    Null,
    /// `BufWriter<File>` on /dev/null: one `write(2)` per flush.
    Buffered,
    /// A raw `File` on /dev/null: one `write(2)` per device write.
    Raw,
}

impl Sink {
    fn burst_group(self) -> &'static str {
        match self {
            Sink::Null => "uart/tx_burst16/sink",
            Sink::Buffered => "uart/tx_burst16/bufwriter",
            Sink::Raw => "uart/tx_burst16/file",
        }
    }
    fn polled_group(self) -> &'static str {
        match self {
            Sink::Null => "uart/tx_polled/sink",
            Sink::Buffered => "uart/tx_polled/bufwriter",
            Sink::Raw => "uart/tx_polled/file",
        }
    }
    fn make(self) -> Box<dyn Write> {
        match self {
            Sink::Null => Box::new(io::sink()),
            Sink::Buffered => Box::new(BufWriter::new(dev_null())),
            Sink::Raw => Box::new(dev_null()),
        }
    }
}

type Out = CountingWriter<Box<dyn Write>>;

/// A sink, its counters, and a function reporting them with the interrupt's.
fn wiring(sink: Sink) -> (CountingEventFd, Out, Counters) {
    let irq = CountingEventFd::new();
    let (raises, lowers) = irq.counters();
    let out = CountingWriter {
        inner: sink.make(),
        writes: Counter::default(),
        flushes: Counter::default(),
    };
    let (writes, flushes) = (out.writes.clone(), out.flushes.clone());
    let counters = Box::new(move || {
        vec![
            ("irq_raise", raises.get()),
            ("irq_lower", lowers.get()),
            ("sink_write", writes.get()),
            ("sink_flush", flushes.get()),
        ]
    });
    (irq, out, counters)
}

/// What Linux's 8250 driver programs before it transmits or receives: 8N1,
/// FIFOs enabled and cleared with an 8-byte RX trigger, DTR|RTS|OUT2, and
/// the interrupt enables `ier`.
const SETUP: [(u8, u8); 3] = [
    (LCR, LCR_WLEN8),
    (
        FCR,
        FCR_ENABLE_FIFO | FCR_CLEAR_RCVR | FCR_CLEAR_XMIT | FCR_TRIGGER_8,
    ),
    (MCR, MCR_DTR | MCR_RTS | MCR_OUT2),
];

/// The VMM-facing register interface of both devices, so that each pattern
/// is written once and runs identically on both. `rd`/`wr` pass the offset
/// through `black_box`, as a bus dispatch would hand it over. `end_of_exit_burst` is the
/// VMM's call on a non-UART exit: `end_tx_burst` on ours, nothing on
/// vm-superio (which has no such call and needs none).
trait Port {
    fn rd(&mut self, reg: u8) -> u8;
    fn wr(&mut self, reg: u8, value: u8);
    fn feed(&mut self, input: &[u8]) -> usize;
    fn end_of_exit_burst(&mut self);
}

impl<T: superio_core::Trigger, W: Write> Port for Uart16550<T, superio_uart16550::NoEvents, W> {
    #[inline]
    fn rd(&mut self, reg: u8) -> u8 {
        self.read(black_box(reg))
    }
    #[inline]
    fn wr(&mut self, reg: u8, value: u8) {
        self.write(black_box(reg), value);
    }
    #[inline]
    fn feed(&mut self, input: &[u8]) -> usize {
        self.enqueue_raw_bytes(input).unwrap_or(0)
    }
    #[inline]
    fn end_of_exit_burst(&mut self) {
        self.end_tx_burst();
    }
}

impl<T: vm_superio::Trigger, W: Write> Port
    for vm_superio::Serial<T, vm_superio::serial::NoEvents, W>
{
    #[inline]
    fn rd(&mut self, reg: u8) -> u8 {
        self.read(black_box(reg))
    }
    #[inline]
    fn wr(&mut self, reg: u8, value: u8) {
        let _ = self.write(black_box(reg), value);
    }
    #[inline]
    fn feed(&mut self, input: &[u8]) -> usize {
        self.enqueue_raw_bytes(input).unwrap_or(0)
    }
    #[inline]
    fn end_of_exit_burst(&mut self) {}
}

fn setup(p: &mut impl Port, ier: u8) {
    for (reg, value) in SETUP {
        p.wr(reg, value);
    }
    p.wr(IER, ier);
}

/// 256 THRI handler runs, each an IIR, LSR and MSR read and 16 THR writes.
fn tx_burst16(p: &mut impl Port) {
    for _ in 0..TX_BYTES / u64::from(LOAD) {
        black_box(p.rd(IIR));
        black_box(p.rd(LSR));
        black_box(p.rd(MSR));
        for i in 0..LOAD {
            p.wr(THR, b'a' + i);
        }
        p.end_of_exit_burst();
    }
}

/// `LINES` console lines written by polling, with interrupts disabled.
fn tx_polled(p: &mut impl Port) {
    for _ in 0..LINES {
        let ier = p.rd(IER);
        p.wr(IER, 0);
        for i in 0..LINE {
            black_box(p.rd(LSR));
            p.wr(THR, b' ' + i);
        }
        black_box(p.rd(LSR));
        p.wr(IER, ier);
        p.end_of_exit_burst();
    }
}

/// The host offers 64 bytes; the RX interrupt handler drains them.
fn rx64(p: &mut impl Port, input: &[u8; RX_CHUNK]) {
    black_box(p.feed(black_box(input)));
    black_box(p.rd(IIR));
    let mut lsr = p.rd(LSR);
    while lsr & LSR_DR != 0 {
        black_box(p.rd(RBR));
        lsr = p.rd(LSR);
    }
    black_box(p.rd(MSR));
}

fn single_reads(p: &mut impl Port, reg: u8) {
    for _ in 0..BATCH {
        black_box(p.rd(reg));
    }
}

fn tx_cases(cases: &mut Vec<Case>) {
    for sink in [Sink::Null, Sink::Buffered, Sink::Raw] {
        let group = sink.burst_group();
        let (irq, out, counters) = wiring(sink);
        let mut u = Uart16550::new(irq, out);
        setup(&mut u, IER_RDI | IER_THRI | IER_RLSI);
        cases.push(Case {
            group,
            system: "superio",
            units: TX_BYTES,
            unit: "byte",
            run: Box::new(move || tx_burst16(&mut u)),
            counters,
        });
        let (irq, out, counters) = wiring(sink);
        let mut u = vm_superio::Serial::new(irq, out);
        setup(&mut u, IER_RDI | IER_THRI | IER_RLSI);
        cases.push(Case {
            group,
            system: "vm-superio",
            units: TX_BYTES,
            unit: "byte",
            run: Box::new(move || tx_burst16(&mut u)),
            counters,
        });
    }
    for sink in [Sink::Null, Sink::Buffered, Sink::Raw] {
        let group = sink.polled_group();
        let (irq, out, counters) = wiring(sink);
        let mut u = Uart16550::new(irq, out);
        setup(&mut u, IER_RDI | IER_RLSI);
        cases.push(Case {
            group,
            system: "superio",
            units: LINES * u64::from(LINE),
            unit: "byte",
            run: Box::new(move || tx_polled(&mut u)),
            counters,
        });
        let (irq, out, counters) = wiring(sink);
        let mut u = vm_superio::Serial::new(irq, out);
        setup(&mut u, IER_RDI | IER_RLSI);
        cases.push(Case {
            group,
            system: "vm-superio",
            units: LINES * u64::from(LINE),
            unit: "byte",
            run: Box::new(move || tx_polled(&mut u)),
            counters,
        });
    }
    // The devices alone: no irqfd write, no I/O.
    let mut u = Uart16550::new(NopIrq, io::sink());
    setup(&mut u, IER_RDI | IER_THRI | IER_RLSI);
    cases.push(Case {
        group: "uart/tx_burst16/device_only",
        system: "superio",
        units: TX_BYTES,
        unit: "byte",
        run: Box::new(move || tx_burst16(&mut u)),
        counters: no_counters(),
    });
    let mut u = vm_superio::Serial::new(NopIrq, io::sink());
    setup(&mut u, IER_RDI | IER_THRI | IER_RLSI);
    cases.push(Case {
        group: "uart/tx_burst16/device_only",
        system: "vm-superio",
        units: TX_BYTES,
        unit: "byte",
        run: Box::new(move || tx_burst16(&mut u)),
        counters: no_counters(),
    });
}

fn rx_cases(cases: &mut Vec<Case>) {
    let input = [b'x'; RX_CHUNK];
    let (irq, out, counters) = wiring(Sink::Null);
    let mut u = Uart16550::new(irq, out);
    setup(&mut u, IER_RDI | IER_RLSI);
    cases.push(Case {
        group: "uart/rx64",
        system: "superio",
        units: RX_CHUNK as u64,
        unit: "byte",
        run: Box::new(move || rx64(&mut u, &input)),
        counters,
    });
    let (irq, out, counters) = wiring(Sink::Null);
    let mut u = vm_superio::Serial::new(irq, out);
    setup(&mut u, IER_RDI | IER_RLSI);
    cases.push(Case {
        group: "uart/rx64",
        system: "vm-superio",
        units: RX_CHUNK as u64,
        unit: "byte",
        run: Box::new(move || rx64(&mut u, &input)),
        counters,
    });
    let mut u = Uart16550::new(NopIrq, io::sink());
    setup(&mut u, IER_RDI | IER_RLSI);
    cases.push(Case {
        group: "uart/rx64/device_only",
        system: "superio",
        units: RX_CHUNK as u64,
        unit: "byte",
        run: Box::new(move || rx64(&mut u, &input)),
        counters: no_counters(),
    });
    let mut u = vm_superio::Serial::new(NopIrq, io::sink());
    setup(&mut u, IER_RDI | IER_RLSI);
    cases.push(Case {
        group: "uart/rx64/device_only",
        system: "vm-superio",
        units: RX_CHUNK as u64,
        unit: "byte",
        run: Box::new(move || rx64(&mut u, &input)),
        counters: no_counters(),
    });
}

/// LSR and IIR on an idle, open port (RDI|RLSI enabled, nothing pending).
fn register_cases(cases: &mut Vec<Case>) {
    for (group, reg) in [("uart/lsr_read", LSR), ("uart/iir_read", IIR)] {
        let (irq, out, counters) = wiring(Sink::Null);
        let mut u = Uart16550::new(irq, out);
        setup(&mut u, IER_RDI | IER_RLSI);
        cases.push(Case {
            group,
            system: "superio",
            units: BATCH,
            unit: "access",
            run: Box::new(move || single_reads(&mut u, reg)),
            counters,
        });
        let (irq, out, counters) = wiring(Sink::Null);
        let mut u = vm_superio::Serial::new(irq, out);
        setup(&mut u, IER_RDI | IER_RLSI);
        cases.push(Case {
            group,
            system: "vm-superio",
            units: BATCH,
            unit: "access",
            run: Box::new(move || single_reads(&mut u, reg)),
            counters,
        });
    }
}

fn main() {
    let mut cases = Vec::new();
    tx_cases(&mut cases);
    rx_cases(&mut cases);
    register_cases(&mut cases);
    run_main(cases);
}
