//! superio: legacy-device emulation for virtual machine monitors.
//!
//! This facade re-exports the device crates, each behind a default feature, so
//! a VMM can depend on `superio` for everything or on a single device crate
//! alone:
//!
//! | feature | module | crate | device |
//! |---|---|---|---|
//! | `uart16550` | [`uart16550`] | `superio-uart16550` | 16550A UART |
//! | `i8042` | [`i8042`] | `superio-i8042` | i8042 PS/2 controller + AT keyboard |
//! | `pl031` | [`pl031`] | `superio-pl031` | ARM PL031 real-time clock |
//! | (always) | [`core`] | `superio-core` | bus and interrupt traits |
//! | `serde` | | | serde derives on every device state |
//!
//! Every device follows the same shape: a state machine generic over its
//! interrupt sink ([`core::Trigger`], e.g. an irqfd `EventFd`), put on a bus
//! through a [`core`] adapter.
//!
//! The UART on a PC's COM1 (ports 0x3f8..=0x3ff):
//! ```
//! # #[cfg(feature = "uart16550")] {
//! use superio::core::{BusDevice, PioBytes};
//! use superio::uart16550::Uart16550;
//! use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
//!
//! let irq = EventFd::new(EFD_NONBLOCK).unwrap();
//! let mut com1 = PioBytes::new(Uart16550::new(irq, Vec::new()));
//! com1.write(0, b"A"); // THR at 0x3f8
//! assert_eq!(com1.inner().writer().as_slice(), b"A");
//! # }
//! ```
//!
//! The i8042 on ports 0x60..=0x64, with a reset `EventFd` the VMM watches:
//! ```
//! # #[cfg(feature = "i8042")] {
//! use superio::core::{BusDevice, PioBytes};
//! use superio::i8042::I8042;
//! use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
//!
//! let reset = EventFd::new(EFD_NONBLOCK).unwrap();
//! let mut kbc = PioBytes::new(I8042::new(EventFd::new(EFD_NONBLOCK).unwrap(), reset));
//! kbc.write(4, &[0xfe]); // pulse the CPU reset line: 0xFE on port 0x64
//! assert_eq!(kbc.inner().reset_trigger().read().unwrap(), 1);
//! # }
//! ```
//!
//! The PL031 on MMIO (a 0x1000-byte window), on the host's real-time clock:
//! ```
//! # #[cfg(feature = "pl031")] {
//! use superio::core::{BusDevice, Mmio32};
//! use superio::pl031::Pl031;
//! use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
//!
//! let mut rtc = Mmio32::new(Pl031::new(EventFd::new(EFD_NONBLOCK).unwrap()));
//! let mut cell_id0 = [0u8; 4];
//! rtc.read(0xff0, &mut cell_id0);
//! assert_eq!(u32::from_le_bytes(cell_id0), 0x0d); // PrimeCell ID: 0xB105F00D
//! # }
//! ```
#![forbid(unsafe_code)]

#[doc(inline)]
pub use superio_core as core;

#[cfg(feature = "i8042")]
#[doc(inline)]
pub use superio_i8042 as i8042;
#[cfg(feature = "pl031")]
#[doc(inline)]
pub use superio_pl031 as pl031;
#[cfg(feature = "uart16550")]
#[doc(inline)]
pub use superio_uart16550 as uart16550;
