//! The built-in guest program and the memory layout it shares with the VMM.
//!
//! The guest is `guest/guest.S` (GNU as, 16-bit real mode), assembled by
//! `build.rs` with the machine's binutils. Read that file to see exactly what
//! the guest does to the devices; change it and rebuild to make it do more.

/// The assembled guest, a flat binary loaded at [`LOAD_ADDR`].
pub static IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.bin"));

/// Guest-physical address the image is loaded at and starts executing from
/// (real mode, `CS:IP = 0000:1000`).
pub const LOAD_ADDR: u64 = 0x1000;

/// Initial stack pointer (`SS = 0`).
pub const STACK_TOP: u64 = 0x7000;

/// A byte the VMM writes before the guest starts: [`CONFIG_FORCE_POLLING`].
pub const CONFIG_ADDR: u64 = 0x0500;

/// `CONFIG_ADDR` bit 0: do not probe interrupts, use polled I/O.
pub const CONFIG_FORCE_POLLING: u8 = 0x01;

/// `CONFIG_ADDR` bit 1: count and checksum input instead of echoing it.
pub const CONFIG_RX_ONLY: u8 = 0x02;

/// `CONFIG_ADDR` bit 2: input byte `i` must be `i % 251`; the guest counts
/// mismatches and reports the first (a data-integrity check for RX runs).
pub const CONFIG_RX_VERIFY: u8 = 0x04;

/// A little-endian `u32` the VMM writes before the guest starts: bytes the
/// guest transmits once ready (then it resets); 0 for none.
pub const TX_COUNT_ADDR: u64 = 0x0504;

/// Line length of the TX workload, newline included: byte `i` is `b'\n'`
/// when `i % 64 == 63`, else `b'!' + (i % 64)`.
pub const TX_LINE: usize = 64;

/// The first `len` bytes the TX workload sends (see [`TX_LINE`]).
///
/// ```
/// assert_eq!(&minivm::guest::tx_pattern(66)[62..], b"_\n!\"");
/// ```
pub fn tx_pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| match i % TX_LINE {
            63 => b'\n',
            col => b'!' + u8::try_from(col).unwrap_or(0),
        })
        .collect()
}

/// Guest RAM size: the guest uses well under 64 KiB; 1 MiB is the real-mode space.
pub const MEM_SIZE: usize = 1 << 20;

/// How the TX workload ends.
pub const TX_DONE_LINE: &str =
    "guest: TX workload done: resetting through the i8042 (0xFE on port 0x64)";

/// The line the guest prints when IRQ 4 reached it during its interrupt probe.
pub const IRQ_DELIVERED_LINE: &str = "irq: IRQ 4 delivered through the PIC: interrupt-driven I/O";

/// The line the guest prints when no IRQ 4 arrived during its interrupt probe.
pub const IRQ_MISSING_LINE: &str = "irq: no IRQ 4 arrived: polled I/O";

/// The POST code port: the guest writes boot milestones here.
pub const POST_PORT: u16 = 0x80;

/// POST code: the echo loop runs and the keyboard is live (input and
/// Ctrl+Alt+Del are handled from now on).
pub const POST_READY: u8 = 0x01;

/// Input for [`CONFIG_RX_VERIFY`]: byte `i` is `i % 251` (251 is prime, so
/// the pattern never lines up with a FIFO or buffer size).
pub fn verify_pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect()
}
