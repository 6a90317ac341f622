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
use superio_i8042::{Key, I8042};
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
/// Host input the `all`/`refill` policies may feed from guest UART accesses
/// before the guest's interrupt handler has once found nothing pending.
///
/// Why a cap: topping the FIFO up on every access keeps Linux's 8250 ISR
/// looping (each pass sees new data) until its 512-pass limit; it then
/// leaves with the line still high, an edge-triggered PIC never sees a new
/// edge, and the port stalls for good (observed with v86's own UART: stuck
/// after 131 587 bytes = 512 passes of 257 reads). The cap lets each handler
/// run end; the host's periodic `service` tick keeps input moving regardless.
pub const BURST_LIMIT: usize = 16 << 10;
/// IIR register offset and its "no interrupt pending" bit.
const UART_IIR: u32 = 2;
const IIR_NO_INT: u8 = 0x01;
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

/// What the bridge needs from the device serving COM1, so that benchmarks can
/// put rust-vmm vm-superio 0.8.2's `Serial` under the same guest and harness
/// ([`Bridge::with_serial`]); the method names are our UART's.
trait ComPort {
    fn read(&mut self, reg: u8) -> u8;
    fn write(&mut self, reg: u8, value: u8);
    fn enqueue_raw_bytes(&mut self, input: &[u8]) -> Result<usize, ()>;
    fn fifo_capacity(&self) -> usize;
    fn end_tx_burst(&mut self);
    fn drain_tx(&mut self) -> usize;
    fn tx_pending(&self) -> usize;
    fn events(&self) -> &UartEvents;
    fn writer(&self) -> &TxBuffer;
    fn writer_mut(&mut self) -> &mut TxBuffer;
}

impl ComPort for Uart {
    fn read(&mut self, reg: u8) -> u8 {
        Uart16550::read(self, reg)
    }
    fn write(&mut self, reg: u8, value: u8) {
        Uart16550::write(self, reg, value);
    }
    fn enqueue_raw_bytes(&mut self, input: &[u8]) -> Result<usize, ()> {
        Uart16550::enqueue_raw_bytes(self, input).map_err(|_| ())
    }
    fn fifo_capacity(&self) -> usize {
        Uart16550::fifo_capacity(self)
    }
    fn end_tx_burst(&mut self) {
        Uart16550::end_tx_burst(self);
    }
    fn drain_tx(&mut self) -> usize {
        Uart16550::drain_tx(self)
    }
    fn tx_pending(&self) -> usize {
        Uart16550::tx_pending(self)
    }
    fn events(&self) -> &UartEvents {
        Uart16550::events(self)
    }
    fn writer(&self) -> &TxBuffer {
        Uart16550::writer(self)
    }
    fn writer_mut(&mut self) -> &mut TxBuffer {
        Uart16550::writer_mut(self)
    }
}

/// vm-superio's interrupt: it fires an edge per event and never lowers, so
/// each `trigger` is replayed to v86's PIC as a pulse (rise, then fall), the
/// way an irqfd delivers it to KVM's PIC.
#[derive(Debug)]
struct VmSuperioPulse(Rc<LineRecorder>);

impl vm_superio::Trigger for VmSuperioPulse {
    type E = Infallible;

    fn trigger(&self) -> Result<(), Infallible> {
        self.0.set(true);
        self.0.set(false);
        Ok(())
    }
}

/// vm-superio's events, reported into the same counters as ours.
#[derive(Debug)]
struct VmSuperioEvents(Rc<UartEvents>);

impl vm_superio::serial::SerialEvents for VmSuperioEvents {
    fn buffer_read(&self) {}
    fn out_byte(&self) {}
    fn tx_lost_byte(&self) {
        self.0.tx_lost_byte();
    }
    fn in_buffer_empty(&self) {
        self.0.in_buffer_empty();
    }
}

/// vm-superio 0.8.2's `Serial` behind [`ComPort`].
#[derive(Debug)]
struct VmSuperioCom {
    serial: vm_superio::Serial<VmSuperioPulse, VmSuperioEvents, TxBuffer>,
    events: Rc<UartEvents>,
}

impl ComPort for VmSuperioCom {
    fn read(&mut self, reg: u8) -> u8 {
        self.serial.read(reg)
    }
    fn write(&mut self, reg: u8, value: u8) {
        // Its only errors are a full output buffer (the byte is lost and
        // counted through `tx_lost_byte`) and interrupt failures (none here).
        let _ = self.serial.write(reg, value);
    }
    fn enqueue_raw_bytes(&mut self, input: &[u8]) -> Result<usize, ()> {
        self.serial.enqueue_raw_bytes(input).map_err(|_| ())
    }
    fn fifo_capacity(&self) -> usize {
        self.serial.fifo_capacity()
    }
    // vm-superio writes and flushes each byte at once: no burst, no backlog.
    fn end_tx_burst(&mut self) {}
    fn drain_tx(&mut self) -> usize {
        0
    }
    fn tx_pending(&self) -> usize {
        0
    }
    fn events(&self) -> &UartEvents {
        &self.events
    }
    fn writer(&self) -> &TxBuffer {
        self.serial.writer()
    }
    fn writer_mut(&mut self) -> &mut TxBuffer {
        self.serial.writer_mut()
    }
}
type Kbd = I8042<Rc<LineRecorder>, Rc<ResetLatch>>;

/// One COM1 and one i8042, driven by a v86 guest.
///
/// From JavaScript: `new Bridge()`, then `uartRead(offset)` etc. from the
/// port handlers. The same calls from Rust:
///
/// ```
/// use superio_v86_bridge::{Bridge, PushPolicy, SHIFT_COM1};
///
/// let mut b = Bridge::new();
/// b.uart_write(4, 0x08); // MCR: OUT2 connects the interrupt
/// let report = b.uart_write(1, 0x02); // IER: THR-empty interrupt on
/// assert_eq!((report >> SHIFT_COM1) & 7, 1 | 4); // one transition, now high
///
/// b.uart_write(0, u32::from(b'A')); // the guest transmits
/// assert_eq!(b.take_output_bytes(), b"A");
///
/// b.set_input_bytes(b"ls\n", PushPolicy::All).unwrap(); // the host types
/// assert_eq!(b.uart_read(0) & 0xFF, u32::from(b'l'));
/// ```
#[napi]
pub struct Bridge {
    uart: Box<dyn ComPort>,
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
    /// The guest wrote THR since the last `service` tick: its burst is live.
    tx_since_tick: bool,
    /// Input still allowed from guest accesses before the ISR next idles.
    burst_budget: usize,
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
        Self::with_com1(|com1| {
            Box::new(Uart16550::with_config(
                Config::default(),
                com1,
                UartEvents::default(),
                TxBuffer::default(),
            ))
        })
    }

    /// Like [`Bridge::new`] with the named device on COM1: `"superio"` (our
    /// UART) or `"vm-superio"` (rust-vmm vm-superio 0.8.2's `Serial`, its
    /// edge trigger replayed as a pulse), for side-by-side benchmarks. The
    /// i8042 is ours either way. From JavaScript: `Bridge.withSerial(name)`.
    ///
    /// # Errors
    /// An unknown device name.
    #[napi(factory)]
    pub fn with_serial(name: String) -> napi::Result<Self> {
        match name.as_str() {
            "superio" => Ok(Self::new()),
            "vm-superio" => Ok(Self::with_com1(|com1| {
                let events = Rc::new(UartEvents::default());
                Box::new(VmSuperioCom {
                    serial: vm_superio::Serial::with_events(
                        VmSuperioPulse(com1),
                        VmSuperioEvents(Rc::clone(&events)),
                        TxBuffer::default(),
                    ),
                    events,
                })
            })),
            other => Err(napi::Error::from_reason(format!(
                "unknown serial device {other:?} (superio or vm-superio)"
            ))),
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
        if offset == UART_IIR && value & IIR_NO_INT != 0 {
            // The guest's handler found nothing more to do.
            self.burst_budget = BURST_LIMIT;
        }
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
        self.tx_since_tick |= self.tx_burst;
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
        Buffer::from(self.take_output_bytes())
    }

    /// Periodic host service (call every few milliseconds): ends a TX burst
    /// the guest left idle for a whole tick, retries output the UART held
    /// back, moves input under the `all` and `refill` policies. Returns the
    /// line report.
    #[napi]
    pub fn service(&mut self) -> u32 {
        if self.uart.tx_pending() > 0 {
            self.uart.drain_tx();
        }
        // A VMM ends a burst on the guest's next exit that is not a THR
        // write; this tick is only the fallback for a guest that went quiet
        // after its last THR write. A tick that lands between the THR writes
        // of one FIFO load must leave the burst alone: the THR-empty
        // interrupt it published would rise while the guest's handler is
        // still loading, the next THR write would take it back, and the edge
        // the PIC latched meanwhile would come back after the handler's EOI
        // as an interrupt with nothing pending (seen as spurious interrupts
        // in `tx` runs, one per tick that hit a load).
        let live = std::mem::take(&mut self.tx_since_tick);
        if !live {
            self.end_tx_burst();
        }
        if self.policy != PushPolicy::Paced {
            self.push_input(usize::MAX);
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
        self.set_input_bytes(&data, policy)
            .map_err(napi::Error::from_reason)
    }

    /// Offers `data` straight to the receive FIFO and returns how many bytes
    /// it took (0 when full): direct back-pressure for a host that keeps its
    /// own queue. The line report is kept for the next call that returns one.
    #[napi]
    pub fn offer_input(&mut self, data: Buffer) -> u32 {
        match self.uart.enqueue_raw_bytes(&data) {
            Ok(n) => {
                self.bytes_to_guest += n as u64;
                u32::try_from(n).unwrap_or(u32::MAX)
            }
            Err(_) => 0,
        }
    }

    /// Moves as much pending input as the receive FIFO has room for (the
    /// `paced` policy's timer tick). Returns the line report.
    #[napi]
    pub fn pump(&mut self) -> u32 {
        self.push_input(usize::MAX);
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

    /// Presses the key with Linux input keycode `keycode` (`KEY_*`).
    /// Returns the line report.
    ///
    /// # Errors
    /// An unknown keycode, or the i8042 refused the key (queue full,
    /// scanning disabled by the guest).
    #[napi]
    pub fn press_key(&mut self, keycode: u32) -> napi::Result<u32> {
        let key = key_from_linux(keycode)?;
        self.kbd.press(key).map_err(key_error)?;
        Ok(self.report())
    }

    /// Releases the key with Linux input keycode `keycode`. Returns the line report.
    ///
    /// # Errors
    /// As for [`Bridge::press_key`].
    #[napi]
    pub fn release_key(&mut self, keycode: u32) -> napi::Result<u32> {
        let key = key_from_linux(keycode)?;
        self.kbd.release(key).map_err(key_error)?;
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

fn key_from_linux(keycode: u32) -> napi::Result<Key> {
    u16::try_from(keycode)
        .ok()
        .and_then(Key::from_linux_keycode)
        .ok_or_else(|| napi::Error::from_reason(format!("no key has Linux keycode {keycode}")))
}

#[allow(clippy::needless_pass_by_value)]
fn key_error(e: superio_i8042::I8042Error) -> napi::Error {
    napi::Error::from_reason(format!("key not queued: {e}"))
}

impl Bridge {
    /// A bridge whose COM1 device `make_uart` builds around the COM1 line.
    fn with_com1(make_uart: impl FnOnce(Rc<LineRecorder>) -> Box<dyn ComPort>) -> Self {
        let com1 = Rc::new(LineRecorder::default());
        let irq1 = Rc::new(LineRecorder::default());
        let irq12 = Rc::new(LineRecorder::default());
        let reset = Rc::new(ResetLatch::default());
        let uart = make_uart(Rc::clone(&com1));
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
            tx_since_tick: false,
            burst_budget: BURST_LIMIT,
        }
    }

    /// Takes the guest's output collected so far, and retries output the
    /// UART held back while the buffer was full.
    pub fn take_output_bytes(&mut self) -> Vec<u8> {
        let out = std::mem::take(&mut self.uart.writer_mut().buf);
        if self.uart.tx_pending() > 0 {
            self.uart.drain_tx();
        }
        out
    }

    /// [`Bridge::set_input`] for Rust callers.
    ///
    /// # Errors
    /// Input larger than [`INPUT_LIMIT`].
    pub fn set_input_bytes(&mut self, data: &[u8], policy: PushPolicy) -> Result<u32, String> {
        if data.len() > INPUT_LIMIT {
            return Err(format!(
                "input of {} bytes exceeds the {INPUT_LIMIT}-byte limit",
                data.len()
            ));
        }
        self.input = data.to_vec();
        self.input_pos = 0;
        self.policy = policy;
        self.burst_budget = BURST_LIMIT;
        // Every policy starts by offering what fits; `refill` then waits
        // for the guest to drain the FIFO, `paced` for the host's timer.
        self.push_input(usize::MAX);
        Ok(self.report())
    }

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
            PushPolicy::All => {
                let n = self.push_input(self.burst_budget);
                self.burst_budget -= n;
            }
            PushPolicy::Refill => {
                // A drain that comes while the budget is spent stays pending
                // until the handler's closing IIR read renews the budget, and
                // the refill happens right then. Dropping it left the FIFO
                // empty until the next service tick, while the PIC held an
                // edge latched from a refill inside the handler: that
                // delivery found nothing (one spurious interrupt per burst).
                if self.burst_budget > 0 && self.uart.events().rx_drained.replace(false) {
                    let n = self.push_input(self.burst_budget);
                    self.burst_budget -= n;
                }
            }
            PushPolicy::Paced => {}
        }
    }

    /// Offers up to `limit` pending input bytes to the FIFO; returns how many it took.
    fn push_input(&mut self, limit: usize) -> usize {
        let Some(rest) = self.input.get(self.input_pos..) else {
            return 0;
        };
        let rest = rest.get(..limit.min(rest.len())).unwrap_or_default();
        if rest.is_empty() || self.uart.fifo_capacity() == 0 {
            return 0;
        }
        // Loopback mode refuses host input: keep it for later.
        match self.uart.enqueue_raw_bytes(rest) {
            Ok(n) => {
                self.input_pos += n;
                self.bytes_to_guest += n as u64;
                n
            }
            Err(_) => 0,
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

    // 16550A register offsets and bits (National PC16550D datasheet).
    const THR: u32 = 0;
    const RBR: u32 = 0;
    const IER: u32 = 1;
    const FCR: u32 = 2;
    const MCR: u32 = 4;
    const LSR: u32 = 5;
    const IER_ERBFI: u32 = 0x01;
    const IER_ETBEI: u32 = 0x02;
    const FCR_FIFO_ENABLE: u32 = 0x01;
    const MCR_OUT2: u32 = 0x08;
    const LSR_DR: u32 = 0x01;
    /// 16550A receive FIFO depth; the PC default config models 64 bytes.
    const FIFO_BYTES: usize = 64;
    // i8042 (IBM PC/AT technical reference): ports as bridge offsets.
    const KBD_DATA: u32 = 0;
    const KBD_CMD: u32 = 4;
    const STATUS_OBF: u32 = 0x01;
    const CMD_PULSE_RESET: u32 = 0xFE;
    /// Scan code set 1 make code of Left Ctrl (what a translating i8042 delivers).
    const SET1_LCTRL_MAKE: u32 = 0x1D;
    /// Linux `KEY_A`.
    const KEY_A: u32 = 30;

    /// COM1 field of a packed report: (transitions, final level).
    fn com1(report: u32) -> (u32, bool) {
        (
            (report >> SHIFT_COM1) & 3,
            (report >> (SHIFT_COM1 + 2)) & 1 == 1,
        )
    }

    fn bridge_with_rx_fifo() -> Bridge {
        let mut b = Bridge::new();
        b.uart_write(FCR, FCR_FIFO_ENABLE);
        b
    }

    /// The RX handler's drain loop (LSR, then RBR while DR is set), with no
    /// IIR read: returns the bytes it read.
    fn drain_rx(b: &mut Bridge) -> Vec<u8> {
        let mut got = Vec::new();
        while b.uart_read(LSR) & LSR_DR != 0 {
            got.push((b.uart_read(RBR) & 0xFF) as u8);
        }
        got
    }

    #[test]
    fn test_line_recorder_pulse_reports_three_transitions_high() {
        let line = LineRecorder::default();
        line.trigger().unwrap();
        line.lower().unwrap();
        line.trigger().unwrap();
        assert_eq!(line.take(), 3 | 4);
        assert_eq!(line.take(), 0);
    }

    #[test]
    fn test_line_recorder_single_fall_reports_one_transition_low() {
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

    #[test]
    fn test_uart_thr_writes_reach_host_output_in_order() {
        let mut b = Bridge::new();
        for &c in b"hi!" {
            b.uart_write(THR, u32::from(c));
        }
        assert_eq!(b.take_output_bytes(), b"hi!");
        assert!(b.take_output_bytes().is_empty());
    }

    #[test]
    fn test_uart_thri_enable_with_out2_reports_com1_rise() {
        let mut b = Bridge::new();
        b.uart_write(MCR, MCR_OUT2);
        let r = b.uart_write(IER, IER_ETBEI);
        assert_eq!(com1(r), (1, true));
        assert!(b.uart_interrupt_level());
    }

    #[test]
    fn test_uart_line_unchanged_reports_nothing() {
        let mut b = Bridge::new();
        b.uart_write(MCR, MCR_OUT2);
        b.uart_write(IER, IER_ETBEI);
        // IER read changes no interrupt condition.
        assert_eq!(b.uart_read(IER) & !0xFF, 0);
    }

    /// Enables THRI, takes the interrupt (IIR read) and starts a FIFO load.
    fn bridge_mid_tx_load() -> Bridge {
        const IIR: u32 = 2;
        let mut b = Bridge::new();
        b.uart_write(MCR, MCR_OUT2);
        b.uart_write(IER, IER_ETBEI);
        assert_eq!(b.uart_read(IIR) & 0x0F, 0x02, "THRI pending");
        assert!(!b.uart_interrupt_level());
        for &c in b"load" {
            b.uart_write(THR, u32::from(c));
        }
        b
    }

    #[test]
    fn test_service_tick_inside_a_tx_load_keeps_line_low() {
        let mut b = bridge_mid_tx_load();
        // The tick falls between two THR writes of the same load.
        assert_eq!(com1(b.service()), (0, false));
        let r = b.uart_write(THR, u32::from(b'!'));
        assert_eq!(com1(r), (0, false));
        assert_eq!(b.take_output_bytes(), b"load!");
    }

    #[test]
    fn test_service_tick_ends_a_burst_left_idle_for_a_whole_tick() {
        let mut b = bridge_mid_tx_load();
        assert_eq!(com1(b.service()), (0, false));
        // No THR write since that tick: the guest went quiet, so the next
        // tick publishes the deferred THR-empty interrupt.
        assert_eq!(com1(b.service()), (1, true));
    }

    #[test]
    fn test_kbd_access_ends_tx_burst_at_once() {
        let mut b = bridge_mid_tx_load();
        let r = b.kbd_read(KBD_CMD);
        assert_eq!(com1(r), (1, true));
    }

    #[test]
    fn test_input_push_all_refills_after_each_read() {
        let mut b = bridge_with_rx_fifo();
        b.set_input_bytes(&[0x55; 100], PushPolicy::All).unwrap();
        assert_eq!(b.input_pending() as usize, 100 - FIFO_BYTES);
        assert_eq!(b.uart_read(RBR) & 0xFF, 0x55);
        assert_eq!(b.input_pending() as usize, 100 - FIFO_BYTES - 1);
    }

    #[test]
    fn test_input_push_refill_waits_until_fifo_drained() {
        let mut b = bridge_with_rx_fifo();
        b.set_input_bytes(&[7; 100], PushPolicy::Refill).unwrap();
        b.uart_read(RBR);
        assert_eq!(b.input_pending() as usize, 100 - FIFO_BYTES);
        for _ in 1..FIFO_BYTES {
            b.uart_read(RBR);
        }
        assert_eq!(b.input_pending(), 0);
        assert_eq!(b.uart_read(LSR) & LSR_DR, LSR_DR);
    }

    #[test]
    fn test_input_push_paced_moves_only_on_pump() {
        let mut b = bridge_with_rx_fifo();
        b.set_input_bytes(&[1; 100], PushPolicy::Paced).unwrap();
        for _ in 0..FIFO_BYTES {
            b.uart_read(RBR);
        }
        assert_eq!(b.input_pending() as usize, 100 - FIFO_BYTES);
        b.pump();
        assert_eq!(b.input_pending(), 0);
    }

    #[test]
    fn test_input_every_byte_arrives_in_order() {
        let mut b = bridge_with_rx_fifo();
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        b.set_input_bytes(&data, PushPolicy::All).unwrap();
        assert_eq!(drain_rx(&mut b), data);
    }

    #[test]
    fn test_input_data_ready_interrupt_reported_when_enabled() {
        let mut b = bridge_with_rx_fifo();
        b.uart_write(MCR, MCR_OUT2);
        b.uart_write(IER, IER_ERBFI);
        // FCR bits 7:6 = 00: the receive trigger level is 1 byte, so the
        // data interrupt rises as soon as one byte is in.
        let r = b.set_input_bytes(b"x", PushPolicy::All).unwrap();
        assert_eq!(com1(r), (1, true));
        // Reading it empties the FIFO and drops the line.
        let r = b.uart_read(RBR);
        assert_eq!(r & 0xFF, u32::from(b'x'));
        assert_eq!(com1(r), (1, false));
    }

    #[test]
    fn test_input_push_all_stops_at_burst_limit_until_iir_idle() {
        const IIR: u32 = 2;
        let mut b = bridge_with_rx_fifo();
        b.set_input_bytes(&vec![9; 2 * BURST_LIMIT], PushPolicy::All)
            .unwrap();
        // Drain without ever reading IIR: the feed stops after the first
        // FIFO load plus BURST_LIMIT bytes.
        assert_eq!(drain_rx(&mut b).len(), FIFO_BYTES + BURST_LIMIT);
        // The handler's final IIR read (nothing pending) re-opens the feed.
        assert_eq!(b.uart_read(IIR) & 1, 1);
        assert_eq!(b.uart_read(LSR) & LSR_DR, LSR_DR);
    }

    #[test]
    fn test_input_push_refill_resumes_on_closing_iir_read_after_burst_limit() {
        const IIR: u32 = 2;
        let mut b = bridge_with_rx_fifo();
        b.set_input_bytes(&vec![5; 2 * BURST_LIMIT], PushPolicy::Refill)
            .unwrap();
        assert_eq!(drain_rx(&mut b).len(), FIFO_BYTES + BURST_LIMIT);
        // The handler's closing read (nothing pending) renews the budget and
        // the drain seen while it was spent refills the FIFO at once, not
        // only at the next service tick.
        assert_eq!(b.uart_read(IIR) & 1, 1);
        assert_eq!(b.uart_read(LSR) & LSR_DR, LSR_DR);
    }

    #[test]
    fn test_input_service_tick_moves_input_past_burst_limit() {
        let mut b = bridge_with_rx_fifo();
        b.set_input_bytes(&vec![3; 2 * BURST_LIMIT], PushPolicy::All)
            .unwrap();
        drain_rx(&mut b);
        let before = b.input_pending();
        b.service();
        assert_eq!((before - b.input_pending()) as usize, FIFO_BYTES);
    }

    #[test]
    fn test_input_over_limit_rejected() {
        let mut b = Bridge::new();
        assert!(b
            .set_input_bytes(&vec![0; INPUT_LIMIT + 1], PushPolicy::All)
            .is_err());
        assert_eq!(b.input_pending(), 0);
    }

    #[test]
    fn test_push_policy_names_parse() {
        assert_eq!(PushPolicy::parse("all"), Some(PushPolicy::All));
        assert_eq!(PushPolicy::parse("refill"), Some(PushPolicy::Refill));
        assert_eq!(PushPolicy::parse("paced"), Some(PushPolicy::Paced));
        assert_eq!(PushPolicy::parse("fast"), None);
    }

    #[test]
    fn test_kbd_pulse_reset_command_sets_reset_bit() {
        let mut b = Bridge::new();
        let r = b.kbd_write(KBD_CMD, CMD_PULSE_RESET);
        assert_eq!(r & RESET_BIT, RESET_BIT);
        // Reported once.
        assert_eq!(b.kbd_read(KBD_CMD) & RESET_BIT, 0);
    }

    #[test]
    fn test_kbd_ctrl_alt_del_delivers_ctrl_make_first() {
        let mut b = Bridge::new();
        b.ctrl_alt_del().unwrap();
        assert_eq!(b.kbd_read(KBD_CMD) & STATUS_OBF, STATUS_OBF);
        assert_eq!(b.kbd_read(KBD_DATA) & 0xFF, SET1_LCTRL_MAKE);
    }

    #[test]
    fn test_kbd_unknown_keycode_rejected() {
        let mut b = Bridge::new();
        assert!(b.press_key(0xFFFF_FFFF).is_err());
        assert!(b.press_key(KEY_A).is_ok());
    }

    #[test]
    fn test_with_serial_vm_superio_thri_enable_reports_one_pulse() {
        let mut b = Bridge::with_serial("vm-superio".into()).unwrap();
        b.uart_write(MCR, MCR_OUT2);
        // vm-superio triggers THRE at once; its edge arrives as rise + fall.
        assert_eq!(com1(b.uart_write(IER, IER_ETBEI)), (2, false));
    }

    #[test]
    fn test_with_serial_vm_superio_transmits_and_receives() {
        let mut b = Bridge::with_serial("vm-superio".into()).unwrap();
        b.uart_write(FCR, FCR_FIFO_ENABLE);
        b.uart_write(THR, u32::from(b'A'));
        assert_eq!(b.take_output_bytes(), b"A");
        b.set_input_bytes(b"z", PushPolicy::All).unwrap();
        assert_eq!(b.uart_read(LSR) & LSR_DR, LSR_DR);
        assert_eq!(b.uart_read(RBR) & 0xFF, u32::from(b'z'));
    }

    #[test]
    fn test_with_serial_superio_is_our_uart() {
        let mut b = Bridge::with_serial("superio".into()).unwrap();
        b.uart_write(MCR, MCR_OUT2);
        // Ours publishes a level: one rise, staying high.
        assert_eq!(com1(b.uart_write(IER, IER_ETBEI)), (1, true));
    }

    #[test]
    fn test_with_serial_unknown_name_is_error() {
        assert!(Bridge::with_serial("pl011".into()).is_err());
    }
}
