//! N-API addon that lets the v86 PC emulator (running under Node) use
//! superio's [`Uart16550`] as COM1 and its [`I8042`] as the keyboard
//! controller, so a stock Linux guest's 8250 and i8042 drivers exercise them.
//!
//! The JavaScript side (`scripts/v86/lib/machine.mjs`) only forwards: it
//! registers port handlers with v86 that call [`Bridge::uart_read`] and
//! friends, and replays the interrupt-line changes each call returns with
//! `cpu.device_raise_irq`/`device_lower_irq`. Every device decision, host
//! input flow control included, is made here, in Rust.
//!
//! # Return-value encoding
//! A port access must cost one N-API call, so reads return the data byte and
//! the line changes packed in one `u32` (writes return the same without data):
//!
//! | bits | meaning |
//! |---|---|
//! | 0..=7 | data byte (reads) |
//! | 8..=9, 10 | COM1 (IRQ 4): transitions since the last report (0..=3, saturating), final level |
//! | 11..=12, 13 | i8042 keyboard (IRQ 1): same |
//! | 14..=15, 16 | i8042 aux (IRQ 12): same |
//! | 17 | the i8042 asked for a system reset |
//!
//! The sinks record every transition rather than only the final level: a line
//! that fell and rose again during one access must reach an edge-triggered
//! PIC as a new edge, or the guest would miss that interrupt.

use std::cell::Cell;
use std::convert::Infallible;
use std::io;
use std::rc::Rc;

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use superio_core::Trigger;
use superio_i8042::I8042;
use superio_uart16550::{Config, SerialEvents, Uart16550};

/// Bit position of COM1's line report in a packed result.
pub const SHIFT_COM1: u32 = 8;
/// Bit position of the keyboard line (IRQ 1) report.
pub const SHIFT_KBD: u32 = 11;
/// Bit position of the aux line (IRQ 12) report.
pub const SHIFT_AUX: u32 = 14;
/// Bit set when the i8042 requested a reset since the last report.
pub const RESET_BIT: u32 = 1 << 17;
/// UART register offset of RBR/THR.
const UART_THR: u32 = 0;
/// Guest output held for the host before the UART sees back-pressure: large
/// enough that a host draining every few milliseconds never throttles the guest.
pub const TX_BUFFER_LIMIT: usize = 1 << 20;
/// Largest host input one `set_input` call may queue (a test's whole payload).
pub const INPUT_LIMIT: usize = 64 << 20;

/// An interrupt sink that records each level transition for the next report.
#[derive(Debug, Default)]
pub struct LineRecorder {
    level: Cell<bool>,
    transitions: Cell<u32>,
}

impl LineRecorder {
    /// Returns the 3-bit report (transition count, final level) and clears the count.
    pub fn take(&self) -> u32 {
        let n = self.transitions.replace(0).min(3);
        if n == 0 {
            0
        } else {
            n | (u32::from(self.level.get()) << 2)
        }
    }

    /// The line's current level.
    pub fn level(&self) -> bool {
        self.level.get()
    }

    fn set(&self, level: bool) {
        self.level.set(level);
        self.transitions
            .set(self.transitions.get().saturating_add(1));
    }
}

impl Trigger for LineRecorder {
    type E = Infallible;

    fn trigger(&self) -> Result<(), Infallible> {
        self.set(true);
        Ok(())
    }

    fn lower(&self) -> Result<(), Infallible> {
        self.set(false);
        Ok(())
    }
}

/// The i8042's reset output (CPU reset pulse): latched until reported.
#[derive(Debug, Default)]
pub struct ResetLatch {
    requested: Cell<bool>,
    total: Cell<u32>,
}

impl ResetLatch {
    /// Whether a reset was requested since the last call.
    pub fn take(&self) -> bool {
        self.requested.replace(false)
    }
}

impl Trigger for ResetLatch {
    type E = Infallible;

    fn trigger(&self) -> Result<(), Infallible> {
        self.requested.set(true);
        self.total.set(self.total.get().saturating_add(1));
        Ok(())
    }
}

/// Guest output collected for the host; refuses bytes past [`TX_BUFFER_LIMIT`]
/// so the UART holds them (back-pressure) until the host drains.
#[derive(Debug, Default)]
pub struct TxBuffer {
    buf: Vec<u8>,
    total: u64,
}

impl io::Write for TxBuffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = TX_BUFFER_LIMIT.saturating_sub(self.buf.len());
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = room.min(data.len());
        self.buf
            .extend_from_slice(data.get(..n).unwrap_or_default());
        self.total += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// UART notifications the bridge acts on.
#[derive(Debug, Default)]
pub struct UartEvents {
    rx_drained: Cell<bool>,
    rx_drained_total: Cell<u64>,
    rx_overruns: Cell<u64>,
    tx_lost: Cell<u64>,
}

impl SerialEvents for UartEvents {
    fn in_buffer_empty(&self) {
        self.rx_drained.set(true);
        self.rx_drained_total.set(self.rx_drained_total.get() + 1);
    }

    fn tx_lost_byte(&self) {
        self.tx_lost.set(self.tx_lost.get() + 1);
    }

    fn tx_lost_bytes(&self, n: usize) {
        self.tx_lost.set(self.tx_lost.get() + n as u64);
    }

    fn rx_overrun(&self) {
        self.rx_overruns.set(self.rx_overruns.get() + 1);
    }
}

/// How host input reaches the UART's receive FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushPolicy {
    /// Top the FIFO up after every guest access to the UART.
    All,
    /// Top the FIFO up when the guest drained it (the `in_buffer_empty` event).
    Refill,
    /// Only when the host calls [`Bridge::pump`] (a timer).
    Paced,
}

impl PushPolicy {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "all" => Some(Self::All),
            "refill" => Some(Self::Refill),
            "paced" => Some(Self::Paced),
            _ => None,
        }
    }
}

/// Device counters the harness prints with `--stats`.
#[napi(object)]
#[derive(Debug)]
pub struct DeviceCounters {
    /// Bytes the guest transmitted that reached the host buffer.
    pub bytes_from_guest: f64,
    /// Host input bytes accepted into the receive FIFO.
    pub bytes_to_guest: f64,
    /// Host input still waiting for FIFO room.
    pub input_pending: f64,
    /// Times the guest drained the receive FIFO.
    pub rx_drained_events: f64,
    /// Receive overruns the UART reported.
    pub rx_overruns: f64,
    /// Transmit bytes the UART reported lost.
    pub tx_lost: f64,
    /// Bytes held in the UART because the host buffer was full.
    pub tx_pending: f64,
    /// Reset requests from the i8042.
    pub resets: f64,
}

type Uart = Uart16550<Rc<LineRecorder>, UartEvents, TxBuffer>;
type Kbd = I8042<Rc<LineRecorder>, Rc<ResetLatch>>;

/// One COM1 and one i8042, driven by a v86 guest.
#[napi]
pub struct Bridge {
    uart: Uart,
    kbd: Kbd,
    com1: Rc<LineRecorder>,
    irq1: Rc<LineRecorder>,
    irq12: Rc<LineRecorder>,
    reset: Rc<ResetLatch>,
    input: Vec<u8>,
    input_pos: usize,
    policy: PushPolicy,
    bytes_to_guest: u64,
    /// The guest's last UART access was a THR write: its TX burst may go on.
    tx_burst: bool,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("input_pos", &self.input_pos)
            .field("input_len", &self.input.len())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Default for Bridge {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl Bridge {
    /// A UART with PC defaults (64-byte FIFOs, OUT2 gates IRQ 4) and an i8042.
    #[napi(constructor)]
    pub fn new() -> Self {
        let com1 = Rc::new(LineRecorder::default());
        let irq1 = Rc::new(LineRecorder::default());
        let irq12 = Rc::new(LineRecorder::default());
        let reset = Rc::new(ResetLatch::default());
        let uart = Uart16550::with_config(
            Config::default(),
            Rc::clone(&com1),
            UartEvents::default(),
            TxBuffer::default(),
        );
        let kbd =
            I8042::new(Rc::clone(&irq1), Rc::clone(&reset)).with_aux_interrupt(Rc::clone(&irq12));
        Self {
            uart,
            kbd,
            com1,
            irq1,
            irq12,
            reset,
            input: Vec::new(),
            input_pos: 0,
            policy: PushPolicy::All,
            bytes_to_guest: 0,
            tx_burst: false,
        }
    }

    /// Guest read of COM1 register `offset` (0..=7): data byte plus line report.
    #[napi]
    pub fn uart_read(&mut self, offset: u32) -> u32 {
        // The UART ends a TX burst itself on any other access of its own.
        self.tx_burst = false;
        let value = match u8::try_from(offset) {
            Ok(reg) if reg < 8 => self.uart.read(reg),
            _ => 0xff,
        };
        self.after_uart_access();
        u32::from(value) | self.report()
    }

    /// Guest write of COM1 register `offset`: line report.
    #[napi]
    pub fn uart_write(&mut self, offset: u32, value: u32) -> u32 {
        if let (Ok(reg), Ok(v)) = (u8::try_from(offset), u8::try_from(value & 0xff)) {
            if reg < 8 {
                self.uart.write(reg, v);
            }
        }
        self.tx_burst = offset == UART_THR;
        self.after_uart_access();
        self.report()
    }

    /// Guest read of i8042 register `offset` (0 = port 0x60, 4 = port 0x64).
    #[napi]
    pub fn kbd_read(&mut self, offset: u32) -> u32 {
        self.end_tx_burst();
        let value = match u8::try_from(offset) {
            Ok(reg) if reg < 5 => self.kbd.read(reg),
            _ => 0xff,
        };
        u32::from(value) | self.report()
    }

    /// Guest write of i8042 register `offset`.
    #[napi]
    pub fn kbd_write(&mut self, offset: u32, value: u32) -> u32 {
        self.end_tx_burst();
        if let (Ok(reg), Ok(v)) = (u8::try_from(offset), u8::try_from(value & 0xff)) {
            if reg < 5 {
                self.kbd.write(reg, v);
            }
        }
        self.report()
    }

    /// Takes the guest's output collected so far.
    #[napi]
    pub fn take_output(&mut self) -> Buffer {
        Buffer::from(std::mem::take(&mut self.uart.writer_mut().buf))
    }

    /// Periodic host service (call every few milliseconds): ends a TX burst,
    /// retries output the UART held back, moves input under the `all` and
    /// `refill` policies. Returns the line report.
    #[napi]
    pub fn service(&mut self) -> u32 {
        if self.uart.tx_pending() > 0 {
            self.uart.drain_tx();
        }
        if self.tx_burst {
            self.tx_burst = false;
            self.uart.end_tx_burst();
        }
        if self.policy != PushPolicy::Paced {
            self.push_input();
        }
        self.report()
    }

    /// Replaces the host input with `data`, moved into ttyS0 under `policy`
    /// (`all`, `refill` or `paced`). Returns the line report.
    ///
    /// # Errors
    /// An unknown policy name, or input larger than [`INPUT_LIMIT`].
    #[napi]
    pub fn set_input(&mut self, data: Buffer, policy: String) -> napi::Result<u32> {
        let policy = PushPolicy::parse(&policy)
            .ok_or_else(|| napi::Error::from_reason(format!("unknown push policy {policy:?}")))?;
        if data.len() > INPUT_LIMIT {
            return Err(napi::Error::from_reason(format!(
                "input of {} bytes exceeds the {INPUT_LIMIT}-byte limit",
                data.len()
            )));
        }
        self.input = data.to_vec();
        self.input_pos = 0;
        self.policy = policy;
        // Every policy starts by offering what fits; `refill` then waits
        // for the guest to drain the FIFO, `paced` for the host's timer.
        self.push_input();
        Ok(self.report())
    }

    /// Moves as much pending input as the receive FIFO has room for (the
    /// `paced` policy's timer tick). Returns the line report.
    #[napi]
    pub fn pump(&mut self) -> u32 {
        self.push_input();
        self.report()
    }

    /// Host input not yet accepted by the UART.
    #[napi]
    pub fn input_pending(&self) -> u32 {
        u32::try_from(self.input.len() - self.input_pos).unwrap_or(u32::MAX)
    }

    /// Injects Ctrl+Alt+Del (make and break codes). Returns the line report.
    ///
    /// # Errors
    /// The keyboard queue has no room for the whole sequence.
    #[napi]
    pub fn ctrl_alt_del(&mut self) -> napi::Result<u32> {
        self.kbd
            .ctrl_alt_del()
            .map_err(|e| napi::Error::from_reason(format!("Ctrl+Alt+Del not queued: {e}")))?;
        Ok(self.report())
    }

    /// Whether the i8042 is asserting its keyboard interrupt.
    #[napi]
    pub fn kbd_interrupt_level(&self) -> bool {
        self.irq1.level()
    }

    /// Whether COM1 is asserting its interrupt.
    #[napi]
    pub fn uart_interrupt_level(&self) -> bool {
        self.com1.level()
    }

    /// Device counters for `--stats`.
    #[napi]
    pub fn counters(&self) -> DeviceCounters {
        let ev = self.uart.events();
        #[allow(clippy::cast_precision_loss)]
        DeviceCounters {
            bytes_from_guest: self.uart.writer().total as f64,
            bytes_to_guest: self.bytes_to_guest as f64,
            input_pending: (self.input.len() - self.input_pos) as f64,
            rx_drained_events: ev.rx_drained_total.get() as f64,
            rx_overruns: ev.rx_overruns.get() as f64,
            tx_lost: ev.tx_lost.get() as f64,
            tx_pending: self.uart.tx_pending() as f64,
            resets: f64::from(self.reset.total.get()),
        }
    }
}

impl Bridge {
    /// The guest moved on from writing THR: publish its deferred THRE
    /// interrupt and flush the burst, as a VMM does on its next exit.
    fn end_tx_burst(&mut self) {
        if self.tx_burst {
            self.tx_burst = false;
            self.uart.end_tx_burst();
        }
    }

    fn after_uart_access(&mut self) {
        match self.policy {
            PushPolicy::All => self.push_input(),
            PushPolicy::Refill => {
                if self.uart.events().rx_drained.replace(false) {
                    self.push_input();
                }
            }
            PushPolicy::Paced => {}
        }
    }

    fn push_input(&mut self) {
        let Some(rest) = self.input.get(self.input_pos..) else {
            return;
        };
        if rest.is_empty() || self.uart.fifo_capacity() == 0 {
            return;
        }
        // Loopback mode refuses host input: keep it for later.
        if let Ok(n) = self.uart.enqueue_raw_bytes(rest) {
            self.input_pos += n;
            self.bytes_to_guest += n as u64;
        }
    }

    fn report(&self) -> u32 {
        let mut r = (self.com1.take() << SHIFT_COM1)
            | (self.irq1.take() << SHIFT_KBD)
            | (self.irq12.take() << SHIFT_AUX);
        if self.reset.take() {
            r |= RESET_BIT;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_line_recorder_pulse_reports_two_transitions_high() {
        let line = LineRecorder::default();
        line.trigger().unwrap();
        line.lower().unwrap();
        line.trigger().unwrap();
        // 3 transitions, ends high.
        assert_eq!(line.take(), 3 | 4);
        assert_eq!(line.take(), 0);
    }

    #[test]
    fn test_line_recorder_single_fall_reports_low() {
        let line = LineRecorder::default();
        line.trigger().unwrap();
        let _ = line.take();
        line.lower().unwrap();
        assert_eq!(line.take(), 1);
    }

    #[test]
    fn test_tx_buffer_full_returns_would_block() {
        use std::io::Write;
        let mut tx = TxBuffer::default();
        let big = vec![0u8; TX_BUFFER_LIMIT + 10];
        assert_eq!(tx.write(&big).unwrap(), TX_BUFFER_LIMIT);
        assert_eq!(
            tx.write(b"x").unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
