//! The 16550A state machine.

use std::collections::VecDeque;
use std::io::{self, Write};

use superio_core::{ByteRegisters, IrqLine, LineChange, Trigger};

use crate::events::{NoEvents, SerialEvents};
use crate::regs::*;
use crate::ring::RxRing;
use crate::state::{
    BudgetAction, Config, InputError, OutputBudget, StateError, Uart16550State, STATE_VERSION,
};

/// How many times one sink write is retried after `ErrorKind::Interrupted`
/// before the sink is treated as blocked.
const MAX_INTERRUPTED_RETRIES: u32 = 8;

/// One sink `write` answer, classified (see `Uart16550::sink_answer`).
enum SinkAnswer {
    /// The sink took this many bytes (at least one).
    Took(usize),
    /// Back-pressure: keep the bytes and try again later.
    Blocked,
    /// Interrupted: offer the same bytes again now.
    Retry,
    /// A hard error, already counted and logged: drop the bytes.
    Failed,
}

/// A `read_cache` entry whose read takes the long way.
const UNCACHED: u16 = 0x100;
/// The RBR entry while a byte and no break is waiting: the read pops it, and
/// only an emptied FIFO can change the level. Only ever stored at offset
/// [`RBR`], so `read` needs no offset test to act on it.
const RBR_POPS: u16 = 0x200;
/// The IIR entry while THRI alone is pending: the read reports and clears it.
const IIR_CLEARS_THRI: u16 = 0x300;
const NO_READS: [u16; 8] = [UNCACHED; 8];

/// An emulated 16550A UART.
///
/// Generic over its interrupt sink `T` (a [`Trigger`]), its events `EV` (a
/// [`SerialEvents`]) and its output sink `W` (an [`io::Write`]).
///
/// # The guest side
/// [`read`](Self::read) and [`write`](Self::write) take a register offset
/// 0–7; put the UART on a bus with [`superio_core::PioBytes`] or
/// [`superio_core::MmioBytes`] (it implements [`ByteRegisters`]). The
/// interrupt output is a level, published to `T` once at the end of every
/// access and host call: `trigger()` when it rises, `lower()` when it falls.
///
/// # Output: write-through, coalesced, back-pressured
/// Each THR byte goes to the sink at once. The sink's `flush()` and the
/// THR-empty interrupt wait for the end of the guest's *burst*: the next
/// access to any other register (except reads while IER masks THRI), a
/// FIFO's worth of bytes, or [`end_tx_burst`](Self::end_tx_burst). A driver
/// writing 16 bytes then costs one interrupt and one flush, and a polled
/// console (THRI masked, LSR read before each byte) one flush per FIFO's
/// worth or per line, at the IER write that restores THRI. Call
/// `end_tx_burst` when the vCPU exits for any other reason and on a short
/// timer, so a driver that writes and then halts still gets its interrupt
/// and a buffering sink is flushed.
///
/// If the sink answers `WouldBlock` or `Ok(0)`, the byte stays in the TX FIFO,
/// LSR.THRE/TEMT read 0, THRI is withheld and [`SerialEvents::tx_blocked`]
/// fires: call [`drain_tx`](Self::drain_tx) once the sink is writable. A guest
/// that ignores THRE and writes into a full TX FIFO loses its own excess
/// bytes, counted by `tx_lost_byte`. A sink error other than `WouldBlock`
/// drops the bytes of that write (counted; `output_error` fires): the guest is
/// never stalled by a broken sink.
///
/// # Input
/// [`enqueue_raw_bytes`](Self::enqueue_raw_bytes) accepts what fits in the RX
/// FIFO and returns the count; [`SerialEvents::in_buffer_empty`] says when to
/// offer more. [`send_break`](Self::send_break) queues a break (a Linux `SysRq`).
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_uart16550::{regs, Uart16550};
///
/// let irq = RecordingIrq::new();
/// let mut uart = Uart16550::new(irq.clone(), Vec::new());
/// // The guest driver: 8N1, FIFOs on, RX interrupt enabled, OUT2 set.
/// uart.write(regs::LCR, regs::LCR_WLEN8);
/// uart.write(regs::FCR, regs::FCR_ENABLE_FIFO);
/// uart.write(regs::MCR, regs::MCR_OUT2 | regs::MCR_DTR | regs::MCR_RTS);
/// uart.write(regs::IER, regs::IER_RDI);
/// // The host types "hi".
/// assert_eq!(uart.enqueue_raw_bytes(b"hi").unwrap(), 2);
/// assert!(irq.level());
/// assert_eq!(uart.read(regs::IIR), regs::IIR_FIFO_ENABLED | regs::IIR_RDI);
/// assert_eq!([uart.read(regs::RBR), uart.read(regs::RBR)], *b"hi");
/// assert!(!irq.level());
/// // The guest prints.
/// uart.write(regs::THR, b'!');
/// assert_eq!(uart.writer().as_slice(), b"!");
/// ```
#[derive(Debug)]
pub struct Uart16550<T: Trigger, EV: SerialEvents = NoEvents, W: Write = io::Sink> {
    config: Config,
    dll: u8,
    dlm: u8,
    ier: u8,
    fcr: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    /// Sticky LSR error bits (OE/BI), cleared by an LSR read.
    lsr_errors: u8,
    /// Modem inputs driven by the host (used outside loopback).
    modem_lines: u8,
    msr_deltas: u8,
    thri_pending: bool,
    rx: RxRing,
    /// Absolute indices (counted by `rx.popped()`) of break characters
    /// behind the head of the RX FIFO, whose BI is revealed when they reach
    /// the head.
    rx_breaks: VecDeque<u64>,
    tx: VecDeque<u8>,
    /// THR writes since the burst began (see `end_burst`).
    burst_len: usize,
    /// Bytes written to the sink since its last `flush()`.
    unflushed: bool,
    /// The guest read IIR while the published line was high, and no new edge
    /// has been sent since (see [`Config::rearm_edges`]).
    irq_serviced: bool,
    // The fast-path caches below are derived, never snapshotted: every path
    // that is not fast itself ends in `update_irq`, which recomputes them
    // all, and each fast path keeps the ones it can affect right (or takes
    // the slow path). A property test runs every sequence against a UART
    // whose caches are disabled before each call.
    /// The last update published the level the registers give (the sink
    /// accepted it). While it is false every cache is disabled.
    irq_synced: bool,
    /// Per register offset, what a read returns now if it has no side
    /// effect and needs no update: the value (< 0x100), or a marker for a
    /// read with a known cheap effect ([`RBR_POPS`], [`IIR_CLEARS_THRI`]),
    /// or [`UNCACHED`]. One table lookup is the whole cost of the common
    /// polls (LSR, an idle IIR, MSR, IER), also when the offset is only
    /// known at run time, as it is behind a VMM's bus.
    read_cache: [u16; 8],
    /// `read_cache` as the last update computed it for a closed burst (an
    /// open burst with THRI enabled disables every entry, since a read must
    /// end it); restored when `end_tx_burst` closes the burst.
    read_values: [u16; 8],
    /// THR writes may take `write`'s inline path while `burst_len` is below
    /// this: a burst is open, FIFOs on, DLAB and loopback off, the TX FIFO
    /// empty, no output budget, THRI already cleared and the sink already
    /// unflushed, so a byte only has to reach the sink. 0 disables it.
    thr_limit: usize,
    /// A THR write may start a burst without an update: the TX side is as
    /// for `thr_limit` and clearing THRI cannot change the level.
    thr_start: bool,
    /// The TX side allows the fast THR paths (FIFOs on, DLAB and loopback
    /// off, TX FIFO empty, no budget); only the slow paths change these.
    tx_path_ok: bool,
    /// IER enables THRI and nothing but THRI can be pending until the next
    /// update: ending a burst and the IIR read that clears THRI then move
    /// the level by themselves without re-evaluating every source.
    thri_only: bool,
    budget: Option<OutputBudget>,
    irq: IrqLine<T>,
    irq_errors: u64,
    /// Failed sink writes and flushes, for rate-limited logging.
    output_errors: u64,
    events: EV,
    out: W,
}

/// The vm-superio name, for an easy migration.
pub type Serial<T, EV = NoEvents, W = io::Sink> = Uart16550<T, EV, W>;

impl<T: Trigger, W: Write> Uart16550<T, NoEvents, W> {
    /// A PC COM port (default [`Config`]) writing guest output to `out` and
    /// signalling its interrupt through `trigger`.
    pub fn new(trigger: T, out: W) -> Self {
        Self::with_events(trigger, NoEvents, out)
    }
}

impl<T: Trigger, EV: SerialEvents, W: Write> Uart16550<T, EV, W> {
    /// Like [`new`](Uart16550::new), reporting events to `events`.
    pub fn with_events(trigger: T, events: EV, out: W) -> Self {
        Self::with_config(Config::default(), trigger, events, out)
    }

    /// A UART with the given configuration, in power-on state.
    pub fn with_config(config: Config, trigger: T, events: EV, out: W) -> Self {
        let mut uart = Self {
            config,
            dll: 0,
            dlm: 0,
            ier: 0,
            fcr: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            lsr_errors: 0,
            modem_lines: RESET_MODEM_LINES,
            msr_deltas: 0,
            thri_pending: false,
            rx: RxRing::new(),
            rx_breaks: VecDeque::new(),
            tx: VecDeque::new(),
            burst_len: 0,
            unflushed: false,
            irq_serviced: false,
            irq_synced: false,
            read_cache: NO_READS,
            read_values: NO_READS,
            thr_limit: 0,
            thr_start: false,
            tx_path_ok: false,
            thri_only: false,
            budget: config.output_budget,
            irq: IrqLine::new(trigger),
            irq_errors: 0,
            output_errors: 0,
            events,
            out,
        };
        uart.power_on_registers();
        uart
    }

    /// Restores a UART from a snapshot taken with [`state`](Self::state),
    /// after checking every field. The interrupt line is derived from the
    /// restored registers and raised at once if an enabled interrupt is
    /// pending; bytes left in the TX FIFO are offered to the new sink.
    ///
    /// # Errors
    /// [`StateError`] when the snapshot is from another version, has bits set
    /// that a 16550A does not implement, holds more bytes than the FIFOs of
    /// `config` can, or is otherwise inconsistent.
    pub fn from_state(
        state: &Uart16550State,
        config: Config,
        trigger: T,
        events: EV,
        out: W,
    ) -> Result<Self, StateError> {
        validate_state(state, &config)?;
        let mut uart = Self::with_config(config, trigger, events, out);
        uart.dll = state.dll;
        uart.dlm = state.dlm;
        uart.ier = state.ier;
        uart.fcr = state.fcr;
        uart.lcr = state.lcr;
        uart.mcr = state.mcr;
        uart.scr = state.scr;
        uart.lsr_errors = state.lsr_errors;
        uart.modem_lines = state.modem_lines;
        uart.msr_deltas = state.msr_deltas;
        uart.thri_pending = state.thri_pending;
        uart.rx.extend(&state.rx_fifo);
        uart.rx_breaks
            .extend(state.rx_breaks.iter().map(|&i| u64::from(i)));
        uart.tx.extend(state.tx_fifo.iter().copied());
        uart.budget = state.output_budget;
        if !uart.tx.is_empty() {
            uart.drain_tx_inner();
        }
        uart.update_irq();
        Ok(uart)
    }

    /// A snapshot of the device (registers, FIFO contents, pending THRI,
    /// modem deltas, remaining output budget). An open output burst is
    /// recorded as ended; call [`end_tx_burst`](Self::end_tx_burst) first if
    /// the sink buffers, so it is flushed before the VM is paused.
    pub fn state(&self) -> Uart16550State {
        let base = self.rx.popped();
        Uart16550State {
            version: STATE_VERSION,
            dll: self.dll,
            dlm: self.dlm,
            ier: self.ier,
            fcr: self.fcr,
            lcr: self.lcr,
            mcr: self.mcr,
            scr: self.scr,
            lsr_errors: self.lsr_errors,
            modem_lines: self.modem_lines,
            msr_deltas: self.msr_deltas,
            thri_pending: self.thri_pending || (self.burst_len > 0 && self.tx.is_empty()),
            rx_fifo: self.rx.iter().collect(),
            rx_breaks: self
                .rx_breaks
                .iter()
                .filter_map(|&abs| u32::try_from(abs.wrapping_sub(base)).ok())
                .collect(),
            tx_fifo: self.tx.iter().copied().collect(),
            output_budget: self.budget,
        }
    }

    /// Returns the device to its power-on state without rebuilding it. Bytes
    /// the sink had not taken are discarded (reported through
    /// `tx_lost_byte`); the output budget and the configuration are kept.
    pub fn reset(&mut self) {
        self.clear_rx();
        self.discard_tx();
        self.flush_sink();
        self.power_on_registers();
        self.update_irq();
    }

    fn power_on_registers(&mut self) {
        let [dll, dlm] = RESET_DIVISOR.to_le_bytes();
        self.dll = dll;
        self.dlm = dlm;
        self.ier = 0;
        self.fcr = 0;
        self.lcr = 0;
        self.mcr = 0;
        self.scr = 0;
        self.lsr_errors = 0;
        self.modem_lines = RESET_MODEM_LINES;
        self.msr_deltas = 0;
        self.thri_pending = false;
        self.rx.clear();
        self.rx_breaks.clear();
        self.tx.clear();
        self.burst_len = 0;
        self.irq_serviced = false;
    }

    // ------------------------------------------------------------------
    // Guest side.
    // ------------------------------------------------------------------

    /// A guest read of register `offset` (0–7; other offsets read 0xFF, as
    /// a floating bus does).
    #[inline]
    pub fn read(&mut self, offset: u8) -> u8 {
        let Some(&cached) = self.read_cache.get(usize::from(offset)) else {
            return self.read_uncached(offset, UNCACHED);
        };
        // A plain value first: a VMM's bus hands over a runtime offset, so
        // every test made before this one is paid by every poll (LSR, IIR).
        if let Ok(value) = u8::try_from(cached) {
            return value;
        }
        // Only the RBR entry (offset 0) is ever `RBR_POPS`, so the marker
        // alone identifies the register.
        if cached == RBR_POPS {
            // A byte and no break is queued (and no burst to end): no break
            // can reach the head, so only emptying the FIFO changes anything
            // another cache depends on (DR, RDI/CTI).
            if let Some(byte) = self.rx.pop() {
                self.events.buffer_read();
                if self.rx.is_empty() {
                    self.rx_emptied();
                }
                return byte;
            }
        }
        self.read_uncached(offset, cached)
    }

    /// `read` for the entries that are not plain values or RBR pops.
    #[inline(never)]
    fn read_uncached(&mut self, offset: u8, cached: u16) -> u8 {
        if cached == IIR_CLEARS_THRI {
            return self.read_iir_clearing_thri();
        }
        self.read_slow(offset)
    }

    /// The rest of an RBR read that emptied the RX FIFO (with no break
    /// queued): what `read_rbr` and `read_slow` do after the pop.
    #[inline(never)]
    fn rx_emptied(&mut self) {
        self.events.in_buffer_empty();
        self.update_irq();
    }

    /// An IIR read while THRI alone is pending (no burst to end): it reports
    /// THRI and clears it, which leaves nothing pending.
    fn read_iir_clearing_thri(&mut self) -> u8 {
        self.thri_pending = false;
        if self.irq.level() {
            self.irq_serviced = true;
        }
        self.publish(false);
        self.cache_thri_only(false, false);
        self.fifo_bits() | IIR_THRI
    }

    /// Reads end an open output burst only while IER enables THRI: that
    /// interrupt is all the end of a burst can show the guest. A polled
    /// console (THRI masked, LSR read before every THR write) thus keeps one
    /// burst per FIFO's worth, and its bytes share a flush.
    fn end_burst_for_read(&mut self) {
        if self.ier & IER_THRI != 0 {
            self.end_burst();
        }
    }

    /// `read` for the accesses that may change the interrupt level.
    fn read_slow(&mut self, offset: u8) -> u8 {
        let thri_before = self.thri_pending;
        self.end_burst_for_read();
        if offset == IIR && self.irq_synced {
            // The interrupt handler's first read after a burst: ending the
            // burst raises THRI and this read clears it again. Only THRI
            // changes here, so if it ends as it began the level stands.
            let iir = self.read_iir();
            if self.thri_pending != thri_before {
                self.update_irq();
            } else if self.thri_only {
                // Only THRI and the burst changed, and the level stands:
                // the next reads (LSR, MSR) need not re-evaluate everything.
                self.cache_thri_only(self.thri_pending, self.irq.level());
            }
            return iir;
        }
        let value = match offset {
            DLL if self.dlab() => self.dll,
            DLM if self.dlab() => self.dlm,
            RBR => self.read_rbr(),
            IER => self.ier,
            IIR => self.read_iir(),
            LCR => self.lcr,
            MCR => self.mcr,
            LSR => self.read_lsr(),
            MSR => self.read_msr(),
            SCR => self.scr,
            _ => 0xFF,
        };
        self.update_irq();
        value
    }

    /// A guest write of `value` to register `offset` (0–7; others are ignored).
    #[inline]
    pub fn write(&mut self, offset: u8, value: u8) {
        // Inside a burst that `thr_limit` vouches for, a byte only has to
        // reach the sink.
        if offset == THR && self.burst_len < self.thr_limit {
            self.burst_len += 1;
            match self.out.write(&[value]) {
                Ok(n) if n > 0 => self.events.out_bytes(1),
                other => self.thr_write_trouble(value, other),
            }
            return;
        }
        self.write_uncached(offset, value);
    }

    /// The first THR write of a burst when `thr_start` vouches for it (the
    /// same effects as `write_thr` then `update_irq`), else `write_slow`.
    #[inline(never)]
    fn write_uncached(&mut self, offset: u8, value: u8) {
        if offset != THR || self.burst_len != 0 || !self.thr_start {
            self.write_slow(offset, value);
            return;
        }
        self.thri_pending = false;
        self.burst_len = 1;
        if self.ier & IER_THRI != 0 {
            // Every read must now end the burst first.
            self.read_cache = NO_READS;
        }
        if self.send_one(value) {
            // Queued behind a blocked sink: the TX side is no longer fast.
            self.update_irq();
        } else if self.unflushed {
            self.thr_limit = self.config.fifo_size();
        }
    }

    /// A sink write of the inline THR path did not simply take the byte.
    #[cold]
    #[inline(never)]
    fn thr_write_trouble(&mut self, byte: u8, first: io::Result<usize>) {
        if self.send_one_retry(byte, first) {
            self.update_irq();
        }
    }

    /// `write` for everything but the fast THR writes.
    fn write_slow(&mut self, offset: u8, value: u8) {
        match offset {
            DLL if self.dlab() => {
                self.end_burst();
                self.dll = value;
            }
            DLM if self.dlab() => {
                self.end_burst();
                self.dlm = value;
            }
            THR => self.write_thr(value),
            _ => {
                self.end_burst();
                match offset {
                    IER => self.write_ier(value),
                    FCR => self.write_fcr(value),
                    LCR => self.lcr = value,
                    MCR => self.write_mcr(value),
                    SCR => self.scr = value,
                    // LSR and MSR are read-only; writes to them are ignored.
                    _ => {}
                }
            }
        }
        self.update_irq();
    }

    fn dlab(&self) -> bool {
        self.lcr & LCR_DLAB != 0
    }

    fn loopback(&self) -> bool {
        self.mcr & MCR_LOOP != 0
    }

    fn fifo_enabled(&self) -> bool {
        self.fcr & FCR_ENABLE_FIFO != 0
    }

    /// The depth of each FIFO in the current mode: 1 (a holding register)
    /// while the FIFOs are disabled.
    fn capacity(&self) -> usize {
        if self.fifo_enabled() {
            self.config.fifo_size()
        } else {
            1
        }
    }

    /// RX bytes needed for a "received data" (rather than "character
    /// timeout") interrupt: FCR's 1/4/8/14 of 16, scaled to the FIFO depth.
    fn rx_trigger_level(&self) -> usize {
        if !self.fifo_enabled() {
            return 1;
        }
        let sixteenths = match self.fcr & FCR_TRIGGER_MASK {
            FCR_TRIGGER_1 => return 1,
            FCR_TRIGGER_4 => 4,
            FCR_TRIGGER_8 => 8,
            _ => 14,
        };
        (self.config.fifo_size() * sixteenths / HW_FIFO_SIZE).max(1)
    }

    fn read_rbr(&mut self) -> u8 {
        let Some(byte) = self.rx.pop() else {
            return 0;
        };
        self.events.buffer_read();
        if self.rx.is_empty() {
            self.rx_breaks.clear();
            self.events.in_buffer_empty();
        } else if self.rx_breaks.front() == Some(&self.rx.popped()) {
            // The next character is a break: it reaches the head, so BI shows.
            self.rx_breaks.pop_front();
            self.lsr_errors |= LSR_BI;
        }
        byte
    }

    /// The ID of the highest-priority enabled pending interrupt.
    fn pending_interrupt(&self) -> Option<u8> {
        if self.ier & IER_RLSI != 0 && self.lsr_errors & LSR_ERROR_BITS != 0 {
            return Some(IIR_RLSI);
        }
        if self.ier & IER_RDI != 0 && !self.rx.is_empty() {
            // No timer: data below the trigger level is reported as a
            // character timeout straight away.
            return Some(if self.rx.len() >= self.rx_trigger_level() {
                IIR_RDI
            } else {
                IIR_CTI
            });
        }
        if self.ier & IER_THRI != 0 && self.thri_pending {
            return Some(IIR_THRI);
        }
        if self.ier & IER_MSI != 0 && self.msr_deltas != 0 {
            return Some(IIR_MSI);
        }
        None
    }

    fn iir(&self) -> u8 {
        let fifo = if self.fifo_enabled() {
            IIR_FIFO_ENABLED
        } else {
            0
        };
        fifo | self.pending_interrupt().unwrap_or(IIR_NO_INT)
    }

    fn read_iir(&mut self) -> u8 {
        let iir = self.iir();
        // 16550: reading IIR clears THRI, but only when it is what IIR reports.
        if iir & (IIR_NO_INT | IIR_ID_MASK) == IIR_THRI {
            self.thri_pending = false;
        }
        if self.irq.level() {
            self.irq_serviced = true;
        }
        iir
    }

    fn lsr(&self) -> u8 {
        let mut lsr = self.lsr_errors;
        if !self.rx.is_empty() {
            lsr |= LSR_DR;
            if self.fifo_enabled() && (lsr & LSR_BI != 0 || !self.rx_breaks.is_empty()) {
                lsr |= LSR_FIFOE;
            }
        }
        if self.tx.is_empty() {
            lsr |= LSR_THRE | LSR_TEMT;
        }
        lsr
    }

    fn read_lsr(&mut self) -> u8 {
        let lsr = self.lsr();
        self.lsr_errors = 0;
        lsr
    }

    /// The modem inputs the receiver sees: the host's lines, or in loopback
    /// the MCR outputs (RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD).
    fn modem_inputs(&self) -> u8 {
        if !self.loopback() {
            return self.modem_lines;
        }
        let map = [
            (MCR_RTS, MSR_CTS),
            (MCR_DTR, MSR_DSR),
            (MCR_OUT1, MSR_RI),
            (MCR_OUT2, MSR_DCD),
        ];
        map.iter()
            .filter(|(out, _)| self.mcr & out != 0)
            .fold(0, |acc, (_, input)| acc | input)
    }

    /// Records the delta bits for a change of the modem inputs.
    fn note_modem_change(&mut self, before: u8, after: u8) {
        let changed = before ^ after;
        if changed & MSR_CTS != 0 {
            self.msr_deltas |= MSR_DCTS;
        }
        if changed & MSR_DSR != 0 {
            self.msr_deltas |= MSR_DDSR;
        }
        if before & MSR_RI != 0 && after & MSR_RI == 0 {
            self.msr_deltas |= MSR_TERI;
        }
        if changed & MSR_DCD != 0 {
            self.msr_deltas |= MSR_DDCD;
        }
    }

    fn read_msr(&mut self) -> u8 {
        let msr = self.modem_inputs() | self.msr_deltas;
        self.msr_deltas = 0;
        msr
    }

    fn write_ier(&mut self, value: u8) {
        let value = value & IER_VALID;
        // Enabling THRI with the transmitter empty raises it, every time.
        if value & IER_THRI != 0 && self.ier & IER_THRI == 0 {
            self.thri_pending = self.tx.is_empty();
        }
        self.ier = value;
    }

    fn write_fcr(&mut self, value: u8) {
        let toggled = (self.fcr ^ value) & FCR_ENABLE_FIFO != 0;
        if toggled || value & FCR_CLEAR_RCVR != 0 {
            self.clear_rx();
        }
        if toggled || value & FCR_CLEAR_XMIT != 0 {
            if !self.tx.is_empty() {
                self.thri_pending = true;
            }
            self.discard_tx();
        }
        self.fcr = value & (FCR_ENABLE_FIFO | FCR_DMA_SELECT | FCR_TRIGGER_MASK);
    }

    fn clear_rx(&mut self) {
        let had_data = !self.rx.is_empty();
        self.rx.clear();
        self.rx_breaks.clear();
        if had_data {
            self.events.in_buffer_empty();
        }
    }

    fn discard_tx(&mut self) {
        let lost = self.tx.len();
        if lost > 0 {
            self.tx.clear();
            self.events.tx_lost_bytes(lost);
        }
    }

    fn write_mcr(&mut self, value: u8) {
        let before = self.modem_inputs();
        self.mcr = value & MCR_VALID;
        let after = self.modem_inputs();
        self.note_modem_change(before, after);
    }

    fn write_thr(&mut self, byte: u8) {
        // A THR write clears THRI.
        self.thri_pending = false;
        if self.burst_len >= self.capacity() {
            // A FIFO's worth in one burst: flush now, so output never waits
            // long in a buffering sink. THRI stays clear: the guest is still
            // writing.
            self.flush_sink();
            self.burst_len = 0;
        }
        self.burst_len += 1;
        if self.loopback() {
            self.loop_byte(byte);
            return;
        }
        if !self.tx.is_empty() {
            // The sink is blocked; queue behind the bytes already waiting.
            if self.tx.len() < self.capacity() {
                self.tx.push_back(byte);
            } else {
                self.events.tx_lost_byte();
            }
            return;
        }
        self.send_byte(byte);
    }

    /// Offers one THR byte to the sink (the TX FIFO being empty), queueing
    /// it if the sink pushes back. Returns whether it was queued.
    fn send_byte(&mut self, byte: u8) -> bool {
        if self.budget.is_none() {
            return self.send_one(byte);
        }
        let (consumed, blocked) = self.output(&[byte]);
        if consumed == 0 && blocked {
            self.tx.push_back(byte);
            self.events.tx_blocked();
            return true;
        }
        false
    }

    /// [`send_byte`](Self::send_byte) without an output budget: one sink
    /// call when the sink takes the byte, which is nearly always.
    #[inline]
    fn send_one(&mut self, byte: u8) -> bool {
        match self.out.write(&[byte]) {
            Ok(n) if n > 0 => {
                self.unflushed = true;
                self.events.out_bytes(1);
                false
            }
            other => self.send_one_retry(byte, other),
        }
    }

    /// The rest of [`send_one`](Self::send_one) after the sink's answer
    /// `first` was not a plain success: what `output` does for one byte
    /// without a budget (retry `Interrupted`, queue on back-pressure, drop on
    /// a hard error). Returns whether the byte was queued.
    #[cold]
    #[inline(never)]
    fn send_one_retry(&mut self, byte: u8, first: io::Result<usize>) -> bool {
        let mut answer = first;
        let mut interrupted = 0;
        loop {
            match self.sink_answer(answer, &mut interrupted) {
                SinkAnswer::Took(_) => {
                    self.unflushed = true;
                    self.events.out_bytes(1);
                    return false;
                }
                SinkAnswer::Blocked => break,
                SinkAnswer::Retry => {}
                SinkAnswer::Failed => {
                    self.events.tx_lost_bytes(1);
                    return false;
                }
            }
            answer = self.out.write(&[byte]);
        }
        self.tx.push_back(byte);
        self.events.tx_blocked();
        true
    }

    /// What one sink `write` answer means, for `output` and `send_one_retry`
    /// alike: `Ok(0)` and `WouldBlock` are back-pressure, `Interrupted` is
    /// retried up to [`MAX_INTERRUPTED_RETRIES`] times in a row (counted in
    /// `interrupted`) and then treated as back-pressure, any other error is
    /// counted and logged (rate-limited) and the offered bytes are dropped.
    fn sink_answer(&mut self, answer: io::Result<usize>, interrupted: &mut u32) -> SinkAnswer {
        match answer {
            Ok(0) => SinkAnswer::Blocked,
            Ok(n) => SinkAnswer::Took(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => SinkAnswer::Blocked,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                *interrupted += 1;
                if *interrupted > MAX_INTERRUPTED_RETRIES {
                    SinkAnswer::Blocked
                } else {
                    SinkAnswer::Retry
                }
            }
            Err(e) => {
                self.output_failed("write", &e);
                SinkAnswer::Failed
            }
        }
    }

    /// Loopback: the transmitter feeds the receiver; the sink sees nothing.
    fn loop_byte(&mut self, byte: u8) {
        if self.rx.len() < self.capacity() {
            self.rx.push(byte);
        } else {
            self.lsr_errors |= LSR_OE;
            self.events.rx_overrun();
        }
    }

    /// Ends the guest's output burst: flushes the sink and raises THRI if
    /// the transmitter is empty.
    fn end_burst(&mut self) {
        if self.burst_len == 0 {
            return;
        }
        self.burst_len = 0;
        self.thr_limit = 0;
        self.flush_sink();
        if self.tx.is_empty() {
            self.thri_pending = true;
        }
    }

    fn flush_sink(&mut self) {
        if !self.unflushed {
            return;
        }
        self.unflushed = false;
        match self.out.flush() {
            Ok(()) => {}
            // The bytes are still in the writer; it flushes them later.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                self.output_failed("flush", &e);
            }
        }
    }

    /// Offers `buf` to the sink within the output budget. Returns how many
    /// bytes were consumed (written, or dropped by policy or a sink error) and
    /// whether the sink (or a stalling budget) is now blocked.
    fn output(&mut self, buf: &[u8]) -> (usize, bool) {
        let mut done = 0;
        let mut interrupted = 0;
        while let Some(rest) = buf.get(done..).filter(|r| !r.is_empty()) {
            let allowed = match self.budget {
                Some(b) => usize::try_from(b.bytes)
                    .unwrap_or(usize::MAX)
                    .min(rest.len()),
                None => rest.len(),
            };
            if allowed == 0 {
                match self.budget.map(|b| b.when_exhausted) {
                    Some(BudgetAction::Drop) => {
                        self.events.tx_lost_bytes(rest.len());
                        return (buf.len(), false);
                    }
                    _ => return (done, true),
                }
            }
            let chunk = rest.get(..allowed).unwrap_or(rest);
            let answer = self.out.write(chunk);
            match self.sink_answer(answer, &mut interrupted) {
                SinkAnswer::Took(n) => {
                    let n = n.min(chunk.len());
                    done += n;
                    self.unflushed = true;
                    if let Some(b) = self.budget.as_mut() {
                        b.bytes = b.bytes.saturating_sub(n as u64);
                    }
                    self.events.out_bytes(n);
                }
                SinkAnswer::Blocked => return (done, true),
                SinkAnswer::Retry => {}
                SinkAnswer::Failed => {
                    self.events.tx_lost_bytes(rest.len());
                    return (buf.len(), false);
                }
            }
        }
        (done, false)
    }

    fn drain_tx_inner(&mut self) -> usize {
        if self.tx.is_empty() {
            return 0;
        }
        let mut tx = std::mem::take(&mut self.tx);
        let (consumed, blocked) = self.output(tx.make_contiguous());
        tx.drain(..consumed.min(tx.len()));
        self.tx = tx;
        if self.tx.is_empty() {
            self.flush_sink();
            self.thri_pending = true;
        } else if blocked {
            self.events.tx_blocked();
        }
        self.tx.len()
    }

    /// Whether MCR.OUT2 lets the interrupt out (always, unless the platform
    /// gates it).
    fn gate_open(&self) -> bool {
        !self.config.out2_gates_irq || self.mcr & MCR_OUT2 != 0
    }

    /// The interrupt level the device drives now.
    fn line(&self) -> bool {
        self.any_pending() && self.gate_open()
    }

    /// An enabled interrupt other than THRI is pending.
    fn other_pending(&self) -> bool {
        (self.ier & IER_RLSI != 0 && self.lsr_errors & LSR_ERROR_BITS != 0)
            || (self.ier & IER_RDI != 0 && !self.rx.is_empty())
            || (self.ier & IER_MSI != 0 && self.msr_deltas != 0)
    }

    /// `pending_interrupt().is_some()` without the priority encoding.
    fn any_pending(&self) -> bool {
        self.other_pending() || (self.ier & IER_THRI != 0 && self.thri_pending)
    }

    fn fifo_bits(&self) -> u8 {
        if self.fifo_enabled() {
            IIR_FIFO_ENABLED
        } else {
            0
        }
    }

    /// Publishes the level (once per access or host call) and recomputes
    /// every fast-path cache.
    fn update_irq(&mut self) {
        let other = self.other_pending();
        let thri = self.ier & IER_THRI != 0 && self.thri_pending;
        let level = (other || thri) && self.gate_open();
        self.publish(level);
        if !self.irq_synced {
            self.disable_fast_paths();
            return;
        }
        self.tx_path_ok = self.fifo_enabled()
            && self.lcr & LCR_DLAB == 0
            && self.mcr & MCR_LOOP == 0
            && self.tx.is_empty()
            && self.budget.is_none();
        // Clearing THRI (any THR write does) must leave the level alone.
        self.thr_start = self.tx_path_ok && (!level || !thri);
        self.thr_limit =
            if self.tx_path_ok && self.burst_len > 0 && !self.thri_pending && self.unflushed {
                self.config.fifo_size()
            } else {
                0
            };
        self.thri_only = !other && self.ier & IER_THRI != 0;
        self.read_values = self.register_values(other || thri);
        let mut reads = NO_READS;
        if self.burst_len == 0 || self.ier & IER_THRI == 0 {
            reads = self.read_values;
            if self.thri_only && thri {
                if let Some(iir) = reads.get_mut(usize::from(IIR)) {
                    *iir = IIR_CLEARS_THRI;
                }
            }
        }
        self.read_cache = reads;
    }

    /// Hands `level` to the interrupt sink and notes whether it took it.
    fn publish(&mut self, level: bool) {
        match self.irq.set_level(level) {
            Ok(LineChange::Raised) => {
                self.irq_serviced = false;
                self.events.interrupt_raised();
            }
            Ok(LineChange::Unchanged | LineChange::Lowered) => {}
            Err(e) => self.irq_failed(&e),
        }
        self.irq_synced = self.irq.level() == level;
    }

    /// Every access takes the slow path until the next `update_irq`.
    fn disable_fast_paths(&mut self) {
        self.read_cache = NO_READS;
        self.thr_limit = 0;
        self.thr_start = false;
        self.thri_only = false;
    }

    /// The caches after a THRI change in the `thri_only` state, with no
    /// burst open: `thri` says whether THRI is now pending, `level` is the
    /// level just published. Nothing else they depend on changed since the
    /// last update.
    fn cache_thri_only(&mut self, thri: bool, level: bool) {
        if !self.irq_synced {
            self.disable_fast_paths();
            return;
        }
        self.thr_start = self.tx_path_ok && (!level || !thri);
        self.thr_limit = 0;
        let mut reads = self.read_values;
        if let Some(iir) = reads.get_mut(usize::from(IIR)) {
            *iir = if thri {
                IIR_CLEARS_THRI
            } else {
                u16::from(self.fifo_bits() | IIR_NO_INT)
            };
        }
        self.read_cache = reads;
    }

    /// What a read of each register returns without side effects, given
    /// whether an enabled interrupt is `pending` (an open burst aside).
    fn register_values(&self, pending: bool) -> [u16; 8] {
        let dlab = self.dlab();
        let rbr = if dlab {
            u16::from(self.dll)
        } else if self.rx.is_empty() {
            0
        } else if self.rx_breaks.is_empty() {
            RBR_POPS
        } else {
            UNCACHED
        };
        let ier = if dlab { self.dlm } else { self.ier };
        // With nothing pending the published line is low, so the read marks
        // nothing serviced.
        let iir = if pending {
            UNCACHED
        } else {
            u16::from(self.fifo_bits() | IIR_NO_INT)
        };
        let lsr = if self.lsr_errors == 0 {
            u16::from(self.lsr())
        } else {
            UNCACHED
        };
        let msr = if self.msr_deltas == 0 {
            u16::from(self.modem_inputs())
        } else {
            UNCACHED
        };
        [
            rbr,
            u16::from(ier),
            iir,
            u16::from(self.lcr),
            u16::from(self.mcr),
            lsr,
            msr,
            u16::from(self.scr),
        ]
    }

    /// Counts a failed sink write or flush and logs it at powers of two
    /// only: the guest sets the rate (one sink call per THR write), so a
    /// line per failure would let it flood the host's log through a broken
    /// sink.
    fn output_failed(&mut self, what: &str, e: &io::Error) {
        self.output_errors = self.output_errors.saturating_add(1);
        self.events.output_error(e.kind());
        if self.output_errors.is_power_of_two() {
            log::debug!(
                "uart16550: output {what} failed: {e} (seen {} times)",
                self.output_errors
            );
        }
    }

    fn irq_failed(&mut self, e: &T::E) {
        self.irq_errors = self.irq_errors.saturating_add(1);
        self.events.interrupt_error();
        if self.irq_errors.is_power_of_two() {
            log::warn!(
                "uart16550: interrupt sink failed ({e:?}); retrying on the next access (seen {} times)",
                self.irq_errors
            );
        }
    }

    /// Sends a fresh edge if the guest's handler has seen the current one
    /// and the line is still high (see [`Config::rearm_edges`]).
    fn rearm(&mut self) {
        if !self.config.rearm_edges || !self.irq_serviced || !self.irq.level() || !self.line() {
            return;
        }
        if let Err(e) = self.irq.set_level(false) {
            self.irq_failed(&e);
            return;
        }
        self.update_irq();
    }

    // ------------------------------------------------------------------
    // Host side.
    // ------------------------------------------------------------------

    /// Offers `input` to the guest; returns how many bytes fit in the RX FIFO
    /// (0 when it is full). Offer the rest after the `in_buffer_empty` event.
    ///
    /// # Errors
    /// [`InputError::Loopback`] while the guest has the UART in loopback mode
    /// (nothing is taken).
    pub fn enqueue_raw_bytes(&mut self, input: &[u8]) -> Result<usize, InputError> {
        if self.loopback() {
            return Err(InputError::Loopback);
        }
        let room = self.capacity().saturating_sub(self.rx.len());
        let n = self.rx.extend(input.get(..room).unwrap_or(input));
        self.update_irq();
        if !input.is_empty() {
            self.rearm();
        }
        Ok(n)
    }

    /// Free space in the RX FIFO, in bytes (vm-superio's name).
    pub fn fifo_capacity(&self) -> usize {
        self.capacity().saturating_sub(self.rx.len())
    }

    /// Bytes waiting in the RX FIFO for the guest.
    pub fn rx_len(&self) -> usize {
        self.rx.len()
    }

    /// Receives a break: a 0x00 character flagged BI, which Linux turns into a
    /// `SysRq`/kdb break. BI shows in LSR (and raises RLSI) when the character
    /// reaches the head of the RX FIFO.
    ///
    /// # Errors
    /// [`InputError::Loopback`] in loopback mode; [`InputError::RxFull`] when
    /// the RX FIFO has no room (retry after `in_buffer_empty`).
    pub fn send_break(&mut self) -> Result<(), InputError> {
        if self.loopback() {
            return Err(InputError::Loopback);
        }
        if self.rx.len() >= self.capacity() {
            return Err(InputError::RxFull);
        }
        if self.rx.is_empty() {
            self.lsr_errors |= LSR_BI;
        } else {
            let index = self.rx.popped().wrapping_add(self.rx.len() as u64);
            self.rx_breaks.push_back(index);
        }
        self.rx.push(0);
        self.events.break_received();
        self.update_irq();
        self.rearm();
        Ok(())
    }

    /// Sets the modem inputs the guest sees in MSR (outside loopback): any of
    /// [`MSR_DCD`], [`MSR_DSR`], [`MSR_CTS`], [`MSR_RI`]; other bits are
    /// ignored. Changes set the MSR delta bits and may raise MSI. For example,
    /// drop DCD while no client is attached to the console.
    pub fn set_modem_lines(&mut self, lines: u8) {
        let before = self.modem_inputs();
        self.modem_lines = lines & MSR_STATUS_MASK;
        let after = self.modem_inputs();
        self.note_modem_change(before, after);
        self.update_irq();
    }

    /// The host-driven modem inputs.
    pub fn modem_lines(&self) -> u8 {
        self.modem_lines
    }

    /// Ends the guest's output burst now: flushes the sink and raises THRI
    /// (if enabled). Call it when the vCPU exits for a reason other than a
    /// UART access and on a short timer: it bounds how long written bytes
    /// may sit unflushed in a buffering sink. Most bursts end by themselves
    /// (another register access, a FIFO's worth), but a guest that polls LSR
    /// with THRI masked (earlycon, or a console that never restores THRI)
    /// and then stops writing leaves its last bytes to this call.
    pub fn end_tx_burst(&mut self) {
        if self.burst_len == 0 && self.irq_synced {
            // No burst to end and the published level is current: an update
            // would change nothing.
            return;
        }
        if self.burst_len > 0 && self.thri_only && self.tx.is_empty() {
            // THRI is enabled and nothing else can be pending, so the level
            // after raising THRI is the gate's.
            self.end_burst();
            let level = self.gate_open();
            self.publish(level);
            self.cache_thri_only(true, level);
            return;
        }
        self.end_burst();
        self.update_irq();
    }

    /// Offers the bytes waiting in the TX FIFO to the sink again; call it
    /// when the sink is writable after a `tx_blocked` event. Returns the bytes
    /// still waiting (0: drained, THRE is back and THRI raised).
    pub fn drain_tx(&mut self) -> usize {
        let left = self.drain_tx_inner();
        self.update_irq();
        left
    }

    /// Bytes waiting in the TX FIFO because the sink pushed back.
    pub fn tx_pending(&self) -> usize {
        self.tx.len()
    }

    /// Replaces the output budget (`None`: unlimited) and retries waiting output.
    pub fn set_output_budget(&mut self, budget: Option<OutputBudget>) {
        self.budget = budget;
        self.drain_tx();
    }

    /// Grants `bytes` more output budget (no effect while unlimited) and
    /// retries waiting output.
    pub fn add_output_budget(&mut self, bytes: u64) {
        if let Some(b) = self.budget.as_mut() {
            b.bytes = b.bytes.saturating_add(bytes);
        }
        self.drain_tx();
    }

    /// The remaining output budget, if one is set.
    pub fn output_budget(&self) -> Option<OutputBudget> {
        self.budget
    }

    /// What a guest read of IIR would return now, without its side effects
    /// (clearing THRI, ending an output burst). For VMM diagnostics and tests.
    pub fn peek_iir(&self) -> u8 {
        self.iir()
    }

    /// The level of the interrupt output as last published to the sink.
    pub fn irq_level(&self) -> bool {
        self.irq.level()
    }

    /// How many times the interrupt sink returned an error.
    pub fn irq_errors(&self) -> u64 {
        self.irq_errors
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The output sink.
    pub fn writer(&self) -> &W {
        &self.out
    }

    /// The output sink, mutably.
    pub fn writer_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Consumes the UART, returning the output sink.
    pub fn into_writer(self) -> W {
        self.out
    }

    /// The interrupt sink.
    pub fn interrupt_evt(&self) -> &T {
        self.irq.sink()
    }

    /// The events sink.
    pub fn events(&self) -> &EV {
        &self.events
    }
}

impl<T: Trigger, EV: SerialEvents, W: Write> ByteRegisters for Uart16550<T, EV, W> {
    const REGISTER_COUNT: u8 = REGISTER_COUNT;

    fn read_register(&mut self, reg: u8) -> u8 {
        self.read(reg)
    }

    fn write_register(&mut self, reg: u8, value: u8) {
        self.write(reg, value);
    }
}

fn validate_state(s: &Uart16550State, config: &Config) -> Result<(), StateError> {
    if s.version != STATE_VERSION {
        return Err(StateError::Version { found: s.version });
    }
    let masks: [(&'static str, u8, u8); 6] = [
        ("ier", s.ier, IER_VALID),
        (
            "fcr",
            s.fcr,
            FCR_ENABLE_FIFO | FCR_DMA_SELECT | FCR_TRIGGER_MASK,
        ),
        ("mcr", s.mcr, MCR_VALID),
        ("lsr_errors", s.lsr_errors, LSR_ERROR_BITS),
        ("modem_lines", s.modem_lines, MSR_STATUS_MASK),
        ("msr_deltas", s.msr_deltas, MSR_DELTA_MASK),
    ];
    for (field, value, valid) in masks {
        if value & !valid != 0 {
            return Err(StateError::ReservedBits { field, value });
        }
    }
    let capacity = if s.fcr & FCR_ENABLE_FIFO != 0 {
        config.fifo_size()
    } else {
        1
    };
    for (field, len) in [("rx_fifo", s.rx_fifo.len()), ("tx_fifo", s.tx_fifo.len())] {
        if len > capacity {
            return Err(StateError::FifoOverflow {
                field,
                len,
                capacity,
            });
        }
    }
    let rx_len = s.rx_fifo.len();
    let mut prev = 0u32;
    for &i in &s.rx_breaks {
        if i <= prev || usize::try_from(i).map_or(true, |i| i >= rx_len) {
            return Err(StateError::BreakIndex { rx_len });
        }
        prev = i;
    }
    if s.thri_pending && !s.tx_fifo.is_empty() {
        return Err(StateError::ThriWithTxData(s.tx_fifo.len()));
    }
    Ok(())
}

#[cfg(test)]
mod fast_path_tests {
    //! The fast paths of `read`/`write` must be invisible: a UART whose fast
    //! paths are disabled before every call (the plain, always-updating code)
    //! is the oracle for one that takes them.
    use super::*;
    use crate::events::SerialMetrics;
    use proptest::prelude::*;
    use std::sync::Arc;
    use superio_core::test_utils::{RecordingIrq, TestSink};

    #[derive(Debug, Clone)]
    enum Op {
        Read(u8),
        Write(u8, u8),
        /// THR writes with no other access between them.
        Burst(Vec<u8>),
        Enqueue(Vec<u8>),
        Break,
        SetModem(u8),
        EndBurst,
        Drain,
        SinkBudget(Option<u8>),
        SinkError(Option<io::ErrorKind>),
        /// `Some(0)`: every write answers `Ok(0)`.
        SinkMaxWrite(Option<u8>),
        /// Linux's `console_write`: IER saved and zeroed, LSR + THR per
        /// byte, LSR, IER restored (the polled, coalesced burst).
        Console(Vec<u8>),
        IrqFail(u32),
        OutputBudget(Option<(u8, bool)>),
        Reset,
        /// An optional IER write, then THR bytes into a sink that answers
        /// `WouldBlock` (they queue in the TX FIFO), the sink recovers, `drain_tx` empties the FIFO and
        /// raises THRI with the burst still open, `more` THR bytes continue
        /// that burst, then an optional read. Random sequences almost never
        /// line these up, and the caches have cases only this state reaches
        /// (THRI pending inside an open burst).
        DrainMidBurst {
            ier: Option<u8>,
            queued: Vec<u8>,
            more: Vec<u8>,
            then_read: Option<u8>,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => prop_oneof![Just(LSR), Just(RBR), Just(IIR), Just(MSR)].prop_map(Op::Read),
            2 => (0u8..9).prop_map(Op::Read),
            6 => any::<u8>().prop_map(|v| Op::Write(THR, v)),
            3 => (0u8..9, any::<u8>()).prop_map(|(r, v)| Op::Write(r, v)),
            3 => prop_oneof![
                Just(0x00u8),
                Just(0x01),
                Just(0x02),
                Just(0x05),
                Just(0x07),
                Just(0x0F)
            ]
            .prop_map(|v| Op::Write(IER, v)),
            2 => prop_oneof![Just(0x08u8), Just(0x0B), Just(0x18), Just(0x00)]
                .prop_map(|v| Op::Write(MCR, v)),
            1 => prop_oneof![Just(0x01u8), Just(0x07), Just(0xC1), Just(0x00)]
                .prop_map(|v| Op::Write(FCR, v)),
            1 => prop_oneof![Just(0x03u8), Just(0x83)].prop_map(|v| Op::Write(LCR, v)),
            1 => proptest::collection::vec(any::<u8>(), 0..140).prop_map(Op::Burst),
            3 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(Op::Enqueue),
            1 => Just(Op::Break),
            1 => any::<u8>().prop_map(Op::SetModem),
            3 => Just(Op::EndBurst),
            1 => Just(Op::Drain),
            2 => prop_oneof![Just(None), (0u8..4).prop_map(Some)].prop_map(Op::SinkBudget),
            1 => prop_oneof![
                Just(None),
                Just(Some(io::ErrorKind::BrokenPipe)),
                Just(Some(io::ErrorKind::WouldBlock)),
                Just(Some(io::ErrorKind::Interrupted)),
            ]
            .prop_map(Op::SinkError),
            1 => prop_oneof![Just(None), (0u8..2).prop_map(Some)].prop_map(Op::SinkMaxWrite),
            2 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(Op::Console),
            2 => (1u32..3).prop_map(Op::IrqFail),
            1 => prop_oneof![Just(None), (0u8..4, any::<bool>()).prop_map(Some)]
                .prop_map(Op::OutputBudget),
            1 => Just(Op::Reset),
            2 => (
                prop_oneof![Just(None), Just(Some(0x02u8)), Just(Some(0x07)), Just(Some(0x0F))],
                proptest::collection::vec(any::<u8>(), 1..20),
                proptest::collection::vec(any::<u8>(), 0..80),
                prop_oneof![Just(None), Just(Some(IIR)), Just(Some(LSR)), Just(Some(RBR))],
            )
                .prop_map(|(ier, queued, more, then_read)| Op::DrainMidBurst {
                    ier,
                    queued,
                    more,
                    then_read,
                }),
        ]
    }

    struct Side {
        uart: Uart16550<RecordingIrq, Arc<SerialMetrics>, TestSink>,
        irq: RecordingIrq,
        sink: TestSink,
        metrics: Arc<SerialMetrics>,
    }

    impl Side {
        fn new(config: Config) -> Self {
            let irq = RecordingIrq::new();
            let sink = TestSink::new();
            let metrics = Arc::new(SerialMetrics::default());
            let uart =
                Uart16550::with_config(config, irq.clone(), Arc::clone(&metrics), sink.clone());
            Self {
                uart,
                irq,
                sink,
                metrics,
            }
        }

        /// The oracle: no cache survives into any call.
        fn disable(&mut self, slow: bool) {
            if slow {
                self.uart.irq_synced = false;
                self.uart.disable_fast_paths();
            }
        }

        fn rd(&mut self, reg: u8, slow: bool) -> u8 {
            self.disable(slow);
            self.uart.read(reg)
        }

        fn wr(&mut self, reg: u8, value: u8, slow: bool) {
            self.disable(slow);
            self.uart.write(reg, value);
        }

        fn apply(&mut self, op: &Op, slow: bool) -> Option<usize> {
            self.disable(slow);
            match op {
                Op::Read(r) => return Some(usize::from(self.uart.read(*r))),
                Op::Write(r, v) => self.uart.write(*r, *v),
                Op::Burst(bytes) => bytes.iter().for_each(|&b| self.wr(THR, b, slow)),
                Op::Enqueue(bytes) => {
                    return self.uart.enqueue_raw_bytes(bytes).ok();
                }
                Op::Break => return Some(usize::from(self.uart.send_break().is_ok())),
                Op::SetModem(v) => self.uart.set_modem_lines(*v),
                Op::EndBurst => self.uart.end_tx_burst(),
                Op::Drain => return Some(self.uart.drain_tx()),
                Op::SinkBudget(b) => self.sink.set_budget(b.map(usize::from)),
                Op::SinkError(e) => self.sink.set_error(*e),
                Op::SinkMaxWrite(m) => self.sink.set_max_write(m.map(usize::from)),
                Op::Console(bytes) => {
                    let ier = self.rd(IER, slow);
                    self.wr(IER, 0, slow);
                    for &b in bytes {
                        self.rd(LSR, slow);
                        self.wr(THR, b, slow);
                    }
                    self.rd(LSR, slow);
                    self.wr(IER, ier, slow);
                }
                Op::IrqFail(n) => self.irq.fail_next(*n),
                Op::OutputBudget(b) => {
                    self.uart
                        .set_output_budget(b.map(|(bytes, drop)| OutputBudget {
                            bytes: u64::from(bytes),
                            when_exhausted: if drop {
                                BudgetAction::Drop
                            } else {
                                BudgetAction::Stall
                            },
                        }));
                }
                Op::Reset => self.uart.reset(),
                Op::DrainMidBurst {
                    ier,
                    queued,
                    more,
                    then_read,
                } => {
                    if let Some(ier) = ier {
                        self.wr(IER, *ier, slow);
                    }
                    self.sink.set_error(Some(io::ErrorKind::WouldBlock));
                    queued.iter().for_each(|&b| self.wr(THR, b, slow));
                    self.sink.set_error(None);
                    self.disable(slow);
                    let left = self.uart.drain_tx();
                    more.iter().for_each(|&b| self.wr(THR, b, slow));
                    let read = then_read.map(|r| usize::from(self.rd(r, slow)));
                    return Some(left * 0x100 + read.unwrap_or(0x1FF));
                }
            }
            None
        }
    }

    fn check_same(fast: &Side, slow: &Side) -> Result<(), TestCaseError> {
        prop_assert_eq!(fast.uart.state(), slow.uart.state());
        prop_assert_eq!(fast.irq.events(), slow.irq.events());
        prop_assert_eq!(fast.irq.level(), slow.irq.level());
        prop_assert_eq!(fast.uart.irq_level(), slow.uart.irq_level());
        prop_assert_eq!(fast.uart.irq_errors(), slow.uart.irq_errors());
        prop_assert_eq!(fast.sink.data(), slow.sink.data());
        prop_assert_eq!(fast.sink.write_calls(), slow.sink.write_calls());
        prop_assert_eq!(fast.sink.flushes(), slow.sink.flushes());
        prop_assert_eq!(fast.metrics.snapshot(), slow.metrics.snapshot());
        prop_assert_eq!(fast.uart.peek_iir(), slow.uart.peek_iir());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn test_fast_paths_any_sequence_match_always_updating_paths(
            config in prop_oneof![
                Just(Config::default()),
                Just(Config::mmio()),
                Just(Config::default().with_fifo_size(16).unwrap()),
            ],
            linux_setup in any::<bool>(),
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut fast = Side::new(config);
            let mut slow = Side::new(config);
            // Half the runs start where a Linux driver leaves the port: 8N1,
            // FIFOs on, OUT2/RTS/DTR, RX interrupts enabled.
            let setup = [(LCR, 0x03), (FCR, 0xC7), (MCR, 0x0B), (IER, 0x05)];
            let prefix = setup.iter().filter(|_| linux_setup).map(|&(r, v)| Op::Write(r, v));
            for op in prefix.chain(ops.iter().cloned()) {
                let op = &op;
                let errors = fast.uart.irq_errors();
                let a = fast.apply(op, false);
                let b = slow.apply(op, true);
                prop_assert_eq!(a, b, "result of {:?}", op);
                check_same(&fast, &slow)?;
                // Independently of the oracle (whose fast paths are only
                // disabled through irq_synced): a guest access whose update
                // reached the sink leaves the line at !(IIR&1) (AND OUT2).
                let access = match op {
                    Op::Read(_) | Op::Write(..) | Op::Console(_) => true,
                    Op::Burst(bytes) => !bytes.is_empty(),
                    Op::DrainMidBurst { more, then_read, .. } => {
                        !more.is_empty() || then_read.is_some()
                    }
                    _ => false,
                };
                if access && fast.uart.irq_errors() == errors {
                    let gate = !config.out2_gates_irq || fast.uart.state().mcr & MCR_OUT2 != 0;
                    let pending = fast.uart.peek_iir() & IIR_NO_INT == 0;
                    prop_assert_eq!(fast.irq.level(), pending && gate, "line after {:?}", op);
                }
            }
        }
    }
}
