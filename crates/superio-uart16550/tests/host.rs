//! The host side: output back-pressure and coalescing, the output budget,
//! input flow control, events, reset.

mod common;

use std::io;

use common::*;
use superio_core::test_utils::IrqEvent;
use superio_uart16550::{BudgetAction, Config, InputError, OutputBudget};

/// FIFOs on, OUT2 and THRI enabled, the initial THRI consumed.
fn tx_ready(u: &mut TestUart) {
    u.write(FCR, 0x01);
    u.write(MCR, 0x08);
    u.write(IER, 0x02);
    assert_eq!(u.read(IIR), 0xC2);
}

#[test]
fn test_burst_of_16_costs_one_flush_and_one_interrupt() {
    let (mut u, irq, sink, _) = uart();
    tx_ready(&mut u);
    irq.clear();
    let flushes = sink.flushes();
    for b in 0..16u8 {
        u.write(TX, b);
    }
    assert_eq!(sink.len(), 16, "every byte is written through at once");
    assert_eq!(irq.raises(), 0);
    u.read(IIR);
    assert_eq!(sink.flushes() - flushes, 1);
    assert_eq!(
        irq.raises(),
        0,
        "the IIR read that ends the burst reports THRI and clears it"
    );
    assert_eq!(irq.redundant(), 0);
}

#[test]
fn test_end_tx_burst_raises_thri_when_guest_stops_writing() {
    let (mut u, irq, ..) = uart();
    tx_ready(&mut u);
    irq.clear();
    u.write(TX, b'a');
    u.end_tx_burst();
    assert_eq!(irq.events(), [IrqEvent::Raise]);
    assert_eq!(u.peek_iir(), 0xC2);
}

#[test]
fn test_polled_bytes_left_in_open_burst_are_flushed_by_end_tx_burst() {
    let (mut u, irq, sink, _) = uart();
    u.write(FCR, 0x01);
    u.write(MCR, 0x08);
    let flushes = sink.flushes();
    for &b in b"ok\n" {
        assert_eq!(u.read(LSR) & 0x60, 0x60);
        u.write(TX, b);
    }
    assert_eq!(u.read(LSR) & 0x60, 0x60);
    assert_eq!(sink.data(), b"ok\n");
    assert_eq!(
        sink.flushes(),
        flushes,
        "THRI is masked: the polls leave the burst open"
    );
    u.end_tx_burst();
    assert_eq!(sink.flushes() - flushes, 1);
    u.end_tx_burst();
    assert_eq!(sink.flushes() - flushes, 1, "nothing new to flush");
    assert_eq!(irq.raises(), 0);
}

#[test]
fn test_lsr_poll_with_thri_enabled_ends_burst_and_raises_thri() {
    let (mut u, irq, sink, _) = uart();
    tx_ready(&mut u);
    irq.clear();
    let flushes = sink.flushes();
    u.write(TX, b'a');
    assert_eq!(u.read(LSR) & 0x60, 0x60);
    assert_eq!(sink.flushes() - flushes, 1);
    assert_eq!(irq.events(), [IrqEvent::Raise]);
    assert_eq!(u.read(IIR), 0xC2);
    assert!(!irq.level(), "the IIR read cleared THRI");
}

#[test]
fn test_burst_longer_than_fifo_flushes_each_fifo_worth_without_interrupt() {
    let (mut u, irq, sink, _) = uart_with(Config::default().with_fifo_size(16).unwrap());
    tx_ready(&mut u);
    irq.clear();
    let flushes = sink.flushes();
    for b in 0..40u8 {
        u.write(TX, b);
    }
    assert_eq!(sink.flushes() - flushes, 2, "after bytes 16 and 32");
    assert_eq!(irq.raises(), 0);
}

#[test]
fn test_would_block_keeps_byte_clears_thre_and_withholds_thri() {
    let (mut u, irq, sink, metrics) = uart();
    tx_ready(&mut u);
    sink.set_budget(Some(0));
    u.write(TX, b'a');
    assert_eq!(u.read(LSR) & 0x60, 0x00);
    assert!(!irq.level());
    assert_eq!(u.peek_iir(), 0xC1);
    assert_eq!(u.tx_pending(), 1);
    assert_eq!(metrics.snapshot().tx_blocked, 1);
    assert_eq!(metrics.snapshot().bytes_lost, 0);
}

#[test]
fn test_drain_after_would_block_delivers_in_order_and_raises_thri() {
    let (mut u, irq, sink, metrics) = uart();
    tx_ready(&mut u);
    sink.set_budget(Some(2));
    for &b in b"hello" {
        u.write(TX, b);
    }
    u.end_tx_burst();
    assert_eq!(sink.data(), b"he");
    assert!(!irq.level());
    sink.set_budget(Some(2));
    assert_eq!(u.drain_tx(), 1, "short write: one byte still waits");
    assert!(!irq.level());
    sink.set_budget(None);
    assert_eq!(u.drain_tx(), 0);
    assert_eq!(sink.data(), b"hello");
    assert!(irq.level());
    assert_eq!(u.read(LSR) & 0x60, 0x60);
    assert_eq!(metrics.snapshot().bytes_out, 5);
    assert_eq!(metrics.snapshot().bytes_lost, 0);
}

#[test]
fn test_short_write_sink_loses_nothing() {
    let (mut u, _, sink, _) = uart();
    u.write(FCR, 0x01);
    sink.set_max_write(Some(1));
    for &b in b"abc" {
        u.write(TX, b);
    }
    assert_eq!(sink.data(), b"abc");
}

#[test]
fn test_guest_overrunning_full_tx_fifo_loses_only_excess_counted() {
    let (mut u, _, sink, metrics) = uart_with(Config::default().with_fifo_size(16).unwrap());
    u.write(FCR, 0x01);
    sink.set_budget(Some(0));
    for b in 0..20u8 {
        u.write(TX, b);
    }
    assert_eq!(u.tx_pending(), 16);
    assert_eq!(metrics.snapshot().bytes_lost, 4);
    sink.set_budget(None);
    u.drain_tx();
    assert_eq!(sink.data(), (0..16).collect::<Vec<u8>>());
}

#[test]
fn test_non_fifo_mode_holds_one_byte_when_blocked() {
    let (mut u, _, sink, metrics) = uart();
    sink.set_budget(Some(0));
    u.write(TX, b'a');
    u.write(TX, b'b');
    assert_eq!(u.tx_pending(), 1);
    assert_eq!(metrics.snapshot().bytes_lost, 1);
}

#[test]
fn test_hard_sink_error_drops_byte_counted_and_guest_continues() {
    let (mut u, _, sink, metrics) = uart();
    sink.set_error(Some(io::ErrorKind::BrokenPipe));
    u.write(TX, b'a');
    assert_eq!(
        u.read(LSR) & 0x60,
        0x60,
        "a broken sink never stalls the guest"
    );
    let m = metrics.snapshot();
    assert_eq!((m.bytes_lost, m.output_errors), (1, 1));
    sink.set_error(None);
    u.write(TX, b'b');
    assert_eq!(sink.data(), b"b");
}

#[test]
fn test_interrupted_write_is_retried() {
    let (mut u, _, sink, _) = uart();
    sink.set_error(Some(io::ErrorKind::Interrupted));
    u.write(TX, b'a');
    assert_eq!(
        u.tx_pending(),
        1,
        "persistently interrupted: treated as blocked"
    );
    sink.set_error(None);
    u.drain_tx();
    assert_eq!(sink.data(), b"a");
}

#[test]
fn test_fcr_tx_clear_discards_waiting_bytes_and_raises_thri() {
    let (mut u, irq, sink, metrics) = uart();
    tx_ready(&mut u);
    sink.set_budget(Some(0));
    u.write(TX, b'a');
    u.write(FCR, 0x05);
    assert_eq!(u.tx_pending(), 0);
    assert_eq!(metrics.snapshot().bytes_lost, 1);
    assert!(irq.level());
    assert_eq!(u.read(LSR) & 0x60, 0x60);
}

#[test]
fn test_budget_drop_policy_drops_excess_and_counts() {
    let budget = OutputBudget {
        bytes: 3,
        when_exhausted: BudgetAction::Drop,
    };
    let (mut u, _, sink, metrics) = uart_with(Config::default().with_output_budget(Some(budget)));
    for &b in b"abcdef" {
        u.write(TX, b);
    }
    assert_eq!(sink.data(), b"abc");
    assert_eq!(metrics.snapshot().bytes_lost, 3);
    assert_eq!(u.read(LSR) & 0x60, 0x60, "dropping never stalls the guest");
}

#[test]
fn test_budget_stall_policy_holds_output_until_refilled() {
    let budget = OutputBudget {
        bytes: 2,
        when_exhausted: BudgetAction::Stall,
    };
    let (mut u, _, sink, metrics) = uart_with(Config::default().with_output_budget(Some(budget)));
    u.write(FCR, 0x01);
    for &b in b"abcd" {
        u.write(TX, b);
    }
    assert_eq!(sink.data(), b"ab");
    assert_eq!(u.read(LSR) & 0x20, 0x00);
    u.add_output_budget(10);
    assert_eq!(sink.data(), b"abcd");
    assert_eq!(u.output_budget().unwrap().bytes, 8);
    assert_eq!(metrics.snapshot().bytes_lost, 0);
}

#[test]
fn test_enqueue_returns_count_bounded_by_free_space() {
    let (mut u, ..) = uart();
    u.write(FCR, 0x01);
    assert_eq!(u.enqueue_raw_bytes(&[1; 60]).unwrap(), 60);
    assert_eq!(u.fifo_capacity(), 4);
    assert_eq!(u.enqueue_raw_bytes(&[2; 10]).unwrap(), 4);
    assert_eq!(u.enqueue_raw_bytes(&[3; 10]).unwrap(), 0);
    assert_eq!(u.rx_len(), 64);
}

#[test]
fn test_enqueue_with_fifo_disabled_takes_one_byte() {
    let (mut u, ..) = uart();
    assert_eq!(u.enqueue_raw_bytes(b"ab").unwrap(), 1);
}

#[test]
fn test_enqueue_in_loopback_is_refused_with_error() {
    let (mut u, ..) = uart();
    u.write(MCR, 0x10);
    assert_eq!(u.enqueue_raw_bytes(b"x"), Err(InputError::Loopback));
    assert_eq!(u.send_break(), Err(InputError::Loopback));
    assert_eq!(u.rx_len(), 0);
}

#[test]
fn test_break_into_full_fifo_is_refused() {
    let (mut u, ..) = uart();
    u.enqueue_raw_bytes(b"x").unwrap();
    assert_eq!(u.send_break(), Err(InputError::RxFull));
}

#[test]
fn test_in_buffer_empty_fires_once_when_guest_drains_rx() {
    let (mut u, _, _, metrics) = uart();
    u.write(FCR, 0x01);
    u.enqueue_raw_bytes(b"abc").unwrap();
    u.read(RX);
    u.read(RX);
    assert_eq!(metrics.snapshot().rx_empty, 0);
    u.read(RX);
    u.read(RX);
    let m = metrics.snapshot();
    assert_eq!((m.rx_empty, m.bytes_read), (1, 3));
}

#[test]
fn test_fcr_rx_clear_frees_room_and_signals_it() {
    let (mut u, _, _, metrics) = uart();
    u.write(FCR, 0x01);
    u.enqueue_raw_bytes(b"abc").unwrap();
    u.write(FCR, 0x03);
    assert_eq!(u.rx_len(), 0);
    assert_eq!(metrics.snapshot().rx_empty, 1);
}

#[test]
fn test_rearm_sends_fresh_edge_when_serviced_line_stays_high() {
    let (mut u, irq, ..) = uart();
    u.write(FCR, 0x01);
    u.write(MCR, 0x08);
    u.write(IER, 0x01);
    u.enqueue_raw_bytes(b"a").unwrap();
    assert_eq!(irq.raises(), 1);
    u.enqueue_raw_bytes(b"b").unwrap();
    assert_eq!(
        irq.raises(),
        1,
        "not serviced yet: the first edge is still pending"
    );
    u.read(IIR);
    u.enqueue_raw_bytes(b"c").unwrap();
    assert_eq!(
        irq.events(),
        [IrqEvent::Raise, IrqEvent::Lower, IrqEvent::Raise]
    );
    assert_eq!(irq.redundant(), 0);
}

#[test]
fn test_rearm_disabled_sends_no_extra_edge() {
    let mut config = Config::default();
    config.rearm_edges = false;
    let (mut u, irq, ..) = uart_with(config);
    u.write(FCR, 0x01);
    u.write(MCR, 0x08);
    u.write(IER, 0x01);
    u.enqueue_raw_bytes(b"a").unwrap();
    u.read(IIR);
    u.enqueue_raw_bytes(b"b").unwrap();
    assert_eq!(irq.raises(), 1);
}

#[test]
fn test_failed_irq_sink_retries_on_next_access() {
    let (mut u, irq, _, metrics) = uart();
    u.write(MCR, 0x08);
    irq.fail_next(1);
    u.write(IER, 0x02);
    assert!(!irq.level());
    assert_eq!(u.irq_errors(), 1);
    assert_eq!(metrics.snapshot().interrupt_errors, 1);
    u.read(SCR);
    assert!(irq.level());
}

#[test]
fn test_modem_lines_host_api_ignores_low_bits_and_reads_back() {
    let (mut u, ..) = uart();
    u.set_modem_lines(0x3F);
    assert_eq!(u.modem_lines(), 0x30);
    assert_eq!(u.read(MSR), 0x30 | 0x08);
}

#[test]
fn test_reset_returns_power_on_registers_and_lowers_line() {
    let (mut u, irq, sink, metrics) = uart();
    u.write(FCR, 0x01);
    u.write(MCR, 0x1F);
    u.write(LCR, 0x9B);
    u.write(DLL, 0x01);
    u.write(LCR, 0x1B);
    u.write(SCR, 0x55);
    u.write(MCR, 0x08);
    u.write(IER, 0x0F);
    u.enqueue_raw_bytes(b"xyz").unwrap();
    sink.set_budget(Some(0));
    u.write(TX, b'q');
    assert!(irq.level());
    u.reset();
    assert!(!irq.level());
    let expected = [
        (IER, 0x00),
        (IIR, 0x01),
        (LCR, 0x00),
        (MCR, 0x00),
        (LSR, 0x60),
        (MSR, 0xB0),
        (SCR, 0x00),
    ];
    for (reg, value) in expected {
        assert_eq!(u.read(reg), value, "register {reg}");
    }
    u.write(LCR, 0x80);
    assert_eq!((u.read(DLL), u.read(DLM)), (0x0C, 0x00));
    assert_eq!(metrics.snapshot().bytes_lost, 1);
}

#[test]
fn test_bad_offset_read_is_ff_write_ignored() {
    let (mut u, ..) = uart();
    u.write(200, 0x12);
    assert_eq!(u.read(200), 0xFF);
    u.write(LSR, 0x00);
    u.write(MSR, 0x00);
    assert_eq!(u.read(LSR), 0x60);
    assert_eq!(u.read(MSR), 0xB0);
}
