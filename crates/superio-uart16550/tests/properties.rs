//! Property tests: arbitrary interleavings of guest accesses and host calls.

mod common;

use common::*;
use proptest::prelude::*;
use superio_core::test_utils::{RecordingIrq, TestSink};
use superio_uart16550::{Config, NoEvents, Uart16550};

#[derive(Debug, Clone)]
enum Op {
    Read(u8),
    Write(u8, u8),
    Enqueue(Vec<u8>),
    Break,
    SetModem(u8),
    EndBurst,
    Drain,
    SinkBudget(Option<u8>),
    Reset,
}

fn op(sink_limits: bool) -> impl Strategy<Value = Op> {
    let budget = if sink_limits {
        prop_oneof![Just(None), (0u8..8).prop_map(Some)].boxed()
    } else {
        Just(None).boxed()
    };
    prop_oneof![
        8 => (0u8..8).prop_map(Op::Read),
        // Bias writes towards the interesting registers and values.
        8 => (0u8..8, any::<u8>()).prop_map(|(r, v)| Op::Write(r, v)),
        4 => any::<u8>().prop_map(|v| Op::Write(TX, v)),
        2 => prop_oneof![Just(0x08u8), Just(0x0B), Just(0x18), Just(0x00)].prop_map(|v| Op::Write(MCR, v)),
        2 => prop_oneof![Just(0x01u8), Just(0x07), Just(0x87), Just(0xC1), Just(0x00)].prop_map(|v| Op::Write(FCR, v)),
        2 => prop_oneof![Just(0x03u8), Just(0x83), Just(0x00)].prop_map(|v| Op::Write(LCR, v)),
        3 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(Op::Enqueue),
        1 => Just(Op::Break),
        1 => any::<u8>().prop_map(Op::SetModem),
        2 => Just(Op::EndBurst),
        2 => Just(Op::Drain),
        2 => budget.prop_map(Op::SinkBudget),
        1 => Just(Op::Reset),
    ]
}

struct Run {
    uart: TestUart,
    irq: RecordingIrq,
    sink: TestSink,
    metrics: std::sync::Arc<superio_uart16550::SerialMetrics>,
    /// Bytes the guest wrote to THR outside loopback, in order.
    sent: Vec<u8>,
}

impl Run {
    fn new() -> Self {
        let (uart, irq, sink, metrics) = uart();
        Self {
            uart,
            irq,
            sink,
            metrics,
            sent: Vec::new(),
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Read(r) => {
                self.uart.read(*r);
            }
            Op::Write(r, v) => {
                let s = self.uart.state();
                if *r == TX && s.lcr & 0x80 == 0 && s.mcr & 0x10 == 0 {
                    self.sent.push(*v);
                }
                self.uart.write(*r, *v);
            }
            Op::Enqueue(bytes) => {
                let _ = self.uart.enqueue_raw_bytes(bytes);
            }
            Op::Break => {
                let _ = self.uart.send_break();
            }
            Op::SetModem(v) => self.uart.set_modem_lines(*v),
            Op::EndBurst => self.uart.end_tx_burst(),
            Op::Drain => {
                self.uart.drain_tx();
            }
            Op::SinkBudget(b) => self.sink.set_budget(b.map(usize::from)),
            Op::Reset => self.uart.reset(),
        }
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let s = self.uart.state();
        let pending = self.uart.peek_iir() & 0x01 == 0;
        let out2 = s.mcr & 0x08 != 0;
        prop_assert_eq!(
            self.irq.level(),
            pending && out2,
            "U14: line == !(IIR&1) && OUT2"
        );
        prop_assert_eq!(self.irq.redundant(), 0);
        let cap = if s.fcr & 0x01 != 0 { 64 } else { 1 };
        prop_assert!(s.rx_fifo.len() <= cap && s.tx_fifo.len() <= cap);
        let lost = usize::try_from(self.metrics.snapshot().bytes_lost).unwrap();
        prop_assert_eq!(self.sent.len(), self.sink.len() + s.tx_fifo.len() + lost);
        prop_assert_ne!(self.uart.peek_iir() & 0x30, 0x30);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn test_prop_any_interleaving_keeps_line_bounds_and_accounting(
        ops in proptest::collection::vec(op(true), 1..200)
    ) {
        let mut run = Run::new();
        for op in &ops {
            run.apply(op);
            run.check_invariants()?;
        }
    }

    #[test]
    fn test_prop_accepting_sink_loses_no_byte_and_keeps_order(
        ops in proptest::collection::vec(op(false), 1..200)
    ) {
        let mut run = Run::new();
        for op in &ops {
            run.apply(op);
        }
        run.check_invariants()?;
        prop_assert_eq!(run.metrics.snapshot().bytes_lost, 0);
        prop_assert_eq!(run.sink.data(), run.sent);
    }

    #[test]
    fn test_prop_state_round_trips_through_from_state(
        ops in proptest::collection::vec(op(true), 0..120)
    ) {
        let mut run = Run::new();
        for op in &ops {
            run.apply(op);
        }
        let state = run.uart.state();
        let restored = Uart16550::from_state(
            &state,
            Config::default(),
            RecordingIrq::new(),
            NoEvents,
            TestSink::with_budget(0),
        ).unwrap();
        prop_assert_eq!(restored.state(), state);
    }

    #[test]
    fn test_prop_restore_derives_line_from_registers(
        ops in proptest::collection::vec(op(true), 0..120)
    ) {
        let mut run = Run::new();
        for op in &ops {
            run.apply(op);
        }
        let irq = RecordingIrq::new();
        let restored = Uart16550::from_state(
            &run.uart.state(),
            Config::default(),
            irq.clone(),
            NoEvents,
            TestSink::with_budget(0),
        ).unwrap();
        let s = restored.state();
        prop_assert_eq!(irq.level(), restored.peek_iir() & 0x01 == 0 && s.mcr & 0x08 != 0);
    }
}
