//! What the UART tells its VMM besides the interrupt line: flow-control
//! signals (room for input, output blocked) and metrics.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Callbacks the UART makes as things happen; every method defaults to doing
/// nothing.
///
/// The first four keep the names and meanings of vm-superio's `SerialEvents`,
/// so an implementation written for vm-superio compiles unchanged. The others
/// are what a VMM needs for flow control and metrics. Two of them matter for
/// correctness, not just statistics:
/// - [`in_buffer_empty`](SerialEvents::in_buffer_empty): the guest emptied the
///   RX FIFO; resume feeding input with `enqueue_raw_bytes`.
/// - [`tx_blocked`](SerialEvents::tx_blocked): the output sink pushed back;
///   wait until it is writable, then call `drain_tx`.
///
/// Callbacks run inside a register access with the device borrowed, so they
/// cannot call back into the UART: signal an `EventFd` or set a flag instead.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use superio_uart16550::SerialEvents;
///
/// #[derive(Debug, Default)]
/// struct Flow { want_input: AtomicBool }
/// impl SerialEvents for Flow {
///     fn in_buffer_empty(&self) { self.want_input.store(true, Ordering::Relaxed); }
/// }
/// let flow = Flow::default();
/// flow.in_buffer_empty();
/// assert!(flow.want_input.load(Ordering::Relaxed));
/// ```
pub trait SerialEvents {
    /// The guest read one byte from the RX FIFO (RBR).
    fn buffer_read(&self) {}
    /// One byte reached the output sink.
    fn out_byte(&self) {}
    /// One guest byte was lost: a hard sink error, the output budget's drop
    /// policy, the guest overrunning a full TX FIFO, or a TX FIFO clear/reset
    /// discarding bytes the sink had not taken yet.
    fn tx_lost_byte(&self) {}
    /// The guest emptied the RX FIFO: there is room for more input.
    fn in_buffer_empty(&self) {}

    /// `n` bytes reached the output sink (calls [`out_byte`](Self::out_byte) `n` times by default).
    fn out_bytes(&self, n: usize) {
        (0..n).for_each(|_| self.out_byte());
    }
    /// `n` guest bytes were lost (calls [`tx_lost_byte`](Self::tx_lost_byte) `n` times by default).
    fn tx_lost_bytes(&self, n: usize) {
        (0..n).for_each(|_| self.tx_lost_byte());
    }
    /// The output sink pushed back (`WouldBlock`, a short write, or the
    /// output budget stalls): the bytes wait in the TX FIFO. Call `drain_tx`
    /// once the sink is writable.
    fn tx_blocked(&self) {}
    /// The output sink failed with an error other than `WouldBlock`; the bytes
    /// of that write were dropped (and reported through `tx_lost_byte`).
    fn output_error(&self, _kind: io::ErrorKind) {}
    /// A loopback byte arrived at a full RX FIFO and was lost (LSR.OE).
    fn rx_overrun(&self) {}
    /// The host injected a break (`send_break`).
    fn break_received(&self) {}
    /// The interrupt output rose (or was re-armed with a fresh edge).
    fn interrupt_raised(&self) {}
    /// The interrupt sink returned an error; the change is retried on the
    /// next access.
    fn interrupt_error(&self) {}
}

/// Ignores every event.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_uart16550::{NoEvents, Uart16550};
///
/// // `Uart16550::new` uses it; name it when spelling out the type.
/// let uart: Uart16550<RecordingIrq, NoEvents, Vec<u8>> = Uart16550::new(RecordingIrq::new(), Vec::new());
/// assert_eq!(uart.events(), &NoEvents);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoEvents;

impl SerialEvents for NoEvents {}

macro_rules! forward_events {
    ($($ptr:ty),*) => {$(
        impl<EV: SerialEvents + ?Sized> SerialEvents for $ptr {
            fn buffer_read(&self) { (**self).buffer_read(); }
            fn out_byte(&self) { (**self).out_byte(); }
            fn tx_lost_byte(&self) { (**self).tx_lost_byte(); }
            fn in_buffer_empty(&self) { (**self).in_buffer_empty(); }
            fn out_bytes(&self, n: usize) { (**self).out_bytes(n); }
            fn tx_lost_bytes(&self, n: usize) { (**self).tx_lost_bytes(n); }
            fn tx_blocked(&self) { (**self).tx_blocked(); }
            fn output_error(&self, kind: io::ErrorKind) { (**self).output_error(kind); }
            fn rx_overrun(&self) { (**self).rx_overrun(); }
            fn break_received(&self) { (**self).break_received(); }
            fn interrupt_raised(&self) { (**self).interrupt_raised(); }
            fn interrupt_error(&self) { (**self).interrupt_error(); }
        }
    )*};
}
forward_events!(&EV, Box<EV>, Arc<EV>);

/// Ready-made metrics: one relaxed atomic counter per event. Share it as
/// `Arc<SerialMetrics>` between the UART and the VMM's metrics exporter.
///
/// ```
/// use std::sync::Arc;
/// use superio_core::test_utils::RecordingIrq;
/// use superio_uart16550::{regs, SerialMetrics, Uart16550};
///
/// let metrics = Arc::new(SerialMetrics::default());
/// let mut uart = Uart16550::with_events(RecordingIrq::new(), Arc::clone(&metrics), Vec::new());
/// uart.write(regs::THR, b'x');
/// assert_eq!(metrics.snapshot().bytes_out, 1);
/// ```
#[derive(Debug, Default)]
pub struct SerialMetrics {
    bytes_read: AtomicU64,
    bytes_out: AtomicU64,
    bytes_lost: AtomicU64,
    rx_empty: AtomicU64,
    tx_blocked: AtomicU64,
    output_errors: AtomicU64,
    rx_overruns: AtomicU64,
    breaks: AtomicU64,
    interrupts: AtomicU64,
    interrupt_errors: AtomicU64,
}

/// A copy of the [`SerialMetrics`] counters at one moment.
///
/// ```
/// use superio_uart16550::{MetricsSnapshot, SerialEvents, SerialMetrics};
///
/// let metrics = SerialMetrics::default();
/// metrics.tx_lost_bytes(3);
/// assert_eq!(metrics.snapshot(), MetricsSnapshot { bytes_lost: 3, ..MetricsSnapshot::default() });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Bytes the guest read from RBR.
    pub bytes_read: u64,
    /// Bytes that reached the output sink.
    pub bytes_out: u64,
    /// Guest output bytes lost (see [`SerialEvents::tx_lost_byte`]).
    pub bytes_lost: u64,
    /// Times the guest emptied the RX FIFO.
    pub rx_empty: u64,
    /// Times the output sink pushed back.
    pub tx_blocked: u64,
    /// Hard output sink errors.
    pub output_errors: u64,
    /// Loopback bytes lost to a full RX FIFO.
    pub rx_overruns: u64,
    /// Host-injected breaks.
    pub breaks: u64,
    /// Rises (and re-armed edges) of the interrupt output.
    pub interrupts: u64,
    /// Interrupt sink errors.
    pub interrupt_errors: u64,
}

fn bump(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl SerialMetrics {
    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            bytes_read: get(&self.bytes_read),
            bytes_out: get(&self.bytes_out),
            bytes_lost: get(&self.bytes_lost),
            rx_empty: get(&self.rx_empty),
            tx_blocked: get(&self.tx_blocked),
            output_errors: get(&self.output_errors),
            rx_overruns: get(&self.rx_overruns),
            breaks: get(&self.breaks),
            interrupts: get(&self.interrupts),
            interrupt_errors: get(&self.interrupt_errors),
        }
    }
}

impl SerialEvents for SerialMetrics {
    fn buffer_read(&self) {
        bump(&self.bytes_read, 1);
    }
    fn out_byte(&self) {
        bump(&self.bytes_out, 1);
    }
    fn tx_lost_byte(&self) {
        bump(&self.bytes_lost, 1);
    }
    fn in_buffer_empty(&self) {
        bump(&self.rx_empty, 1);
    }
    fn out_bytes(&self, n: usize) {
        bump(&self.bytes_out, n);
    }
    fn tx_lost_bytes(&self, n: usize) {
        bump(&self.bytes_lost, n);
    }
    fn tx_blocked(&self) {
        bump(&self.tx_blocked, 1);
    }
    fn output_error(&self, _kind: io::ErrorKind) {
        bump(&self.output_errors, 1);
    }
    fn rx_overrun(&self) {
        bump(&self.rx_overruns, 1);
    }
    fn break_received(&self) {
        bump(&self.breaks, 1);
    }
    fn interrupt_raised(&self) {
        bump(&self.interrupts, 1);
    }
    fn interrupt_error(&self) {
        bump(&self.interrupt_errors, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An implementation written against vm-superio 0.8's four methods.
    #[derive(Debug, Default)]
    struct Legacy(AtomicU64);
    impl SerialEvents for Legacy {
        fn buffer_read(&self) {}
        fn out_byte(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        fn tx_lost_byte(&self) {}
        fn in_buffer_empty(&self) {}
    }

    #[test]
    fn test_events_out_bytes_default_calls_out_byte_per_byte() {
        let legacy = Legacy::default();
        legacy.out_bytes(5);
        assert_eq!(legacy.0.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn test_metrics_count_through_arc_forwarding() {
        let m = Arc::new(SerialMetrics::default());
        let ev: Arc<SerialMetrics> = Arc::clone(&m);
        ev.out_bytes(3);
        ev.tx_lost_bytes(2);
        ev.interrupt_raised();
        ev.output_error(io::ErrorKind::BrokenPipe);
        let s = m.snapshot();
        assert_eq!(
            (s.bytes_out, s.bytes_lost, s.interrupts, s.output_errors),
            (3, 2, 1, 1)
        );
    }
}
