//! 16550A interpreter: guest accesses through `PioBytes` or `MmioBytes` (any
//! offset and width), THR bursts, host input and breaks, modem lines, sink
//! back-pressure (budgets, short writes, `WouldBlock`, `Interrupted`, hard
//! errors), the UART's own output budget (drop and stall), drains, burst
//! ends, resets, refused interrupt-sink calls and snapshot + restore.
//!
//! Invariants checked after every step:
//! - RX and TX FIFOs within their capacity (1 byte with FIFOs off);
//! - the published level equals the derived one (an interrupt pending in
//!   IIR, gated by OUT2 on a PC port), unless the sink refused a call and no
//!   update retried yet; no redundant sink call ever;
//! - byte conservation: every THR byte written outside loopback is in the
//!   sink, still in the TX FIFO, or counted lost (`tx_lost_byte`); with a
//!   sink that always accepts, nothing is ever held or lost; at the end, what
//!   reached the sink (plus the TX FIFO) is the guest's stream in order, with
//!   gaps only where losses were counted, and exactly it if none were;
//! - LSR.THRE is set exactly when the TX FIFO is empty;
//! - RBR returns the head of the RX FIFO; input is accepted up to the free
//!   space and appended in order; in loopback it is refused unchanged;
//! - a saved state survives JSON, is accepted by `from_state`, and the
//!   restored device saves the same state (once its TX FIFO is offered to
//!   the sink, whose bytes must then not be lost either).

use std::io;
use std::sync::Arc;

use superio_core::test_utils::{RecordingIrq, TestSink};
use superio_uart16550::regs::{
    FCR_ENABLE_FIFO, IIR_NO_INT, LCR_DLAB, LSR, LSR_THRE, MCR_LOOP, MCR_OUT2,
};
use superio_uart16550::{
    BudgetAction, Config, OutputBudget, SerialMetrics, Uart16550, Uart16550State, STATE_VERSION,
};

use crate::{is_subsequence, ByteBus, Cursor};

type Dev = Uart16550<RecordingIrq, Arc<SerialMetrics>, TestSink>;

const FIFO_SIZES: [usize; 4] = [16, 64, 256, 4096];

struct Harness {
    bus: ByteBus<Dev>,
    irq: RecordingIrq,
    sink: TestSink,
    events: Arc<SerialMetrics>,
    config: Config,
    /// Every THR byte the guest wrote outside loopback, in order.
    written: Vec<u8>,
    /// The sink or the UART budget ever refused or limited output.
    backpressure: bool,
    retry_pending: bool,
    /// Bytes a restored TX FIFO lost before the harness took over.
    lost_base: u64,
}

impl Harness {
    fn dev(&mut self) -> &mut Dev {
        self.bus.inner_mut()
    }

    fn lost(&self) -> u64 {
        self.events.snapshot().bytes_lost - self.lost_base
    }

    fn step(&mut self, c: &mut Cursor<'_>) {
        let errors_before = self.dev().irq_errors();
        match c.u8() % 16 {
            0..=3 => {
                let (shift, width) = self.bus.geometry();
                let (offset, len) = crate::decode_access(c, 8, shift, width);
                let value = c.u8();
                self.guest_write(offset, len, value);
            }
            4 => {
                let n = c.u8() % 80;
                let base = c.u8();
                for i in 0..n {
                    self.guest_write(0, self.bus.geometry().1, base.wrapping_add(i));
                }
            }
            5 | 6 => self.guest_read(c),
            7 => {
                let n = usize::from(c.u8() % 70);
                let input = c.bytes(n).to_vec();
                self.input(&input);
            }
            8 => {
                let before = self.dev().state();
                match self.dev().send_break() {
                    Ok(()) => assert_eq!(self.dev().rx_len(), before.rx_fifo.len() + 1),
                    Err(_) => assert_eq!(self.dev().state(), before, "refused break changed state"),
                }
            }
            9 => {
                let lines = c.u8();
                self.dev().set_modem_lines(lines);
            }
            10 => self.sink_op(c),
            11 => {
                let left = self.dev().drain_tx();
                assert_eq!(left, self.dev().tx_pending());
            }
            12 => self.dev().end_tx_burst(),
            13 => {
                self.dev().reset();
                assert_eq!(
                    (self.dev().rx_len(), self.dev().tx_pending()),
                    (0, 0),
                    "reset empties the FIFOs"
                );
            }
            14 => self.snapshot_restore(c.u8()),
            _ => match c.u8() % 4 {
                0 => self.irq.fail_next(u32::from(c.u8() % 4)),
                1 => {
                    self.backpressure = true;
                    let budget = budget(c);
                    self.dev().set_output_budget(budget);
                }
                2 => {
                    let n = u64::from(c.u8());
                    self.dev().add_output_budget(n);
                }
                _ => {
                    let before = self.dev().state();
                    let _ = self.dev().peek_iir();
                    assert_eq!(self.dev().state(), before, "peek_iir has side effects");
                }
            },
        }
        self.check(errors_before);
    }

    fn guest_write(&mut self, offset: u64, len: usize, value: u8) {
        let accepted = self.bus.accepts(offset, len);
        let before = self.dev().state();
        self.bus.write(offset, len, value);
        if !accepted {
            assert_eq!(self.dev().state(), before, "refused write changed state");
            return;
        }
        let (shift, _) = self.bus.geometry();
        let reg = offset >> shift;
        if reg == 0 && before.lcr & LCR_DLAB == 0 && before.mcr & MCR_LOOP == 0 {
            self.written.push(value);
        }
    }

    fn guest_read(&mut self, c: &mut Cursor<'_>) {
        let (shift, width) = self.bus.geometry();
        let (offset, len) = crate::decode_access(c, 8, shift, width);
        let before = self.dev().state();
        let got = self.bus.read(offset, len);
        let Some(value) = got else {
            assert_eq!(self.dev().state(), before, "refused read changed state");
            return;
        };
        let reg = offset >> shift;
        if reg == 0 && before.lcr & LCR_DLAB == 0 {
            let head = before.rx_fifo.first().copied().unwrap_or(0);
            assert_eq!(value, head, "RBR must return the head of the RX FIFO");
        }
        if reg == u64::from(LSR) {
            let empty = self.dev().tx_pending() == 0;
            assert_eq!(
                value & LSR_THRE != 0,
                empty,
                "LSR.THRE vs TX FIFO: {value:#x}"
            );
        }
    }

    fn input(&mut self, input: &[u8]) {
        let before = self.dev().state();
        match self.dev().enqueue_raw_bytes(input) {
            Ok(n) => {
                let cap = capacity(&before, &self.config);
                let free = cap.saturating_sub(before.rx_fifo.len());
                assert_eq!(
                    n,
                    free.min(input.len()),
                    "input accepted up to the free space"
                );
                let mut expect = before.rx_fifo.clone();
                expect.extend_from_slice(&input[..n]);
                assert_eq!(
                    self.dev().state().rx_fifo,
                    expect,
                    "input appended in order"
                );
            }
            Err(_) => {
                assert!(before.mcr & MCR_LOOP != 0, "input refused outside loopback");
                assert_eq!(self.dev().state(), before, "refused input changed state");
            }
        }
    }

    fn sink_op(&mut self, c: &mut Cursor<'_>) {
        let arg = c.u8();
        match c.u8() % 8 {
            0 => {
                self.backpressure = true;
                self.sink.set_budget(Some(usize::from(arg)));
            }
            1 => self.sink.set_budget(None),
            2 => self.sink.add_budget(usize::from(arg)),
            3 => {
                self.backpressure = true;
                self.sink.set_max_write(Some(usize::from(arg % 4)));
            }
            4 => self.sink.set_max_write(None),
            5 => {
                self.backpressure = true;
                let kind = [
                    io::ErrorKind::WouldBlock,
                    io::ErrorKind::Interrupted,
                    io::ErrorKind::BrokenPipe,
                ][usize::from(arg % 3)];
                self.sink.set_error(Some(kind));
            }
            _ => self.sink.set_error(None),
        }
    }

    fn snapshot_restore(&mut self, mode: u8) {
        let saved = self.dev().state();
        let json = serde_json::to_vec(&saved).unwrap();
        let back: Uart16550State = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, saved, "JSON round trip");
        let irq = RecordingIrq::new();
        let dev = Dev::from_state(
            &back,
            self.config,
            irq.clone(),
            self.events.clone(),
            self.sink.clone(),
        )
        .unwrap_or_else(|e| panic!("own state refused: {e}: {saved:?}"));
        self.bus = ByteBus::new(dev, mode);
        self.irq = irq;
        self.retry_pending = false;
        let again = self.dev().state();
        if saved.tx_fifo.is_empty() {
            assert_eq!(again, saved, "restored device saves the same state");
        } else {
            // The TX FIFO was offered to the sink: compare the rest.
            let strip = |s: &Uart16550State| Uart16550State {
                tx_fifo: Vec::new(),
                thri_pending: false,
                output_budget: None,
                ..s.clone()
            };
            assert_eq!(
                strip(&again),
                strip(&saved),
                "restored registers and RX FIFO"
            );
        }
    }

    fn check(&mut self, errors_before: u64) {
        assert_eq!(self.irq.redundant(), 0, "redundant interrupt sink call");
        let s = self.dev().state();
        let cap = capacity(&s, &self.config);
        assert!(
            s.rx_fifo.len() <= cap,
            "RX FIFO over capacity: {} > {cap}",
            s.rx_fifo.len()
        );
        assert!(
            s.tx_fifo.len() <= cap,
            "TX FIFO over capacity: {} > {cap}",
            s.tx_fifo.len()
        );
        assert_eq!(s.tx_fifo.len(), self.dev().tx_pending());
        let delivered = self.sink.len() as u64;
        let held = s.tx_fifo.len() as u64;
        let lost = self.lost();
        assert_eq!(
            delivered + held + lost,
            self.written.len() as u64,
            "byte conservation: {delivered} delivered + {held} held + {lost} lost"
        );
        if !self.backpressure {
            assert_eq!(
                (held, lost),
                (0, 0),
                "an accepting sink must get every byte at once"
            );
        }
        if self.dev().irq_errors() != errors_before {
            self.retry_pending = true;
            return;
        }
        if self.retry_pending {
            let errors = self.dev().irq_errors();
            let lines = self.dev().modem_lines();
            self.dev().set_modem_lines(lines); // an update without side effects
            if self.dev().irq_errors() != errors {
                return;
            }
            self.retry_pending = false;
        }
        let s = self.dev().state();
        let pending = self.dev().peek_iir() & IIR_NO_INT == 0;
        let derived = pending && (!self.config.out2_gates_irq || s.mcr & MCR_OUT2 != 0);
        assert_eq!(self.dev().irq_level(), derived, "line vs IIR: {s:?}");
        assert_eq!(self.irq.level(), derived, "sink level vs IIR");
    }

    fn finish(&mut self) {
        let mut out = self.sink.data();
        out.extend(self.dev().state().tx_fifo);
        if self.lost() == 0 {
            assert!(
                out == self.written,
                "without losses the sink gets exactly the guest's bytes"
            );
        } else {
            assert!(
                is_subsequence(&out, &self.written),
                "output reordered or invented bytes"
            );
        }
    }
}

fn capacity(s: &Uart16550State, config: &Config) -> usize {
    if s.fcr & FCR_ENABLE_FIFO != 0 {
        config.fifo_size()
    } else {
        1
    }
}

fn budget(c: &mut Cursor<'_>) -> Option<OutputBudget> {
    let b = c.u8();
    if b & 1 == 0 {
        return None;
    }
    Some(OutputBudget {
        bytes: u64::from(c.u8()),
        when_exhausted: if b & 2 == 0 {
            BudgetAction::Drop
        } else {
            BudgetAction::Stall
        },
    })
}

fn config(c: &mut Cursor<'_>) -> Config {
    let b = c.u8();
    let mut config = Config::default()
        .with_fifo_size(FIFO_SIZES[usize::from(b & 3)])
        .expect("a valid FIFO size")
        .with_out2_gate(b & 4 != 0);
    config.rearm_edges = b & 8 != 0;
    if b & 16 != 0 {
        config = config.with_output_budget(budget(c));
    }
    config
}

fn drive(mut h: Harness, c: &mut Cursor<'_>) {
    crate::run_steps(c, 2048, |c| h.step(c));
    h.finish();
}

fn harness(
    dev: Dev,
    irq: RecordingIrq,
    sink: TestSink,
    events: Arc<SerialMetrics>,
    mode: u8,
) -> Harness {
    let config = *dev.config();
    let backpressure = dev.output_budget().is_some();
    let mut h = Harness {
        bus: ByteBus::new(dev, mode),
        irq,
        sink,
        events,
        config,
        written: Vec::new(),
        backpressure,
        retry_pending: false,
        lost_base: 0,
    };
    h.lost_base = h.lost();
    // A restored TX FIFO already went (partly) to the sink: count it as written.
    let held = h.dev().state().tx_fifo;
    let mut pre = h.sink.data();
    pre.extend(held);
    h.written = pre;
    h
}

/// Runs the interpreter on `data`.
pub fn run_ops(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mode = c.u8();
    let config = config(&mut c);
    let irq = RecordingIrq::new();
    let sink = TestSink::new();
    let events = Arc::new(SerialMetrics::default());
    let dev = Dev::with_config(config, irq.clone(), events.clone(), sink.clone());
    drive(harness(dev, irq, sink, events, mode), &mut c);
}

/// Feeds `data` to the state deserializer and `from_state`, then drives an
/// accepted device with the rest of the input.
pub fn run_state(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mode = c.u8();
    let config = config(&mut c);
    let state = if mode & 1 == 0 {
        let rest = c.rest();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        c = Cursor::new(&rest[end.saturating_add(1).min(rest.len())..]);
        match serde_json::from_slice::<Uart16550State>(&rest[..end]) {
            Ok(s) => s,
            Err(_) => return,
        }
    } else {
        let regs: [u8; 11] = c.array();
        let rx = usize::from(c.u8());
        let rx_fifo = c.bytes(rx).to_vec();
        let nb = usize::from(c.u8() % 4);
        let rx_breaks = (0..nb).map(|_| u32::from(c.u8())).collect();
        let tx = usize::from(c.u8());
        let tx_fifo = c.bytes(tx).to_vec();
        Uart16550State {
            version: u32::from(regs[0] % 3),
            dll: regs[1],
            dlm: regs[2],
            ier: regs[3],
            fcr: regs[4],
            lcr: regs[5],
            mcr: regs[6],
            scr: regs[7],
            lsr_errors: regs[8],
            modem_lines: regs[9],
            msr_deltas: regs[10] & 0x7F,
            thri_pending: regs[10] & 0x80 != 0,
            rx_fifo,
            rx_breaks,
            tx_fifo,
            output_budget: budget(&mut c),
        }
    };
    let irq = RecordingIrq::new();
    let sink = TestSink::new();
    if mode & 2 != 0 {
        sink.set_budget(Some(usize::from(c.u8() % 8)));
    }
    let events = Arc::new(SerialMetrics::default());
    match Dev::from_state(&state, config, irq.clone(), events.clone(), sink.clone()) {
        Ok(dev) => {
            assert_eq!(state.version, STATE_VERSION, "accepted another version");
            let cap = capacity(&state, &config);
            assert!(
                state.rx_fifo.len() <= cap && state.tx_fifo.len() <= cap,
                "accepted over-full FIFOs"
            );
            let mut h = harness(dev, irq, sink, events, c.u8());
            h.backpressure = true;
            let e = h.dev().irq_errors();
            h.check(e);
            drive(h, &mut c);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
