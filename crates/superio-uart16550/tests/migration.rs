//! A representative vm-superio 0.8 `Serial` integration (the shape of
//! Firecracker's and Cloud Hypervisor's), ported to this crate as
//! MIGRATING.md describes, run side by side on the same guest program.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// The guest program: Linux-like setup, a line of output, then it reads
/// three bytes of input the host sent.
const SETUP: [(u8, u8); 6] = [
    (3, 0x83), // LCR: DLAB, 8N1
    (0, 0x01), // DLL: 115200
    (1, 0x00), // DLM
    (3, 0x03), // LCR: 8N1
    (2, 0x87), // FCR: FIFOs on, trigger 8
    (4, 0x0B), // MCR: DTR | RTS | OUT2
];

/// Metrics as a VMM keeps them, written against vm-superio's four events.
#[derive(Debug, Default)]
struct VmmMetrics {
    out_bytes: AtomicU64,
    read_bytes: AtomicU64,
}

macro_rules! impl_events {
    ($tr:path) => {
        impl $tr for VmmMetrics {
            fn buffer_read(&self) {
                self.read_bytes.fetch_add(1, Ordering::Relaxed);
            }
            fn out_byte(&self) {
                self.out_bytes.fetch_add(1, Ordering::Relaxed);
            }
            fn tx_lost_byte(&self) {}
            fn in_buffer_empty(&self) {}
        }
    };
}
impl_events!(vm_superio::serial::SerialEvents);
impl_events!(superio_uart16550::SerialEvents);

/// vm-superio needs a newtype to make an `EventFd` a `Trigger`.
struct EventFdTrigger(EventFd);
impl vm_superio::Trigger for EventFdTrigger {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

/// What a run produced: guest output, guest input, interrupts, metrics.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    output: Vec<u8>,
    input: Vec<u8>,
    irq_signalled: bool,
    out_bytes: u64,
    read_bytes: u64,
}

fn run_vm_superio() -> Outcome {
    let irq = EventFd::new(EFD_NONBLOCK).unwrap();
    let metrics = Arc::new(VmmMetrics::default());
    let mut serial = vm_superio::Serial::with_events(
        EventFdTrigger(irq.try_clone().unwrap()),
        Arc::clone(&metrics),
        Vec::new(),
    );
    for (reg, value) in SETUP {
        serial.write(reg, value).unwrap();
    }
    serial.write(1, 0x01).unwrap(); // IER: RX interrupt
    for &b in b"hello\n" {
        serial.write(0, b).unwrap();
    }
    let input = b"abc";
    if serial.fifo_capacity() >= input.len() {
        serial.enqueue_raw_bytes(input).unwrap();
    }
    let mut got = Vec::new();
    while serial.read(5) & 0x01 != 0 {
        got.push(serial.read(0));
    }
    let state = serial.state();
    let restored = vm_superio::Serial::from_state(
        &state,
        EventFdTrigger(irq.try_clone().unwrap()),
        Arc::clone(&metrics),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(restored.state(), state);
    Outcome {
        output: serial.into_writer(),
        input: got,
        irq_signalled: irq.read().is_ok(),
        out_bytes: metrics.out_bytes.load(Ordering::Relaxed),
        read_bytes: metrics.read_bytes.load(Ordering::Relaxed),
    }
}

fn run_superio() -> Outcome {
    use superio_uart16550::{Config, Serial};
    let irq = EventFd::new(EFD_NONBLOCK).unwrap();
    let metrics = Arc::new(VmmMetrics::default());
    // Port: `EventFd` is a `Trigger` directly; `write` returns nothing.
    let mut serial =
        Serial::with_events(irq.try_clone().unwrap(), Arc::clone(&metrics), Vec::new());
    for (reg, value) in SETUP {
        serial.write(reg, value);
    }
    serial.write(1, 0x01);
    for &b in b"hello\n" {
        serial.write(0, b);
    }
    let input = b"abc";
    // Port: `enqueue_raw_bytes` returns how many bytes it took.
    let taken = serial.enqueue_raw_bytes(input).unwrap();
    assert_eq!(taken, input.len());
    let mut got = Vec::new();
    while serial.read(5) & 0x01 != 0 {
        got.push(serial.read(0));
    }
    let state = serial.state();
    // Port: `from_state` also takes the `Config` the device was built with.
    let restored = Serial::from_state(
        &state,
        Config::default(),
        irq.try_clone().unwrap(),
        Arc::clone(&metrics),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(restored.state(), state);
    Outcome {
        output: serial.into_writer(),
        input: got,
        irq_signalled: irq.read().is_ok(),
        out_bytes: metrics.out_bytes.load(Ordering::Relaxed),
        read_bytes: metrics.read_bytes.load(Ordering::Relaxed),
    }
}

#[test]
fn test_ported_vm_superio_usage_behaves_the_same() {
    let old = run_vm_superio();
    let new = run_superio();
    assert_eq!(old.output, b"hello\n");
    assert_eq!(old.input, b"abc");
    assert_eq!(new, old);
}

#[test]
fn test_ported_usage_costs_fewer_flushes() {
    /// Counts `flush` calls on the way through.
    #[derive(Default)]
    struct Counting(Vec<u8>, usize);
    impl std::io::Write for Counting {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.1 += 1;
            Ok(())
        }
    }
    let mut old = vm_superio::Serial::new(
        EventFdTrigger(EventFd::new(EFD_NONBLOCK).unwrap()),
        Counting::default(),
    );
    let mut new =
        superio_uart16550::Serial::new(EventFd::new(EFD_NONBLOCK).unwrap(), Counting::default());
    // The guest enables the FIFOs, as Linux does (without them each byte is
    // a FIFO's worth and is flushed on its own, as the holding register fills).
    old.write(2, 0x01).unwrap();
    new.write(2, 0x01);
    for &b in b"sixteen bytes!!\n" {
        old.write(0, b).unwrap();
        new.write(0, b);
    }
    let _ = (old.read(5), new.read(5));
    assert_eq!(old.writer().1, 16, "vm-superio flushes per byte");
    // IER masks THRI here, so the LSR poll leaves the burst open; the VMM's
    // end_tx_burst (on its next non-UART exit) ends it.
    assert_eq!(new.writer().1, 0);
    new.end_tx_burst();
    assert_eq!(new.writer().1, 1, "one flush per burst");
}
