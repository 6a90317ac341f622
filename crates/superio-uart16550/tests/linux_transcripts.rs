//! Replays of Linux 6.1 8250 driver register sequences (CONFORMANCE.md
//! §1.3–§1.8) against the UART, asserting what Linux would conclude.

mod common;

use common::*;
use superio_core::test_utils::TestSink;
use superio_core::ByteRegisters;
use superio_uart16550::Config;

fn hw16() -> Config {
    Config::default().with_fifo_size(16).unwrap()
}

#[test]
fn test_u8_autoconfig_x86_finds_16550a_and_leaves_port_reset() {
    let (mut u, _, sink, _) = uart();
    u.write(LCR, 0x03);
    u.write(MCR, 0x0B);
    assert_eq!(autoconfig(&mut u, true, false), PortType::P16550A);
    assert_eq!(u.read(IER), 0x00);
    assert_eq!(u.read(IIR) & 0xC0, 0x00, "FCR ended at 0");
    assert_eq!(u.read(MCR), 0x0B, "MCR restored");
    assert_eq!(u.read(LCR), 0x03, "LCR restored");
    assert!(sink.is_empty());
}

#[test]
fn test_u8_autoconfig_with_loopback_test_ttys3_finds_16550a() {
    let (mut u, ..) = uart();
    assert_eq!(autoconfig(&mut u, false, false), PortType::P16550A);
}

#[test]
fn test_u8_autoconfig_variants_with_hw_fifo_finds_16550a() {
    let (mut u, _, sink, _) = uart_with(hw16());
    assert_eq!(autoconfig(&mut u, false, true), PortType::P16550A);
    assert_eq!(u.read(IER), 0x00);
    assert_eq!(u.read(LCR), 0x00);
    assert_eq!(u.read(MCR), 0x00);
    u.write(LCR, 0x80);
    assert_eq!((u.read(DLL), u.read(DLM)), (0x0C, 0x00), "divisor restored");
    assert!(
        sink.is_empty(),
        "size_fifo's 256 loopback bytes stay inside"
    );
}

#[test]
fn test_u8_autoconfig_variants_with_default_fifo_is_u6_16550a() {
    // Documented consequence of the 64-byte default on VARIANTS kernels.
    let (mut u, ..) = uart();
    assert_eq!(autoconfig(&mut u, false, true), PortType::U6_16550A);
}

#[test]
fn test_u15_startup_sets_neither_bug_thre_nor_bug_txen() {
    let (mut u, ..) = uart();
    autoconfig(&mut u, true, false);
    let s = startup(&mut u);
    assert_eq!(
        s,
        Startup {
            lsr_safety_check_failed: false,
            bug_thre: false,
            bug_txen: false
        }
    );
}

#[test]
fn test_u15_startup_thre_test_sees_two_interrupts() {
    let (mut u, irq, ..) = uart();
    u.write(MCR, 0x08);
    startup(&mut u);
    // THRE test raises twice (IER 0→2 twice), TXEN test once.
    assert_eq!(irq.raises(), 3);
    assert!(!irq.level());
}

#[test]
fn test_set_termios_stores_divisor_and_enables_fifo_trigger_8() {
    let (mut u, ..) = uart_with(hw16());
    startup(&mut u);
    set_termios_115200(&mut u, 0x05);
    assert_eq!(u.read(IER), 0x05);
    assert_eq!(u.read(LCR), 0x03);
    assert_eq!(u.read(MCR), 0x0B);
    assert_eq!(u.read(IIR), 0xC1);
    u.write(LCR, 0x83);
    assert_eq!((u.read(DLL), u.read(DLM)), (0x01, 0x00));
    u.write(LCR, 0x03);
    // 0x87: trigger 8 of 16.
    u.enqueue_raw_bytes(b"1234567").unwrap();
    assert_eq!(u.read(IIR), 0xCC);
    u.enqueue_raw_bytes(b"8").unwrap();
    assert_eq!(u.read(IIR), 0xC4);
}

/// Brings a port to the state Linux leaves it in after open.
fn opened(
    config: Config,
) -> (
    TestUart,
    superio_core::test_utils::RecordingIrq,
    superio_core::test_utils::TestSink,
    std::sync::Arc<superio_uart16550::SerialMetrics>,
    Tty,
) {
    let (mut u, irq, sink, metrics) = uart_with(config);
    autoconfig(&mut u, true, false);
    startup(&mut u);
    set_termios_115200(&mut u, 0x05);
    irq.clear();
    let tty = Tty {
        ier: 0x05,
        ..Tty::default()
    };
    (u, irq, sink, metrics, tty)
}

#[test]
fn test_isr_tx_2kib_delivers_all_bytes_with_no_spurious_interrupt() {
    let (mut u, irq, sink, _, mut tty) = opened(Config::default());
    let text: Vec<u8> = (0..2048u32).map(|i| b'a' + (i % 26) as u8).collect();
    tty.xmit.extend(&text);
    start_tx(&mut u, &mut tty);
    let mut seen = 0;
    let mut spurious = 0;
    let mut runs = 0;
    while irq.raises() > seen && runs < 1000 {
        seen = irq.raises();
        runs += 1;
        let run = isr(&mut u, &mut tty);
        if run.handled_passes == 0 {
            spurious += 1;
        }
        // The vCPU exits for something else; the VMM ends any open burst.
        u.end_tx_burst();
    }
    assert_eq!(sink.data(), text);
    assert_eq!(spurious, 0);
    assert_eq!(irq.raises(), 1, "one interrupt for the whole 2 KiB");
    assert!(!irq.level());
    assert_eq!(irq.redundant(), 0);
}

#[test]
fn test_isr_tx_coalesces_flush_per_16_byte_load() {
    let (mut u, irq, sink, _, mut tty) = opened(Config::default());
    tty.xmit.extend([b'x'; 64]);
    start_tx(&mut u, &mut tty);
    let flushes_before = sink.flushes();
    assert!(irq.level());
    isr(&mut u, &mut tty);
    assert_eq!(sink.len(), 64);
    // Four 16-byte loads, each ended by the next IIR read or the final IER write.
    assert_eq!(sink.flushes() - flushes_before, 4);
    assert_eq!(sink.write_calls(), 64);
}

#[test]
fn test_isr_rx_ends_and_delivers_all_bytes() {
    let (mut u, irq, _, _, mut tty) = opened(Config::default());
    assert_eq!(u.enqueue_raw_bytes(b"hello world").unwrap(), 11);
    assert!(irq.level());
    let run = isr(&mut u, &mut tty);
    assert_eq!(run.handled_passes, 1);
    assert!(!run.hit_pass_limit);
    assert_eq!(tty.received, b"hello world");
    assert!(!irq.level());
}

#[test]
fn test_isr_rx_and_tx_together_end_and_deliver_both() {
    let (mut u, _, sink, _, mut tty) = opened(Config::default());
    tty.xmit.extend(b"out".iter());
    u.enqueue_raw_bytes(b"in").unwrap();
    start_tx(&mut u, &mut tty);
    let run = isr(&mut u, &mut tty);
    assert!(!run.hit_pass_limit);
    assert_eq!(tty.received, b"in");
    assert_eq!(sink.data(), b"out");
}

#[test]
fn test_isr_break_reaches_tty_as_break() {
    let (mut u, _, _, _, mut tty) = opened(Config::default());
    u.send_break().unwrap();
    u.enqueue_raw_bytes(b"h").unwrap();
    isr(&mut u, &mut tty);
    assert_eq!(tty.breaks, 1);
    assert_eq!(tty.received, b"h", "the break character is not data");
}

#[test]
fn test_console_write_emits_text_restores_ier_and_never_waits() {
    let (mut u, irq, sink, _, _) = opened(Config::default());
    let polls = console_write(&mut u, b"[    0.000000] Linux version 6.1\n");
    assert_eq!(sink.data(), b"[    0.000000] Linux version 6.1\n");
    // One THRE poll per 16-byte chunk (3) plus one BOTH_EMPTY poll.
    assert_eq!(polls, 4);
    assert_eq!(u.read(IER), 0x05);
    assert!(!irq.level());
}

#[test]
fn test_console_write_with_thri_enabled_reraises_thri_after_restore() {
    let (mut u, irq, _, _, _) = opened(Config::default());
    u.write(IER, 0x07);
    u.read(IIR);
    irq.clear();
    console_write(&mut u, b"x");
    assert_eq!(u.read(IER), 0x07);
    assert_eq!(irq.raises(), 1);
    assert_eq!(u.read(IIR), 0xC2);
}

#[test]
fn test_earlycon_putc_sees_thre_temt_immediately() {
    let (mut u, _, sink, _) = uart();
    earlycon_init(&mut u);
    for &c in b"earlycon\n" {
        assert_eq!(earlycon_putc(&mut u, c, 1), Ok(()));
    }
    assert_eq!(sink.data(), b"earlycon\n");
    // IER masks THRI, so the LSR polls leave the burst open; with the FIFOs
    // off a FIFO's worth is one byte, so each later byte flushes the one
    // before it, and the VMM's end_tx_burst flushes the last.
    assert_eq!(sink.flushes(), 8);
    u.end_tx_burst();
    assert_eq!(sink.flushes(), 9);
}

#[test]
fn test_earlycon_waits_while_sink_blocked_then_resumes_after_drain() {
    let (mut u, _, sink, _) = uart();
    earlycon_init(&mut u);
    sink.set_budget(Some(0));
    assert_eq!(earlycon_putc(&mut u, b'a', 100), Err(()), "would spin");
    sink.set_budget(None);
    assert_eq!(u.drain_tx(), 0);
    assert!(wait_for_lsr(&mut u, 0x60, 1));
    assert_eq!(sink.data(), b"a");
}

/// How the simulated VMM feeds input.
#[derive(Debug, Clone, Copy)]
enum Feed {
    /// Refill after the guest access that fired `in_buffer_empty`.
    OnEmptyEvent,
    /// Top the FIFO up after every guest access (the FIFO never runs dry).
    Eager,
    /// Offer input every `n` guest accesses (a timer).
    Timer(usize),
}

/// The VMM's view: the UART plus host input waiting to go in, fed per `Feed`
/// around every guest access.
struct Vmm {
    uart: TestUart,
    metrics: std::sync::Arc<superio_uart16550::SerialMetrics>,
    pending: std::collections::VecDeque<u8>,
    feed: Feed,
    accesses: usize,
    empties_seen: u64,
}

impl Vmm {
    fn offer(&mut self) {
        let (a, _) = self.pending.as_slices();
        let n = self.uart.enqueue_raw_bytes(a).unwrap();
        self.pending.drain(..n);
    }

    fn after_access(&mut self) {
        self.accesses += 1;
        if self.pending.is_empty() {
            return;
        }
        match self.feed {
            Feed::OnEmptyEvent => {
                let empties = self.metrics.snapshot().rx_empty;
                if empties > self.empties_seen {
                    self.empties_seen = empties;
                    self.offer();
                }
            }
            Feed::Eager => self.offer(),
            Feed::Timer(n) => {
                if self.accesses % n == 0 {
                    self.offer();
                }
            }
        }
    }
}

impl ByteRegisters for Vmm {
    const REGISTER_COUNT: u8 = 8;
    fn read_register(&mut self, reg: u8) -> u8 {
        let v = self.uart.read(reg);
        self.after_access();
        v
    }
    fn write_register(&mut self, reg: u8, value: u8) {
        self.uart.write(reg, value);
        self.after_access();
    }
}

/// What the guest got.
struct Received {
    bytes: Vec<u8>,
    /// ISR runs that stopped at `PASS_LIMIT`.
    pass_limit_hits: usize,
    /// ISR runs that found nothing to do (unhandled interrupts).
    spurious: usize,
}

/// Pushes `total` bytes at a Linux guest on an edge-triggered line, until
/// the guest has them all or input stopped.
fn receive_all(feed: Feed, total: usize, rearm: bool) -> Received {
    let mut config = Config::default();
    config.rearm_edges = rearm;
    let (uart, irq, _, metrics, mut tty) = opened(config);
    let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    let mut vmm = Vmm {
        uart,
        metrics,
        pending: data.iter().copied().collect(),
        feed,
        accesses: 0,
        empties_seen: 0,
    };
    vmm.offer();
    let mut seen = 0;
    let mut pass_limit_hits = 0;
    let mut spurious = 0;
    let mut idle_ticks = 0;
    while tty.received.len() < total && idle_ticks < 100 {
        if irq.raises() > seen {
            // The edge-triggered controller latched at least one edge.
            seen = irq.raises();
            idle_ticks = 0;
            let run = isr(&mut vmm, &mut tty);
            if run.hit_pass_limit {
                pass_limit_hits += 1;
            }
            if run.handled_passes == 0 {
                spurious += 1;
            }
        } else {
            // Guest idle: the host's timer or event loop offers input again.
            idle_ticks += 1;
            if !vmm.pending.is_empty() {
                vmm.offer();
            }
        }
    }
    assert_eq!(
        &tty.received[..],
        &data[..tty.received.len()],
        "bytes in order"
    );
    Received {
        bytes: tty.received,
        pass_limit_hits,
        spurious,
    }
}

#[test]
fn test_rx_256kib_on_edge_line_refill_on_empty_event_never_stalls() {
    let got = receive_all(Feed::OnEmptyEvent, 256 * 1024, true);
    assert_eq!(got.bytes.len(), 256 * 1024);
    assert_eq!(got.spurious, 0);
}

#[test]
fn test_rx_256kib_on_edge_line_timer_feed_never_stalls() {
    let got = receive_all(Feed::Timer(7), 256 * 1024, true);
    assert_eq!(got.bytes.len(), 256 * 1024);
    assert_eq!(got.spurious, 0);
}

#[test]
fn test_rx_256kib_on_edge_line_eager_feed_survives_pass_limit() {
    let got = receive_all(Feed::Eager, 256 * 1024, true);
    assert_eq!(got.bytes.len(), 256 * 1024);
    assert!(
        got.pass_limit_hits > 0,
        "the scenario must reach PASS_LIMIT to mean anything"
    );
    assert_eq!(got.spurious, 0, "re-armed edges always find data");
}

#[test]
fn test_rx_eager_feed_without_rearm_stalls_at_pass_limit() {
    // The failure the re-arm prevents: Linux gives up after 512 passes with
    // the line still high, and an edge-triggered controller never sees
    // another edge.
    let got = receive_all(Feed::Eager, 256 * 1024, false);
    assert_eq!(got.pass_limit_hits, 1);
    assert!(got.bytes.len() < 256 * 1024);
}

/// `serial8250_console_write` for one line, checking what the guest sees at
/// every poll; returns the sink's flush count just before IER is restored.
fn console_line_checked(u: &mut TestUart, sink: &TestSink, line: &[u8]) -> u64 {
    let ier = u.read(IER);
    u.write(IER, 0);
    for &b in line {
        assert_eq!(u.read(LSR) & 0x60, 0x60, "THRE|TEMT before every byte");
        u.write(TX, b);
    }
    assert_eq!(u.read(LSR) & 0x60, 0x60, "BOTH_EMPTY at the end");
    let before_restore = sink.flushes();
    u.write(IER, ier);
    before_restore
}

#[test]
fn test_console_write_64_byte_line_flushes_once_at_ier_restore() {
    let (mut u, irq, sink, _, _) = opened(Config::default());
    let flushes = sink.flushes();
    let line: Vec<u8> = (0..64u8).map(|i| b' ' + i).collect();
    let before_restore = console_line_checked(&mut u, &sink, &line);
    assert_eq!(before_restore, flushes, "the LSR polls flush nothing");
    assert_eq!(sink.data(), line, "every byte is written through at once");
    assert_eq!(
        sink.flushes() - flushes,
        1,
        "the IER restore flushes the line"
    );
    assert_eq!(u.read(IER), 0x05);
    assert_eq!(irq.raises(), 0, "THRI stays masked by the restored IER");
}

#[test]
fn test_console_write_with_16_byte_fifo_flushes_each_fifo_worth() {
    let (mut u, _, sink, _, _) = opened(Config::default().with_fifo_size(16).unwrap());
    let flushes = sink.flushes();
    let line = [b'x'; 64];
    let before_restore = console_line_checked(&mut u, &sink, &line);
    // Bytes 17, 33 and 49 each start a new FIFO's worth; the restore ends the last.
    assert_eq!(before_restore - flushes, 3);
    assert_eq!(sink.flushes() - flushes, 4);
}
