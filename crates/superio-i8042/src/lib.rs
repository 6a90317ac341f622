//! An i8042 PS/2 keyboard controller with an AT (MF2) keyboard, for VMMs:
//! what Linux, SeaBIOS and other PC software probe, scan codes in the mode the
//! guest chose, and CPU reset.
//!
//! The device occupies I/O ports 0x60..=0x64 as five byte registers (see
//! [`I8042`] and its [`ByteRegisters`] implementation): register 0 is the data
//! port, register 4 the status/command port. Put it on a PIO bus with
//! [`superio_core::PioBytes`]:
//!
//! ```
//! use superio_core::{BusDevice, PioBytes};
//! use superio_i8042::{I8042, CMD_READ_CTR, CTR_BIOS_DEFAULT};
//! use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
//!
//! let irq1 = EventFd::new(EFD_NONBLOCK).unwrap(); // register as the irqfd of GSI 1
//! let reset = EventFd::new(EFD_NONBLOCK).unwrap(); // the VMM resets the VM when it fires
//! let irq12 = EventFd::new(EFD_NONBLOCK).unwrap(); // GSI 12
//! let mut bus = PioBytes::new(I8042::new(irq1, reset).with_aux_interrupt(irq12));
//!
//! // The guest reads the configuration byte: `outb(0x20, 0x64); inb(0x60)`.
//! bus.write(4, &[CMD_READ_CTR]);
//! let mut ctr = [0u8];
//! bus.read(0, &mut ctr);
//! assert_eq!(ctr[0], CTR_BIOS_DEFAULT);
//! ```
//!
//! # Model
//! * **Output**: one output buffer (OBF) fed, when it empties, by a pending
//!   controller reply first and then by the keyboard's queue while the
//!   keyboard interface is enabled. All of it together never exceeds
//!   [`OUTPUT_CAPACITY`] (16) bytes, the most Linux's flush reads.
//! * **Interrupts are levels**: IRQ1 is high while OBF holds a non-AUX byte
//!   and CTR.KBDINT is set; IRQ12 likewise for AUX bytes and CTR.AUXINT. Each
//!   read of port 0x60 lowers the line and loads the next byte, which raises
//!   it again: one byte per edge, as Linux's `i8042_interrupt` expects.
//! * **Keyboard**: scan code sets 1 and 2, translation to set 1 by the
//!   controller when CTR.XLATE is set, the command protocol Linux's atkbd
//!   and SeaBIOS use.
//! * **Auxiliary port**: no mouse. The controller side answers Linux's probe
//!   quickly (loopback 0xD3, test 0xA9, "no MUX"), and bytes sent to the
//!   mouse (0xD4) fail at once with 0xFE + TIMEOUT, as with an empty port.
//!
//! The crate README lists what is not emulated and the threat model.
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
mod i8042;
mod keyboard;
mod regs;
mod scancode;
mod state;

pub use events::{I8042Counters, I8042Events, NoEvents};
pub use i8042::{I8042Config, I8042Error, I8042, OUTPUT_CAPACITY, REPLY_RESERVE};
pub use keyboard::{LED_CAPS_LOCK, LED_MASK, LED_NUM_LOCK, LED_SCROLL_LOCK, TYPEMATIC_MASK};
pub use regs::*;
pub use scancode::{
    set1_to_set2, set2_to_set1, translate_byte, untranslate_byte, Key, ScanCodeSet, Translator,
    XLATE_TABLE,
};
pub use state::{
    ByteSource, I8042State, KeyboardState, OutputByte, StateError, RAM_SIZE, STATE_VERSION,
};
pub use superio_core::ByteRegisters;
