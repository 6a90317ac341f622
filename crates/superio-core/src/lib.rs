//! Shared foundations of the superio device crates: how a device signals its
//! interrupt output, and how a VMM's bus reaches its registers.
//!
//! # Interrupts are levels
//! Every superio device computes the level of its interrupt output after each
//! state change and reports *changes* of that level to a [`Trigger`]: `trigger()`
//! on a rise, `lower()` on a fall. An edge sink (an irqfd [`EventFd`], an ISA
//! line on a PIC) implements only `trigger()`; a level sink (a GIC SPI, a PIC
//! line driven with `KVM_IRQ_LINE`) implements both. [`IrqLine`] is the small
//! helper every device uses to publish changes exactly once.
//!
//! # Buses
//! Devices expose their registers through [`ByteRegisters`] (UART, i8042) or
//! [`WordRegisters`] (PL031). The adapters [`PioBytes`], [`MmioBytes`] and
//! [`Mmio32`] turn them into a [`BusDevice`] that checks offset and access width
//! once, counts bad accesses in [`BusStats`] and never panics.
//!
//! ```
//! use superio_core::{BusDevice, ByteRegisters, PioBytes};
//!
//! /// A one-register scratch device.
//! #[derive(Debug, Default)]
//! struct Scratch(u8);
//! impl ByteRegisters for Scratch {
//!     const REGISTER_COUNT: u8 = 1;
//!     fn read_register(&mut self, _reg: u8) -> u8 { self.0 }
//!     fn write_register(&mut self, _reg: u8, value: u8) { self.0 = value; }
//! }
//!
//! let mut bus = PioBytes::new(Scratch::default());
//! bus.write(0, &[0x5a]);
//! let mut data = [0u8; 1];
//! bus.read(0, &mut data);
//! assert_eq!(data, [0x5a]);
//! // A 2-byte access to a byte register is counted and ignored.
//! bus.write(0, &[1, 2]);
//! assert_eq!(bus.stats().invalid_width, 1);
//! ```
//!
//! [`EventFd`]: vmm_sys_util::eventfd::EventFd
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

pub mod bus;
pub mod interrupt;
#[cfg(feature = "test-utils")]
pub mod test_utils;

pub use bus::{
    BusConfigError, BusDevice, BusStats, ByteRegisters, Mmio32, MmioBytes, PioBytes, WordRegisters,
};
pub use interrupt::{IrqLine, LineChange, ResampleIrqFd, Trigger};
