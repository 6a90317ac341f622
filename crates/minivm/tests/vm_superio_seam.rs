//! The serial seam with rust-vmm vm-superio 0.8.2's `Serial` under COM1
//! (run with `--features vm-superio`): the same guest, the same VMM.
//!
//! Prints `SKIPPED: /dev/kvm not available` and passes without KVM.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread;

use minivm::{ExitReason, Machine, MachineConfig, RunOutcome};

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn kvm_available() -> bool {
    minivm::kvm_available_for_tests()
}

/// Boots with vm-superio's `Serial`, sends `input`, closes it (EOF: the VMM
/// presses Ctrl+Alt+Del once the UART has everything).
fn boot(config: MachineConfig, input: &[u8]) -> (RunOutcome, Vec<u8>) {
    let out = SharedBuf::default();
    let machine = Machine::new(
        config,
        minivm::serial::vm_superio_serial,
        Box::new(out.clone()),
    )
    .unwrap();
    let (mut host_end, vm_end) = UnixStream::pair().unwrap();
    let data = input.to_vec();
    let writer = thread::spawn(move || host_end.write_all(&data).unwrap());
    let outcome = machine.run(vm_end).unwrap();
    writer.join().unwrap();
    let bytes = out.0.lock().unwrap().clone();
    (outcome, bytes)
}

#[test]
fn test_vm_superio_serial_behind_seam_echoes_and_resets() {
    if !kvm_available() {
        return;
    }
    let (outcome, out) = boot(MachineConfig::default(), b"through vm-superio\n");
    let out = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(outcome.reason, ExitReason::GuestReset);
    assert!(out.contains("through vm-superio\n"), "{out}");
    assert!(
        out.contains("guest: Ctrl+Alt+Del: resetting through the i8042"),
        "{out}"
    );
}

#[test]
fn test_vm_superio_serial_behind_seam_echoes_16k_in_order() {
    if !kvm_available() {
        return;
    }
    // Printable lines: the echo of each byte is the byte itself.
    let input: Vec<u8> = (0..16 * 1024u32)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'a' + u8::try_from(i % 26).unwrap()
            }
        })
        .collect();
    let config = MachineConfig {
        escape_key: false,
        ..MachineConfig::default()
    };
    let (outcome, out) = boot(config, &input);
    assert_eq!(outcome.reason, ExitReason::GuestReset);
    assert!(
        out.windows(input.len()).any(|w| w == input.as_slice()),
        "the echo is not complete and in order"
    );
    assert_eq!(outcome.stats.bytes_in, input.len() as u64);
}
