//! minivm: a KVM mini-VMM with a built-in guest that drives the superio
//! devices the way real drivers do. It is the project's runnable demo
//! (`cargo run --release --example minivm`), the harness of the KVM
//! integration tests, and the reference integration a VMM author copies.
//!
//! - [`Machine`] owns the VM: 1 MiB of RAM holding the [`guest`] program, an
//!   in-kernel irqchip, irqfds on GSI 4 (COM1) and GSI 1 (keyboard), and a
//!   [`bus::PioBus`] routing 0x3F8..=0x3FF to the serial port and 0x60..=0x64
//!   to our i8042.
//! - The device under COM1 is anything implementing [`serial::SerialPort`]:
//!   our `Uart16550` ([`serial::superio_uart`]) or, with the `vm-superio`
//!   feature, rust-vmm vm-superio's `Serial`.
//! - [`Machine::run`] runs the vCPU on its own thread and, on the calling
//!   thread, feeds host input to the UART with back-pressure, ends pending TX
//!   bursts on a timer, injects Ctrl+Alt+Del on request, and returns when the
//!   guest resets through the i8042.
//!
//! See the crate README for the integration walk-through.

pub mod bus;
pub mod cli;
pub mod guest;
pub mod host;
mod kvm;
pub mod serial;
pub mod stats;
mod vmm;

pub use vmm::{
    EofAction, ExitReason, Kbc, Machine, MachineConfig, ResetSignal, RunOutcome, COM1_BASE,
    COM1_GSI, I8042_BASE, KBD_GSI,
};

use std::io;

/// Why the VMM could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `/dev/kvm` cannot be opened: KVM is not available or not accessible
    /// to this user. Run on a host with KVM, or fix the device's permissions.
    #[error("/dev/kvm is not usable: {source}")]
    KvmUnavailable {
        /// Why opening it failed.
        #[source]
        source: io::Error,
    },
    /// KVM lacks a capability minivm needs: use a host kernel that has it.
    #[error("KVM lacks {0}")]
    KvmCapability(&'static str),
    /// A KVM ioctl failed.
    #[error("{what} failed: {source}")]
    Kvm {
        /// The ioctl.
        what: &'static str,
        /// The error it returned.
        #[source]
        source: io::Error,
    },
    /// Guest memory could not be set up.
    #[error("guest memory: {0}")]
    Memory(String),
    /// A host resource (eventfd, thread, signal handler) could not be set up.
    #[error("host: {0}")]
    Host(#[source] io::Error),
    /// Reading the host input failed.
    #[error("reading input: {0}")]
    Input(#[source] io::Error),
    /// Two devices claim the same ports (a wiring bug).
    #[error(transparent)]
    Bus(#[from] bus::BusError),
    /// The guest triple-faulted (a bug in the guest program).
    #[error("the guest shut down (triple fault) {0}")]
    GuestShutdown(String),
    /// KVM reported an exit minivm does not handle.
    #[error("unexpected VM exit: {0}")]
    UnexpectedExit(String),
    /// The vCPU thread panicked (a minivm bug).
    #[error("the vCPU thread panicked")]
    VcpuPanicked,
}

/// For tests that need KVM: whether `/dev/kvm` can be opened read-write.
///
/// Where it cannot, prints a loud `SKIPPED: /dev/kvm not available (reason)`
/// line and returns `false`, so the test passes without running; but when the
/// environment variable `SUPERIO_REQUIRE_KVM` is set (CI sets it: this
/// project's CI machines have KVM), a missing `/dev/kvm` is a failure instead,
/// so a KVM test can never be skipped silently where it must run.
///
/// # Panics
/// When KVM is unavailable and `SUPERIO_REQUIRE_KVM` is set.
pub fn kvm_available_for_tests() -> bool {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => true,
        Err(e) if std::env::var_os("SUPERIO_REQUIRE_KVM").is_some() => {
            panic!("/dev/kvm is required (SUPERIO_REQUIRE_KVM is set) but not usable: {e}")
        }
        Err(e) => {
            println!("SKIPPED: /dev/kvm not available ({e})");
            false
        }
    }
}
