//! A 16550A UART for VMMs: FIFOs, a priority-encoded IIR, a level interrupt
//! output, loopback, modem lines, and back-pressured, coalesced output.
//!
//! [`Uart16550`] is a pure state machine: register reads and writes in,
//! effects out through three small traits it is generic over: the interrupt
//! sink ([`superio_core::Trigger`]), the events/metrics sink
//! ([`SerialEvents`]) and the output sink ([`std::io::Write`]).
//!
//! # On a PIO bus (PC COM1 at 0x3F8, IRQ 4)
//! ```
//! use superio_core::{BusDevice, PioBytes};
//! use superio_uart16550::{regs, Uart16550};
//! use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
//!
//! let irqfd = EventFd::new(EFD_NONBLOCK).unwrap(); // register as KVM irqfd for GSI 4
//! let mut com1 = PioBytes::new(Uart16550::new(irqfd, Vec::new()));
//! // The VMM's PIO dispatch: port - 0x3F8 is the offset.
//! com1.write(u64::from(regs::THR), b"A");
//! let mut lsr = [0u8];
//! com1.read(u64::from(regs::LSR), &mut lsr);
//! assert_eq!(lsr[0] & regs::LSR_THRE, regs::LSR_THRE);
//! assert_eq!(com1.inner().writer().as_slice(), b"A");
//! ```
//!
//! # On MMIO (device tree `ns16550a`, `reg-shift = <2>`, `reg-io-width = <4>`)
//! ```
//! use superio_core::{BusDevice, MmioBytes};
//! use superio_core::test_utils::RecordingIrq;
//! use superio_uart16550::{regs, Config, NoEvents, Uart16550};
//!
//! let uart = Uart16550::with_config(Config::mmio(), RecordingIrq::new(), NoEvents, Vec::new());
//! let mut bus = MmioBytes::new(uart, 2, 4).unwrap();
//! bus.write(u64::from(regs::SCR) << 2, &0x5au32.to_le_bytes());
//! let mut word = [0u8; 4];
//! bus.read(u64::from(regs::SCR) << 2, &mut word);
//! assert_eq!(u32::from_le_bytes(word), 0x5a);
//! ```
//!
//! # Fidelity notes
//! - The FIFOs are [`DEFAULT_FIFO_SIZE`] (64) bytes deep by default, as this
//!   project's design asks; a real 16550A has 16 ([`regs::HW_FIFO_SIZE`]).
//!   Linux notices in one place: on kernels built with
//!   `CONFIG_SERIAL_8250_16550A_VARIANTS` (Debian arm64) probing a port that
//!   is *not* described by a device tree (e.g. ACPI PNP0501), `size_fifo()`
//!   counts 64 loopback bytes and calls the port a `U6_16550A` (which it then
//!   drives correctly, with 64-byte loads). Use
//!   [`Config::with_fifo_size`]`(16)` to be a bit-exact 16550A.
//! - With the FIFOs disabled (FCR bit 0 = 0, the reset state) each FIFO is a
//!   one-byte holding register, as on the chip.
//! - There is no baud-rate timing: the divisor is stored and read back, and
//!   output is instant. The character-timeout interrupt is reported as soon as
//!   data below the trigger level is waiting.
//! - Parity and framing errors never occur; LSR therefore never reads 0xFF.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod events;
pub mod regs;
mod ring;
mod state;
mod uart;

pub use events::{MetricsSnapshot, NoEvents, SerialEvents, SerialMetrics};
pub use state::{
    BudgetAction, Config, ConfigError, InputError, OutputBudget, StateError, Uart16550State,
    DEFAULT_FIFO_SIZE, MAX_FIFO_SIZE, MIN_FIFO_SIZE, STATE_VERSION,
};
pub use uart::{Serial, Uart16550};
