//! Hostile guests (issue 9), without KVM: a guest streaming 1 GiB to THR
//! into a 1 KiB/s sink, with back-pressure and with the drop policy; a guest
//! ignoring THRE; interrupt storms from IER/MCR toggling; input floods; a
//! loopback flood. Time is simulated with the sink's byte budget (one
//! "second" = 1024 more bytes accepted), never with sleeping.

use std::sync::Arc;

use superio_core::test_utils::log_count;
use superio_core::test_utils::{RecordingIrq, TestSink};
use superio_uart16550::{BudgetAction, Config, OutputBudget, SerialMetrics, Uart16550};

// serial_reg.h register numbers and bits, written out as the oracle.
const THR: u8 = 0;
const RBR: u8 = 0;
const IER: u8 = 1;
const IIR: u8 = 2;
const FCR: u8 = 2;
const LCR: u8 = 3;
const MCR: u8 = 4;
const LSR: u8 = 5;
const IER_RDI: u8 = 0x01;
const IER_THRI: u8 = 0x02;
const FCR_ENABLE_FIFO: u8 = 0x01;
const LCR_WLEN8: u8 = 0x03;
const MCR_DTR_RTS_OUT2: u8 = 0x0B;
const MCR_OUT2: u8 = 0x08;
const MCR_LOOP: u8 = 0x10;
const LSR_DR: u8 = 0x01;
const LSR_OE: u8 = 0x02;
const LSR_THRE: u8 = 0x20;
/// The crate's default FIFO depth (its documented PIO default).
const FIFO: usize = 64;
/// The simulated sink's rate: 1 KiB per simulated second.
const RATE: usize = 1024;

type Dev = Uart16550<RecordingIrq, Arc<SerialMetrics>, TestSink>;

struct Rig {
    u: Dev,
    irq: RecordingIrq,
    sink: TestSink,
    metrics: Arc<SerialMetrics>,
}

fn rig(config: Config, sink: TestSink) -> Rig {
    let irq = RecordingIrq::new();
    let metrics = Arc::new(SerialMetrics::default());
    let mut u = Uart16550::with_config(config, irq.clone(), Arc::clone(&metrics), sink.clone());
    // Linux's 8250 setup: 8N1, FIFOs on, DTR/RTS/OUT2, THR-empty interrupt.
    u.write(LCR, LCR_WLEN8);
    u.write(FCR, FCR_ENABLE_FIFO);
    u.write(MCR, MCR_DTR_RTS_OUT2);
    u.write(IER, IER_THRI);
    Rig {
        u,
        irq,
        sink,
        metrics,
    }
}

/// The byte the guest writes at position `i` of its stream.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// Checks that `got` continues the guest's stream at `*next`.
fn check_stream(got: &[u8], next: &mut u64) {
    for &b in got {
        assert_eq!(b, pattern(*next), "byte {next} lost, reordered or invented");
        *next += 1;
    }
}

#[test]
fn test_hostile_1gib_to_1kib_per_s_sink_backpressure_bounded_lossless() {
    // The guest behaves like Linux's serial8250_tx_chars: whenever LSR.THRE
    // is set it loads a FIFO's worth (64 bytes) into THR, aiming for 1 GiB.
    // The sink takes 1 KiB per simulated second.
    //
    // Bound: the device's state at the end of each second is the same
    // (registers, a full 64-byte TX FIFO, THRE clear, no interrupt), so the
    // run is periodic from the first second on; 1024 seconds (1 MiB) cover
    // every phase of the 64-byte FIFO against the 1024-byte budget many
    // times, and by induction the remaining 2^20 - 1024 seconds of the 1 GiB
    // stream repeat the same cycle: memory stays at one FIFO and nothing is
    // lost. Running all 2^30 register writes would only repeat it.
    const GIB: u64 = 1 << 30;
    const SIMULATED_SECONDS: u64 = 1024;
    let mut r = rig(Config::default(), TestSink::with_budget(0));
    let mut written = 0u64;
    let mut delivered = 0u64;
    let mut end_of_second = None;
    let guest = |r: &mut Rig, written: &mut u64| {
        while *written < GIB && r.u.read(LSR) & LSR_THRE != 0 {
            for _ in 0..FIFO {
                r.u.write(THR, pattern(*written));
                *written += 1;
            }
        }
    };
    for second in 0..SIMULATED_SECONDS {
        guest(&mut r, &mut written);
        // Blocked: the guest sees THRE clear, the FIFO holds the backlog.
        assert_eq!(r.u.read(LSR) & LSR_THRE, 0, "second {second}");
        assert!(r.u.tx_pending() <= FIFO);
        let state = r.u.state();
        match &end_of_second {
            None => end_of_second = Some(state),
            Some(first) => assert_eq!(
                (
                    state.ier,
                    state.fcr,
                    state.lcr,
                    state.mcr,
                    state.tx_fifo.len(),
                    state.thri_pending
                ),
                (
                    first.ier,
                    first.fcr,
                    first.lcr,
                    first.mcr,
                    first.tx_fifo.len(),
                    first.thri_pending
                ),
                "second {second} is not in the same phase: the run is not periodic"
            ),
        }
        // A second passes: the sink takes 1 KiB; the VMM drains into it.
        r.sink.add_budget(RATE);
        r.u.drain_tx();
        check_stream(&r.sink.take(), &mut delivered);
    }
    // The guest uses the rest of the last second's budget.
    guest(&mut r, &mut written);
    check_stream(&r.sink.take(), &mut delivered);
    assert_eq!(
        r.metrics.snapshot().bytes_lost,
        0,
        "back-pressure must not lose bytes"
    );
    assert_eq!(delivered, SIMULATED_SECONDS * RATE as u64);
    assert_eq!(written, delivered + r.u.tx_pending() as u64);
    assert_eq!(r.irq.redundant(), 0);
}

#[test]
fn test_hostile_1gib_with_drop_policy_counts_every_lost_byte() {
    // Same guest and rate, but the UART's own budget with the drop policy:
    // THR never blocks (THRE stays set), the budget passes 1 KiB per second
    // and every other byte is counted as lost, exactly. Periodic per second
    // as above, so 1024 seconds stand for the 2^20 of the 1 GiB stream.
    const SIMULATED_SECONDS: u64 = 1024;
    const WRITES_PER_SECOND: u64 = 4096;
    let budget = OutputBudget {
        bytes: 0,
        when_exhausted: BudgetAction::Drop,
    };
    let mut r = rig(
        Config::default().with_output_budget(Some(budget)),
        TestSink::new(),
    );
    let mut written = 0u64;
    for second in 0..SIMULATED_SECONDS {
        r.u.add_output_budget(RATE as u64);
        for _ in 0..WRITES_PER_SECOND {
            assert_ne!(
                r.u.read(LSR) & LSR_THRE,
                0,
                "drop policy never blocks the guest"
            );
            r.u.write(THR, pattern(written));
            written += 1;
        }
        assert_eq!(r.u.tx_pending(), 0, "second {second}");
        // The bytes that got through are the first 1 KiB of each second.
        let got = r.sink.take();
        assert_eq!(got.len(), RATE);
        let first = second * WRITES_PER_SECOND;
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern(first + i as u64)));
    }
    let lost = SIMULATED_SECONDS * (WRITES_PER_SECOND - RATE as u64);
    assert_eq!(r.metrics.snapshot().bytes_lost, lost);
    assert_eq!(
        r.metrics.snapshot().bytes_out,
        SIMULATED_SECONDS * RATE as u64
    );
}

#[test]
fn test_hostile_thre_ignoring_guest_keeps_one_fifo_and_counts_its_excess() {
    // The sink is blocked and the guest writes a million bytes without ever
    // reading LSR: the first 64 wait in the FIFO, every later byte is the
    // guest's own overrun, counted; nothing else grows.
    let mut r = rig(Config::default(), TestSink::with_budget(0));
    let n = 1_000_000u64;
    for i in 0..n {
        r.u.write(THR, pattern(i));
    }
    assert_eq!(r.u.tx_pending(), FIFO);
    assert_eq!(r.metrics.snapshot().bytes_lost, n - FIFO as u64);
    r.sink.set_budget(None);
    r.u.drain_tx();
    let mut next = 0;
    check_stream(&r.sink.take(), &mut next);
    assert_eq!(
        next, FIFO as u64,
        "the first FIFO's worth is delivered in order"
    );
}

#[test]
fn test_hostile_thre_ignoring_guest_with_accepting_sink_loses_nothing() {
    let mut r = rig(Config::default(), TestSink::new());
    let n = 1_000_000u64;
    for i in 0..n {
        r.u.write(THR, pattern(i));
    }
    r.u.end_tx_burst();
    let mut next = 0;
    check_stream(&r.sink.take(), &mut next);
    assert_eq!(next, n);
    assert_eq!(r.metrics.snapshot().bytes_lost, 0);
    // One flush per FIFO's worth, not per byte.
    assert!(
        r.sink.flushes() <= n / FIFO as u64 + 1,
        "{} flushes",
        r.sink.flushes()
    );
}

#[test]
fn test_hostile_ier_thri_toggle_storm_one_sink_call_per_level_change() {
    // THR empty: enabling THRI raises (THRE pending), disabling lowers.
    let mut r = rig(Config::default(), TestSink::new());
    r.u.write(IER, 0);
    r.irq.clear();
    let toggles = 100_000u64;
    for _ in 0..toggles {
        r.u.write(IER, IER_THRI);
        r.u.write(IER, 0);
    }
    assert_eq!((r.irq.raises(), r.irq.lowers()), (toggles, toggles));
    assert_eq!(r.irq.redundant(), 0);
}

#[test]
fn test_hostile_out2_toggle_storm_one_sink_call_per_level_change() {
    // Received data pending with RDI enabled: OUT2 gates the PC's IRQ line.
    let mut r = rig(Config::default(), TestSink::new());
    r.u.write(IER, IER_RDI);
    r.u.enqueue_raw_bytes(b"x").unwrap();
    r.irq.clear();
    let toggles = 100_000u64;
    for _ in 0..toggles {
        r.u.write(MCR, 0);
        r.u.write(MCR, MCR_OUT2);
    }
    assert_eq!((r.irq.raises(), r.irq.lowers()), (toggles, toggles));
    assert_eq!(r.irq.redundant(), 0);
}

#[test]
fn test_hostile_mcr_ier_storm_without_pending_interrupt_never_calls_sink() {
    let mut r = rig(Config::default(), TestSink::new());
    r.u.write(IER, 0);
    r.irq.clear();
    for i in 0..100_000u32 {
        r.u.write(MCR, (i % 32) as u8);
        r.u.write(IER, IER_RDI);
    }
    assert_eq!(r.irq.raises() + r.irq.lowers(), 0);
}

#[test]
fn test_hostile_input_flood_without_service_raises_once() {
    // The host keeps offering input to a guest that never reads: the FIFO
    // fills once, further input is refused by count (0 accepted), and the
    // line is raised once.
    let mut r = rig(Config::default(), TestSink::new());
    r.u.write(IER, IER_RDI);
    r.irq.clear();
    let mut accepted = 0;
    for _ in 0..100_000 {
        accepted += r.u.enqueue_raw_bytes(b"flood").unwrap();
    }
    assert_eq!(accepted, FIFO);
    assert_eq!(r.u.rx_len(), FIFO);
    assert_eq!((r.irq.raises(), r.irq.lowers()), (1, 0));
}

#[test]
fn test_hostile_iir_polling_storm_costs_at_most_two_calls_per_host_event() {
    // A guest reading IIR in a loop while input trickles in: each input may
    // re-arm the edge (lower + raise) once the guest has looked at IIR, but
    // the IIR reads themselves never call the sink.
    let mut r = rig(Config::default(), TestSink::new());
    r.u.write(IER, IER_RDI);
    r.irq.clear();
    let events = 10_000u64;
    for _ in 0..events {
        r.u.enqueue_raw_bytes(b"k").unwrap();
        for _ in 0..10 {
            r.u.read(IIR);
        }
        if r.u.rx_len() == FIFO {
            while r.u.read(LSR) & LSR_DR != 0 {
                r.u.read(RBR);
            }
        }
    }
    assert!(r.irq.raises() + r.irq.lowers() <= 2 * events + 2);
    assert_eq!(r.irq.redundant(), 0);
}

#[test]
fn test_hostile_loopback_flood_overruns_are_flagged_and_bounded() {
    // In loopback, THR feeds the RX FIFO: a guest writing a million bytes
    // without reading fills it once; the rest are overruns (LSR.OE), and
    // nothing reaches the host sink.
    let mut r = rig(Config::default(), TestSink::new());
    r.u.write(MCR, MCR_LOOP);
    for i in 0..1_000_000u64 {
        r.u.write(THR, pattern(i));
    }
    assert_eq!(r.u.rx_len(), FIFO);
    assert_ne!(r.u.read(LSR) & LSR_OE, 0);
    assert!(r.sink.is_empty());
    assert_eq!(r.metrics.snapshot().rx_overruns, 1_000_000 - FIFO as u64);
}

#[test]
fn test_regression_broken_sink_write_flood_logs_only_at_powers_of_two() {
    // A hard sink error drops the byte (counted); a guest writing 100 000
    // bytes into a broken sink must not produce 100 000 log lines: one at
    // each power of two, 2^0 ..= 2^16, i.e. 17.
    let sink = TestSink::new();
    sink.set_error(Some(std::io::ErrorKind::BrokenPipe));
    let mut r = rig(Config::default(), sink);
    let before = log_count::records("superio_uart16550");
    let n = 100_000u64;
    for i in 0..n {
        r.u.write(THR, pattern(i));
    }
    assert_eq!(r.metrics.snapshot().bytes_lost, n);
    assert_eq!(r.metrics.snapshot().output_errors, n);
    assert!(
        log_count::records("superio_uart16550") - before <= 17,
        "{} log records for {n} failed writes",
        log_count::records("superio_uart16550") - before
    );
}

#[test]
fn test_regression_broken_sink_flush_flood_is_counted_and_logged_rarely() {
    // The sink takes every byte but fails every flush: the bytes are kept
    // (they reached the writer), each failure is counted, the log is not
    // flooded, and a WouldBlock flush is not a failure at all.
    let mut r = rig(Config::default(), TestSink::new());
    let before = log_count::records("superio_uart16550");
    let n = 50_000u64;
    for i in 0..n {
        r.sink.set_error(None);
        r.u.write(THR, pattern(i));
        r.sink.set_error(Some(std::io::ErrorKind::BrokenPipe));
        r.u.end_tx_burst();
    }
    for i in 0..n {
        r.sink.set_error(None);
        r.u.write(THR, pattern(n + i));
        r.sink.set_error(Some(std::io::ErrorKind::WouldBlock));
        r.u.end_tx_burst();
    }
    let mut next = 0;
    check_stream(&r.sink.take(), &mut next);
    assert_eq!(next, 2 * n);
    assert_eq!(r.metrics.snapshot().bytes_lost, 0);
    assert_eq!(r.metrics.snapshot().output_errors, n);
    assert!(
        log_count::records("superio_uart16550") - before <= 16,
        "{}",
        log_count::records("superio_uart16550") - before
    );
}

#[test]
fn test_hostile_refused_rearm_keeps_line_high_and_retries() {
    // The guest services the interrupt (reads IIR) but leaves data in the
    // FIFO; new input re-arms the edge (lower + raise). If the sink refuses
    // the lower, the line stays high and the next input tries again.
    let mut r = rig(Config::default(), TestSink::new());
    assert!(r.u.config().rearm_edges);
    r.u.write(IER, IER_RDI);
    r.u.enqueue_raw_bytes(b"a").unwrap();
    assert!(r.irq.level());
    r.u.read(IIR);
    r.irq.clear();
    r.irq.fail_next(1);
    r.u.enqueue_raw_bytes(b"b").unwrap();
    assert_eq!(r.u.irq_errors(), 1);
    assert!(r.irq.level() && r.u.irq_level());
    assert_eq!((r.irq.raises(), r.irq.lowers()), (0, 0));
    r.u.enqueue_raw_bytes(b"c").unwrap();
    assert_eq!((r.irq.lowers(), r.irq.raises()), (1, 1), "a fresh edge");
    assert!(r.u.interrupt_evt().level());
}

/// Events written against vm-superio 0.8's four methods only.
#[derive(Debug, Default)]
struct Legacy {
    out: std::sync::atomic::AtomicU64,
    lost: std::sync::atomic::AtomicU64,
}

impl superio_uart16550::SerialEvents for Legacy {
    fn out_byte(&self) {
        self.out.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn tx_lost_byte(&self) {
        self.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn test_hostile_drop_policy_reports_each_byte_to_vm_superio_style_events() {
    // An events sink that only knows vm-superio's per-byte callbacks still
    // sees every delivered and every dropped byte, one call each.
    let budget = OutputBudget {
        bytes: 1_000,
        when_exhausted: BudgetAction::Drop,
    };
    let config = Config::default().with_output_budget(Some(budget));
    let legacy = Legacy::default();
    let mut u = Uart16550::with_config(config, RecordingIrq::new(), &legacy, TestSink::new());
    u.write(FCR, FCR_ENABLE_FIFO);
    for i in 0..10_000u64 {
        u.write(THR, pattern(i));
    }
    u.end_tx_burst();
    assert_eq!(u.output_budget().map(|b| b.bytes), Some(0));
    assert_eq!(u.writer_mut().take().len(), 1_000);
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!((load(&legacy.out), load(&legacy.lost)), (1_000, 9_000));
    // Stalling instead: the bytes wait (tx_blocked, a no-op here) and none
    // is reported lost.
    u.set_output_budget(Some(OutputBudget {
        bytes: 0,
        when_exhausted: BudgetAction::Stall,
    }));
    for i in 0..10u64 {
        u.write(THR, pattern(i));
    }
    assert_eq!(u.tx_pending(), 10);
    assert_eq!(load(&legacy.lost), 9_000);
}
