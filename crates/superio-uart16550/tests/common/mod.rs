//! A model of what Linux 6.1's 8250 driver does to the registers
//! (CONFORMANCE.md §1.3–§1.8), written against `ByteRegisters` so it drives
//! the UART exactly as a guest would. Register numbers and values are written
//! out as Linux has them (serial_reg.h), not taken from the crate.
#![allow(dead_code, unreachable_pub, clippy::doc_markdown)]

use std::collections::VecDeque;
use std::sync::Arc;

use superio_core::test_utils::{RecordingIrq, TestSink};
use superio_core::ByteRegisters;
use superio_uart16550::{Config, SerialMetrics, Uart16550};

pub type TestUart = Uart16550<RecordingIrq, Arc<SerialMetrics>, TestSink>;

/// A UART with recording sinks; returns handles to all of them.
pub fn uart_with(config: Config) -> (TestUart, RecordingIrq, TestSink, Arc<SerialMetrics>) {
    let irq = RecordingIrq::new();
    let sink = TestSink::new();
    let metrics = Arc::new(SerialMetrics::default());
    let uart = Uart16550::with_config(config, irq.clone(), Arc::clone(&metrics), sink.clone());
    (uart, irq, sink, metrics)
}

pub fn uart() -> (TestUart, RecordingIrq, TestSink, Arc<SerialMetrics>) {
    uart_with(Config::default())
}

// serial_reg.h offsets.
pub const RX: u8 = 0;
pub const TX: u8 = 0;
pub const DLL: u8 = 0;
pub const DLM: u8 = 1;
pub const IER: u8 = 1;
pub const IIR: u8 = 2;
pub const FCR: u8 = 2;
pub const LCR: u8 = 3;
pub const MCR: u8 = 4;
pub const LSR: u8 = 5;
pub const MSR: u8 = 6;
pub const SCR: u8 = 7;

/// What `autoconfig()` concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortType {
    Unknown,
    P8250,
    P16450,
    P16550,
    P16550A,
    U6_16550A,
    /// One of the variant chips (ST16650, EFR, NatSemi, 16750, XScale).
    Variant(&'static str),
}

/// `autoconfig()`, 8250_port.c:1194, steps 1–8. `skip_test` is
/// `UPF_SKIP_TEST` (set for ttyS0–2), `variants` is
/// `CONFIG_SERIAL_8250_16550A_VARIANTS`.
pub fn autoconfig<D: ByteRegisters>(p: &mut D, skip_test: bool, variants: bool) -> PortType {
    // 1. IER test.
    let scratch = p.read_register(IER);
    p.write_register(IER, 0);
    let a = p.read_register(IER) & 0x0F;
    p.write_register(IER, 0x0F);
    let b = p.read_register(IER) & 0x0F;
    p.write_register(IER, scratch);
    if a != 0 || b != 0x0F {
        return PortType::Unknown;
    }
    // 2.
    let save_mcr = p.read_register(MCR);
    let save_lcr = p.read_register(LCR);
    // 3. Loopback test.
    if !skip_test {
        p.write_register(MCR, 0x10 | 0x0A);
        let st = p.read_register(MSR) & 0xF0;
        p.write_register(MCR, save_mcr);
        if st != 0x90 {
            return PortType::Unknown;
        }
    }
    // 4. EFR init, FIFO test.
    p.write_register(LCR, 0xBF);
    p.write_register(2, 0);
    p.write_register(LCR, 0);
    p.write_register(FCR, 0x01);
    let iir = p.read_register(IIR) >> 6;
    let ty = match iir {
        0 => {
            p.write_register(SCR, 0xA5);
            let s1 = p.read_register(SCR);
            p.write_register(SCR, 0x5A);
            let s2 = p.read_register(SCR);
            if s1 == 0xA5 && s2 == 0x5A {
                PortType::P16450
            } else {
                PortType::P8250
            }
        }
        1 => PortType::Unknown,
        2 => PortType::P16550,
        _ => autoconfig_16550a(p, variants),
    };
    // 7.
    p.write_register(LCR, save_lcr);
    // 8. Reset.
    p.write_register(MCR, save_mcr);
    for fcr in [0x01, 0x07, 0x00] {
        p.write_register(FCR, fcr);
    }
    p.read_register(RX);
    p.write_register(IER, 0);
    ty
}

fn autoconfig_16550a<D: ByteRegisters>(p: &mut D, variants: bool) -> PortType {
    if !variants {
        return PortType::P16550A;
    }
    // a. ST16650V1 / FSL64 check.
    p.write_register(LCR, 0x80);
    if p.read_register(2) == 0 {
        return PortType::Variant("ST16650/FSL64");
    }
    // b. EFR check.
    p.write_register(LCR, 0xBF);
    if p.read_register(2) == 0 {
        return PortType::Variant("EFR");
    }
    // c. NatSemi.
    p.write_register(LCR, 0);
    let status1 = p.read_register(MCR);
    p.write_register(LCR, 0xE0);
    let mut status2 = p.read_register(2);
    if (status2 ^ status1) & 0x10 == 0 {
        p.write_register(LCR, 0);
        p.write_register(MCR, status1 ^ 0x10);
        p.write_register(LCR, 0xE0);
        status2 = p.read_register(2);
        p.write_register(LCR, 0);
        p.write_register(MCR, status1);
        if (status2 ^ status1) & 0x10 != 0 {
            return PortType::Variant("NatSemi");
        }
    }
    // d. TI16750.
    p.write_register(LCR, 0);
    p.write_register(FCR, 0x01 | 0x20);
    let s1 = p.read_register(IIR) >> 5;
    p.write_register(FCR, 0x01);
    p.write_register(LCR, 0x80);
    p.write_register(FCR, 0x01 | 0x20);
    let s2 = p.read_register(IIR) >> 5;
    p.write_register(FCR, 0x01);
    p.write_register(LCR, 0);
    if s1 == 6 && s2 == 7 {
        return PortType::Variant("16750");
    }
    // e. XScale.
    let ier = p.read_register(IER);
    p.write_register(IER, ier & !0x40);
    if p.read_register(IER) & 0x40 == 0 {
        p.write_register(IER, ier | 0x40);
        if p.read_register(IER) & 0x40 != 0 {
            p.write_register(IER, ier);
            return PortType::Variant("XScale");
        }
    }
    p.write_register(IER, ier);
    // f. size_fifo.
    if size_fifo(p) == 64 {
        PortType::U6_16550A
    } else {
        PortType::P16550A
    }
}

/// `size_fifo()`: counts the bytes a loopback burst of 256 leaves in RX.
pub fn size_fifo<D: ByteRegisters>(p: &mut D) -> usize {
    let old_lcr = p.read_register(LCR);
    p.write_register(LCR, 0);
    let old_fcr = p.read_register(IIR);
    let old_mcr = p.read_register(MCR);
    p.write_register(FCR, 0x07);
    p.write_register(MCR, 0x10);
    p.write_register(LCR, 0x80);
    let old_dl = (p.read_register(DLL), p.read_register(DLM));
    p.write_register(DLL, 1);
    p.write_register(DLM, 0);
    p.write_register(LCR, 0x03);
    for byte in 0..=255u8 {
        p.write_register(TX, byte);
    }
    let mut count = 0;
    while count < 256 && p.read_register(LSR) & 0x01 != 0 {
        p.read_register(RX);
        count += 1;
    }
    p.write_register(FCR, old_fcr);
    p.write_register(MCR, old_mcr);
    p.write_register(LCR, 0x80);
    p.write_register(DLL, old_dl.0);
    p.write_register(DLM, old_dl.1);
    p.write_register(LCR, old_lcr);
    count
}

/// What `serial8250_do_startup()` concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    pub lsr_safety_check_failed: bool,
    pub bug_thre: bool,
    pub bug_txen: bool,
}

/// `serial8250_do_startup()` for a port with an IRQ (§1.4).
pub fn startup<D: ByteRegisters>(p: &mut D) -> Startup {
    for fcr in [0x01, 0x07, 0x00] {
        p.write_register(FCR, fcr);
    }
    let lsr = p.read_register(LSR);
    p.read_register(RX);
    p.read_register(IIR);
    p.read_register(MSR);
    if lsr == 0xFF {
        return Startup {
            lsr_safety_check_failed: true,
            bug_thre: false,
            bug_txen: false,
        };
    }
    // THRE re-assert test.
    assert!(wait_for_lsr(p, 0x20, 10_000), "THRE never set");
    p.write_register(IER, 0x02);
    let iir1 = p.read_register(IIR);
    p.write_register(IER, 0);
    p.write_register(IER, 0x02);
    let iir = p.read_register(IIR);
    p.write_register(IER, 0);
    let bug_thre = iir1 & 0x01 == 0 && iir & 0x01 != 0;
    // LCR 8N1, set_mctrl(DTR|RTS) | OUT2.
    p.write_register(LCR, 0x03);
    p.write_register(MCR, 0x01 | 0x02 | 0x08);
    // TXEN test.
    p.write_register(IER, 0x02);
    let lsr = p.read_register(LSR);
    let iir = p.read_register(IIR);
    p.write_register(IER, 0);
    let bug_txen = lsr & 0x40 != 0 && iir & 0x01 != 0;
    p.read_register(LSR);
    p.read_register(RX);
    p.read_register(IIR);
    p.read_register(MSR);
    Startup {
        lsr_safety_check_failed: false,
        bug_thre,
        bug_txen,
    }
}

/// `serial8250_do_set_termios()` for 115200 8N1 with FIFOs (§1.5).
pub fn set_termios_115200<D: ByteRegisters>(p: &mut D, ier: u8) {
    p.write_register(IER, ier);
    p.write_register(LCR, 0x03 | 0x80);
    p.write_register(DLL, 1);
    p.write_register(DLM, 0);
    p.write_register(LCR, 0x03);
    p.write_register(FCR, 0x01);
    p.write_register(FCR, 0x87);
    p.write_register(MCR, 0x01 | 0x02 | 0x08);
}

/// Polls LSR until `bits` are all set; false after `limit` polls.
pub fn wait_for_lsr<D: ByteRegisters>(p: &mut D, bits: u8, limit: usize) -> bool {
    (0..limit).any(|_| p.read_register(LSR) & bits == bits)
}

/// The guest side of an interrupt-driven tty: what it has to send, what it
/// has received, and the driver's IER shadow (`up->ier`).
#[derive(Debug, Default)]
pub struct Tty {
    pub xmit: VecDeque<u8>,
    pub received: Vec<u8>,
    pub breaks: usize,
    pub ier: u8,
}

/// What one run of `serial8250_interrupt()` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsrRun {
    /// Passes through `serial8250_handle_irq` that found work.
    pub handled_passes: usize,
    /// The loop stopped at PASS_LIMIT with work possibly left.
    pub hit_pass_limit: bool,
}

pub const PASS_LIMIT: usize = 512;

/// `serial8250_interrupt()` for one port: calls `serial8250_handle_irq`
/// until a pass finds IIR=NO_INT or PASS_LIMIT passes are done.
pub fn isr<D: ByteRegisters>(p: &mut D, tty: &mut Tty) -> IsrRun {
    let mut handled_passes = 0;
    loop {
        if !handle_irq(p, tty) {
            return IsrRun {
                handled_passes,
                hit_pass_limit: false,
            };
        }
        handled_passes += 1;
        if handled_passes > PASS_LIMIT {
            return IsrRun {
                handled_passes,
                hit_pass_limit: true,
            };
        }
    }
}

/// `serial8250_default_handle_irq` + `serial8250_handle_irq` (8250_port.c:1921).
pub fn handle_irq<D: ByteRegisters>(p: &mut D, tty: &mut Tty) -> bool {
    let iir = p.read_register(IIR);
    if iir & 0x01 != 0 {
        return false;
    }
    let mut lsr = p.read_register(LSR);
    if lsr & (0x01 | 0x10) != 0 {
        // serial8250_rx_chars: up to 256 characters.
        let mut max = 256;
        loop {
            let ch = if lsr & 0x01 != 0 {
                p.read_register(RX)
            } else {
                0
            };
            if lsr & 0x10 != 0 {
                tty.breaks += 1;
            } else {
                tty.received.push(ch);
            }
            max -= 1;
            if max == 0 {
                break;
            }
            lsr = p.read_register(LSR);
            if lsr & (0x01 | 0x10) == 0 {
                break;
            }
        }
    }
    p.read_register(MSR);
    if lsr & 0x20 != 0 && tty.ier & 0x02 != 0 {
        tx_chars(p, tty);
    }
    true
}

/// `serial8250_tx_chars`: up to `tx_loadsz` = 16 bytes without looking at LSR.
fn tx_chars<D: ByteRegisters>(p: &mut D, tty: &mut Tty) {
    if tty.xmit.is_empty() {
        stop_tx(p, tty);
        return;
    }
    for _ in 0..16 {
        let Some(b) = tty.xmit.pop_front() else { break };
        p.write_register(TX, b);
        if tty.xmit.is_empty() {
            break;
        }
    }
    if tty.xmit.is_empty() {
        stop_tx(p, tty);
    }
}

fn stop_tx<D: ByteRegisters>(p: &mut D, tty: &mut Tty) {
    if tty.ier & 0x02 != 0 {
        tty.ier &= !0x02;
        p.write_register(IER, tty.ier);
    }
}

/// `__start_tx` → `serial8250_set_THRI`.
pub fn start_tx<D: ByteRegisters>(p: &mut D, tty: &mut Tty) {
    if tty.ier & 0x02 == 0 {
        tty.ier |= 0x02;
        p.write_register(IER, tty.ier);
    }
}

/// `serial8250_console_write` in FIFO mode (§1.8): returns the LSR polls it needed.
pub fn console_write<D: ByteRegisters>(p: &mut D, text: &[u8]) -> usize {
    let ier = p.read_register(IER);
    p.write_register(IER, 0);
    let mut polls = 0;
    for chunk in text.chunks(16) {
        polls += poll_lsr(p, 0x20);
        for &b in chunk {
            p.write_register(TX, b);
        }
    }
    polls += poll_lsr(p, 0x60);
    p.write_register(IER, ier);
    polls
}

fn poll_lsr<D: ByteRegisters>(p: &mut D, bits: u8) -> usize {
    for n in 1..=10_000 {
        if p.read_register(LSR) & bits == bits {
            return n;
        }
    }
    10_000
}

/// earlycon `init_port` (8250_early.c) for 115200.
pub fn earlycon_init<D: ByteRegisters>(p: &mut D) {
    p.write_register(LCR, 0x03);
    let ier = p.read_register(IER);
    p.write_register(IER, ier & 0x40);
    p.write_register(FCR, 0);
    p.write_register(MCR, 0x03);
    p.write_register(LCR, 0x83);
    p.write_register(DLL, 1);
    p.write_register(DLM, 0);
    p.write_register(LCR, 0x03);
}

/// earlycon `serial_putc`: spins until THRE|TEMT; `Err` if that took more
/// than `limit` polls (where the real one would hang).
pub fn earlycon_putc<D: ByteRegisters>(p: &mut D, c: u8, limit: usize) -> Result<(), ()> {
    p.write_register(TX, c);
    if wait_for_lsr(p, 0x60, limit) {
        Ok(())
    } else {
        Err(())
    }
}
