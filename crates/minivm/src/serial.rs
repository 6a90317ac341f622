//! The serial seam: what the VMM needs from the device under COM1, so that
//! our `Uart16550` and, for side-by-side runs, rust-vmm vm-superio's `Serial`
//! (feature `vm-superio`) can be swapped without touching the VMM.
//!
//! The VMM builds a [`SerialWiring`] (interrupt line, host output, "room for
//! input" signal) and hands it to a constructor such as [`superio_uart`]:
//!
//! ```no_run
//! # fn main() -> Result<(), minivm::Error> {
//! let machine = minivm::Machine::new(
//!     minivm::MachineConfig::default(),
//!     minivm::serial::superio_uart,
//!     Box::new(std::io::stdout()),
//! )?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use superio_core::Trigger;
use superio_uart16550::{Config, SerialEvents, Uart16550};
use vmm_sys_util::eventfd::EventFd;

use crate::stats::{self, Stats};

/// What the VMM needs from the serial device on COM1 (ports 0x3F8..=0x3FF).
pub trait SerialPort: Send {
    /// A short name for reports ("superio-uart16550", "vm-superio").
    fn name(&self) -> &'static str;
    /// Guest read of register `offset` (0..8).
    fn read(&mut self, offset: u8) -> u8;
    /// Guest write of `value` to register `offset` (0..8).
    fn write(&mut self, offset: u8, value: u8);
    /// Host input for the guest. Returns how many bytes were taken; the rest
    /// must be offered again after [`SerialWiring::rx_room`] fires.
    fn enqueue_input(&mut self, input: &[u8]) -> usize;
    /// Ends the guest's TX burst and retries output held back by the host
    /// sink. Called on every non-UART VM exit and on a short timer.
    fn flush_output(&mut self) {}
    /// Bytes the device still holds for a blocked host output.
    fn tx_pending(&self) -> usize {
        0
    }
}

impl<S: SerialPort + ?Sized> SerialPort for Box<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn read(&mut self, offset: u8) -> u8 {
        (**self).read(offset)
    }
    fn write(&mut self, offset: u8, value: u8) {
        (**self).write(offset, value);
    }
    fn enqueue_input(&mut self, input: &[u8]) -> usize {
        (**self).enqueue_input(input)
    }
    fn flush_output(&mut self) {
        (**self).flush_output();
    }
    fn tx_pending(&self) -> usize {
        (**self).tx_pending()
    }
}

/// An interrupt line wired to a KVM irqfd: each rise writes the `EventFd`,
/// which the in-kernel PIC/IOAPIC sees as an edge on the GSI. Counts rises.
#[derive(Clone)]
pub struct IrqFdLine {
    fd: Arc<EventFd>,
    stats: Arc<Stats>,
    gsi: u32,
}

impl fmt::Debug for IrqFdLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrqFdLine").field("gsi", &self.gsi).finish()
    }
}

impl IrqFdLine {
    /// A line for `gsi` (1 or 4 here) signalling through `fd`.
    pub fn new(fd: Arc<EventFd>, stats: Arc<Stats>, gsi: u32) -> Self {
        Self { fd, stats, gsi }
    }

    /// The irqfd.
    pub fn fd(&self) -> &EventFd {
        &self.fd
    }
}

impl Trigger for IrqFdLine {
    type E = io::Error;

    fn trigger(&self) -> io::Result<()> {
        self.fd.write(1)?;
        match self.gsi {
            4 => stats::bump(&self.stats.irq4_raised),
            1 => stats::bump(&self.stats.irq1_raised),
            _ => {}
        }
        Ok(())
    }
}

/// The host side of the UART's output: a writer (stdout, a pipe, a test
/// buffer) that counts the bytes it took.
pub struct HostOutput {
    inner: Box<dyn Write + Send>,
    stats: Arc<Stats>,
}

impl fmt::Debug for HostOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostOutput").finish_non_exhaustive()
    }
}

impl HostOutput {
    /// Wraps `inner`, counting into `stats.bytes_out`.
    pub fn new(inner: Box<dyn Write + Send>, stats: Arc<Stats>) -> Self {
        Self { inner, stats }
    }
}

impl Write for HostOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        stats::add(&self.stats.bytes_out, n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Tells the VMM's I/O loop that the guest drained the RX FIFO, so more host
/// input fits ("room available").
#[derive(Clone)]
pub struct RoomSignal(Arc<EventFd>);

impl fmt::Debug for RoomSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoomSignal")
    }
}

impl RoomSignal {
    /// A signal writing `fd`.
    pub fn new(fd: Arc<EventFd>) -> Self {
        Self(fd)
    }

    /// Wakes the I/O loop. A failed write only delays input until the I/O
    /// loop's timer retries, so it is logged, not returned.
    pub fn notify(&self) {
        if let Err(e) = self.0.write(1) {
            log::debug!("rx room signal: {e}");
        }
    }
}

/// Everything a serial device constructor gets from the VMM.
#[derive(Debug)]
pub struct SerialWiring {
    /// IRQ 4, wired to the irqfd on GSI 4.
    pub interrupt: IrqFdLine,
    /// Where the guest's output goes.
    pub output: HostOutput,
    /// Call when the guest drained the RX FIFO.
    pub rx_room: RoomSignal,
}

/// `SerialEvents` for our UART: "the guest emptied the RX FIFO" wakes the
/// VMM's input loop.
#[derive(Debug, Clone)]
pub struct RoomEvents(pub RoomSignal);

impl SerialEvents for RoomEvents {
    fn in_buffer_empty(&self) {
        self.0.notify();
    }
}

/// Our 16550A as the VMM wires it.
pub type SuperioUart = Uart16550<IrqFdLine, RoomEvents, HostOutput>;

/// Builds our 16550A with PIO defaults (64-byte FIFOs, OUT2 gates the line).
pub fn superio_uart(wiring: SerialWiring) -> SuperioUart {
    Uart16550::with_config(
        Config::default(),
        wiring.interrupt,
        RoomEvents(wiring.rx_room),
        wiring.output,
    )
}

impl SerialPort for SuperioUart {
    fn name(&self) -> &'static str {
        "superio-uart16550"
    }
    fn read(&mut self, offset: u8) -> u8 {
        Uart16550::read(self, offset)
    }
    fn write(&mut self, offset: u8, value: u8) {
        Uart16550::write(self, offset, value);
    }
    fn enqueue_input(&mut self, input: &[u8]) -> usize {
        // Loopback mode takes no host input; the guest leaves it after its probe.
        self.enqueue_raw_bytes(input).unwrap_or(0)
    }
    fn flush_output(&mut self) {
        self.end_tx_burst();
        if self.tx_pending() > 0 {
            self.drain_tx();
        }
    }
    fn tx_pending(&self) -> usize {
        Uart16550::tx_pending(self)
    }
}

#[cfg(feature = "vm-superio")]
pub use self::vm_superio_port::{vm_superio_serial, VmSuperioSerial};

#[cfg(feature = "vm-superio")]
mod vm_superio_port {
    use super::{IrqFdLine, RoomSignal, SerialPort, SerialWiring};
    use crate::serial::HostOutput;
    use superio_core::Trigger as _;

    /// vm-superio's own `Trigger` for our counting irqfd line.
    #[derive(Debug)]
    pub struct VmSuperioIrq(IrqFdLine);

    impl vm_superio::Trigger for VmSuperioIrq {
        type E = std::io::Error;
        fn trigger(&self) -> std::io::Result<()> {
            self.0.trigger()
        }
    }

    /// vm-superio's `SerialEvents` waking the input loop.
    #[derive(Debug)]
    pub struct VmSuperioEvents(RoomSignal);

    impl vm_superio::serial::SerialEvents for VmSuperioEvents {
        fn buffer_read(&self) {}
        fn out_byte(&self) {}
        fn tx_lost_byte(&self) {}
        fn in_buffer_empty(&self) {
            self.0.notify();
        }
    }

    /// rust-vmm vm-superio 0.8.2's `Serial` as the VMM wires it.
    pub type VmSuperioSerial = vm_superio::Serial<VmSuperioIrq, VmSuperioEvents, HostOutput>;

    /// Builds vm-superio's `Serial` (it fires an edge per event and writes
    /// and flushes each output byte).
    pub fn vm_superio_serial(wiring: SerialWiring) -> VmSuperioSerial {
        vm_superio::Serial::with_events(
            VmSuperioIrq(wiring.interrupt),
            VmSuperioEvents(wiring.rx_room),
            wiring.output,
        )
    }

    impl SerialPort for VmSuperioSerial {
        fn name(&self) -> &'static str {
            "vm-superio"
        }
        fn read(&mut self, offset: u8) -> u8 {
            vm_superio::Serial::read(self, offset)
        }
        fn write(&mut self, offset: u8, value: u8) {
            // Its only errors are output/interrupt failures; the byte is lost
            // either way (that is one of the things we measure).
            if let Err(e) = vm_superio::Serial::write(self, offset, value) {
                log::debug!("vm-superio write: {e:?}");
            }
        }
        fn enqueue_input(&mut self, input: &[u8]) -> usize {
            self.enqueue_raw_bytes(input).unwrap_or(0)
        }
    }
}
