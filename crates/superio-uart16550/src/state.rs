//! Configuration, snapshot state and errors.

use crate::regs;

/// Smallest FIFO depth accepted: the 16550A's own.
pub const MIN_FIFO_SIZE: usize = regs::HW_FIFO_SIZE;
/// Largest FIFO depth accepted; bounds the memory a guest can make the device hold.
pub const MAX_FIFO_SIZE: usize = 4096;
/// Default FIFO depth (RX and TX). A real 16550A has 16 (see the crate docs
/// for the one place Linux notices, and use [`Config::with_fifo_size`]`(16)`
/// for exact fidelity).
pub const DEFAULT_FIFO_SIZE: usize = 64;

/// What happens to guest output once the [`OutputBudget`] is used up.
///
/// ```
/// use superio_core::test_utils::{RecordingIrq, TestSink};
/// use superio_uart16550::{regs, BudgetAction, Config, NoEvents, OutputBudget, Uart16550};
///
/// let budget = OutputBudget { bytes: 1, when_exhausted: BudgetAction::Stall };
/// let config = Config::default().with_output_budget(Some(budget));
/// let sink = TestSink::new();
/// let mut uart = Uart16550::with_config(config, RecordingIrq::new(), NoEvents, sink.clone());
/// uart.write(regs::FCR, regs::FCR_ENABLE_FIFO);
/// uart.write(regs::THR, b'a');
/// uart.write(regs::THR, b'b'); // over budget: held, THRE drops
/// assert_eq!(uart.read(regs::LSR) & regs::LSR_THRE, 0);
/// uart.add_output_budget(1);
/// assert_eq!(sink.data(), b"ab");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum BudgetAction {
    /// Drop further output, counting each byte through `tx_lost_byte`; the
    /// guest keeps running at full speed.
    Drop,
    /// Keep further output in the TX FIFO (THRE reads 0): the guest waits
    /// until the VMM grants more with `add_output_budget`.
    Stall,
}

/// A limit on the bytes the guest may write to the sink (e.g. to keep a
/// hostile guest from filling the host disk through a log file).
///
/// ```
/// use superio_uart16550::{BudgetAction, Config, OutputBudget};
///
/// // At most 64 MiB of console log; drop (and count) the rest.
/// let config = Config::default().with_output_budget(Some(OutputBudget {
///     bytes: 64 << 20,
///     when_exhausted: BudgetAction::Drop,
/// }));
/// assert_eq!(config.output_budget.unwrap().bytes, 64 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OutputBudget {
    /// Bytes the sink may still receive.
    pub bytes: u64,
    /// What to do when they are used up.
    pub when_exhausted: BudgetAction,
}

/// How a UART is built. `Config::default()` is a PC COM port.
///
/// ```
/// use superio_uart16550::{BudgetAction, Config, OutputBudget};
///
/// let pc = Config::default(); // 64-byte FIFOs, MCR.OUT2 gates the interrupt
/// assert!(pc.out2_gates_irq);
/// let exact = Config::default().with_fifo_size(16).unwrap();
/// let dt = Config::mmio().with_output_budget(Some(OutputBudget {
///     bytes: 1 << 20,
///     when_exhausted: BudgetAction::Drop,
/// }));
/// assert!(!dt.out2_gates_irq);
/// assert_eq!(exact.fifo_size(), 16);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    fifo_size: usize,
    /// AND the interrupt output with MCR.OUT2, as PC boards wire it.
    pub out2_gates_irq: bool,
    /// When the host offers input while the line is still high and the guest
    /// has already read IIR since the last rise, send a fresh edge (lower then
    /// raise). This keeps an edge-triggered guest receiving when its handler
    /// gave up with data still pending (Linux stops after 512 passes).
    pub rearm_edges: bool,
    /// The initial output budget; `None` means unlimited.
    pub output_budget: Option<OutputBudget>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            fifo_size: DEFAULT_FIFO_SIZE,
            out2_gates_irq: true,
            rearm_edges: true,
            output_budget: None,
        }
    }
}

impl Config {
    /// A device-tree `ns16550a` on MMIO: like the default, but the interrupt
    /// is not gated by MCR.OUT2 (no PC glue logic).
    pub fn mmio() -> Self {
        Self {
            out2_gates_irq: false,
            ..Self::default()
        }
    }

    /// Sets the RX and TX FIFO depth.
    ///
    /// # Errors
    /// [`ConfigError::FifoSize`] outside [`MIN_FIFO_SIZE`]`..=`[`MAX_FIFO_SIZE`].
    pub fn with_fifo_size(mut self, fifo_size: usize) -> Result<Self, ConfigError> {
        if !(MIN_FIFO_SIZE..=MAX_FIFO_SIZE).contains(&fifo_size) {
            return Err(ConfigError::FifoSize(fifo_size));
        }
        self.fifo_size = fifo_size;
        Ok(self)
    }

    /// Sets whether MCR.OUT2 gates the interrupt output.
    pub fn with_out2_gate(mut self, gate: bool) -> Self {
        self.out2_gates_irq = gate;
        self
    }

    /// Sets the initial output budget.
    pub fn with_output_budget(mut self, budget: Option<OutputBudget>) -> Self {
        self.output_budget = budget;
        self
    }

    /// The RX and TX FIFO depth.
    pub fn fifo_size(&self) -> usize {
        self.fifo_size
    }
}

/// A configuration the UART cannot have.
///
/// ```
/// use superio_uart16550::{Config, ConfigError};
///
/// assert_eq!(Config::default().with_fifo_size(8), Err(ConfigError::FifoSize(8)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The FIFO depth is out of range; pick one between 16 and 4096.
    #[error("FIFO size {0} is out of range: choose {MIN_FIFO_SIZE}..={MAX_FIFO_SIZE} bytes")]
    FifoSize(usize),
}

/// The host cannot hand input to the guest right now.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_uart16550::{regs, InputError, Uart16550};
///
/// let mut uart = Uart16550::new(RecordingIrq::new(), std::io::sink());
/// uart.write(regs::MCR, regs::MCR_LOOP);
/// assert_eq!(uart.enqueue_raw_bytes(b"x"), Err(InputError::Loopback));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The guest put the UART in loopback mode (MCR.LOOP), which disconnects
    /// the receiver from the line. Keep the input and offer it again later.
    #[error("the UART is in loopback mode: keep the input and retry once the guest leaves it")]
    Loopback,
    /// The RX FIFO has no room for a break character. Retry after the
    /// `in_buffer_empty` event.
    #[error("the receive FIFO is full: retry after the in_buffer_empty event")]
    RxFull,
}

/// Version of [`Uart16550State`] this crate writes.
pub const STATE_VERSION: u32 = 1;

/// A snapshot of the UART: everything the guest can observe, and the bytes in
/// flight. Built by `Uart16550::state`, checked by `Uart16550::from_state`.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_uart16550::{regs, Config, NoEvents, Uart16550};
///
/// let mut uart = Uart16550::new(RecordingIrq::new(), std::io::sink());
/// uart.write(regs::FCR, regs::FCR_ENABLE_FIFO);
/// uart.write(regs::MCR, regs::MCR_OUT2);
/// uart.write(regs::IER, regs::IER_RDI);
/// uart.enqueue_raw_bytes(b"pending").unwrap();
/// let snapshot = uart.state();
///
/// // On the destination host: a fresh interrupt sink sees the pending RX at once.
/// let irq = RecordingIrq::new();
/// let mut restored =
///     Uart16550::from_state(&snapshot, Config::default(), irq.clone(), NoEvents, std::io::sink())
///         .unwrap();
/// assert!(irq.level());
/// assert_eq!(restored.read(regs::RBR), b'p');
/// ```
///
/// The interrupt line is not stored: it is derived from the registers when
/// the device is restored. An output burst still open when the snapshot was
/// taken is recorded as ended (THRI pending if the TX FIFO was empty).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Uart16550State {
    /// [`STATE_VERSION`] when written by this crate.
    pub version: u32,
    /// Divisor latch, low byte.
    pub dll: u8,
    /// Divisor latch, high byte.
    pub dlm: u8,
    /// IER (only [`regs::IER_VALID`] bits).
    pub ier: u8,
    /// FCR as last written: [`regs::FCR_ENABLE_FIFO`], [`regs::FCR_DMA_SELECT`]
    /// and the trigger bits (the clear bits self-clear).
    pub fcr: u8,
    /// LCR.
    pub lcr: u8,
    /// MCR (only [`regs::MCR_VALID`] bits).
    pub mcr: u8,
    /// SCR.
    pub scr: u8,
    /// LSR error bits not yet read ([`regs::LSR_ERROR_BITS`]).
    pub lsr_errors: u8,
    /// The host-driven modem inputs ([`regs::MSR_STATUS_MASK`] bits).
    pub modem_lines: u8,
    /// MSR delta bits not yet read ([`regs::MSR_DELTA_MASK`]).
    pub msr_deltas: u8,
    /// A THR-empty interrupt is pending (not yet cleared by an IIR read or a THR write).
    pub thri_pending: bool,
    /// Bytes waiting for the guest, oldest first.
    pub rx_fifo: Vec<u8>,
    /// Indices into `rx_fifo` of break characters whose BI the guest has not
    /// seen yet (strictly increasing, never 0: the head's BI is in `lsr_errors`).
    pub rx_breaks: Vec<u32>,
    /// Guest output the sink has not taken yet, oldest first.
    pub tx_fifo: Vec<u8>,
    /// Remaining output budget, if one is set.
    #[cfg_attr(feature = "serde", serde(deserialize_with = "Option::deserialize"))]
    pub output_budget: Option<OutputBudget>,
}

impl Default for Uart16550State {
    /// The power-on state.
    fn default() -> Self {
        let [dll, dlm] = regs::RESET_DIVISOR.to_le_bytes();
        Self {
            version: STATE_VERSION,
            dll,
            dlm,
            ier: 0,
            fcr: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            lsr_errors: 0,
            modem_lines: regs::RESET_MODEM_LINES,
            msr_deltas: 0,
            thri_pending: false,
            rx_fifo: Vec::new(),
            rx_breaks: Vec::new(),
            tx_fifo: Vec::new(),
            output_budget: None,
        }
    }
}

/// A snapshot that cannot be restored. Each variant names the field; the
/// snapshot is corrupt or from an incompatible version, so the VMM should
/// fail the restore (or start the UART from power-on state).
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_uart16550::{Config, NoEvents, StateError, Uart16550, Uart16550State};
///
/// let corrupt = Uart16550State { ier: 0xFF, ..Uart16550State::default() };
/// let err = Uart16550::from_state(&corrupt, Config::default(), RecordingIrq::new(), NoEvents, std::io::sink())
///     .unwrap_err();
/// assert_eq!(err, StateError::ReservedBits { field: "ier", value: 0xFF });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The snapshot was written by an unknown version of this crate.
    #[error(
        "UART state version {found} is not supported (this crate reads version {STATE_VERSION})"
    )]
    Version {
        /// The version found.
        found: u32,
    },
    /// A register holds bits the 16550A does not implement.
    #[error("UART state field {field} = {value:#04x} has bits a 16550A does not implement")]
    ReservedBits {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u8,
    },
    /// A FIFO holds more bytes than it can in the restored configuration and
    /// FIFO mode (1 byte when FCR disables the FIFOs).
    #[error("UART state {field} holds {len} bytes but the FIFO holds at most {capacity}")]
    FifoOverflow {
        /// The field.
        field: &'static str,
        /// Bytes in it.
        len: usize,
        /// The capacity.
        capacity: usize,
    },
    /// `rx_breaks` is not strictly increasing within `1..rx_fifo.len()`.
    #[error("UART state rx_breaks is not a strictly increasing list of indices in 1..{rx_len}")]
    BreakIndex {
        /// `rx_fifo.len()`.
        rx_len: usize,
    },
    /// TX bytes are pending while THRI is pending too: THRI means the TX FIFO is empty.
    #[error("UART state has a THR-empty interrupt pending with {0} bytes in the TX FIFO")]
    ThriWithTxData(usize),
}
