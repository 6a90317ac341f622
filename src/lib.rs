//! superio: legacy-device emulation for virtual machine monitors.
//!
//! This facade re-exports the device crates, each behind a default feature, so
//! a VMM can depend on one crate for everything or on a single device crate
//! alone:
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `uart16550` | [`uart16550`] | `superio-uart16550` |
//! | `i8042` | [`i8042`] | `superio-i8042` |
//! | `pl031` | [`pl031`] | `superio-pl031` |
//! | (always) | [`core`] | `superio-core`: bus and interrupt traits |
//! | `serde` | | serde derives on every device state |
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
