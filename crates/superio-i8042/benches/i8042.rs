//! i8042 register cost, side by side with vm-superio 0.8.2's `I8042Device`
//! in the same process, where vm-superio has an equivalent.
//!
//! `cargo bench -p superio-i8042` (criterion), or `scripts/bench` for every
//! device with repeated runs, instruction counts and a table.
//!
//! vm-superio's i8042 only models the reset command: every read returns 0
//! and every other write is ignored. So the status read and the keyboard
//! reply run the same port accesses on it, but it does none of the work
//! (no status bits, no reply byte, no interrupt): those rows show what the
//! accesses cost there, not an equivalent device. Key injection has no
//! vm-superio counterpart at all and is measured on ours only. The CPU reset
//! (0xFE on port 0x64) is the one like-for-like case.
//!
//! Register offsets go through `black_box` on both systems: a VMM's bus
//! hands the device a runtime offset, so neither device may be
//! specialised for a constant register by the optimiser.
//!
//! With `SUPERIO_BENCH_COUNT=<group>|<system>` and `SUPERIO_BENCH_ITERS=<n>`
//! the binary runs one case `n` times without criterion and prints its
//! counters as JSON (for valgrind/strace); `SUPERIO_BENCH_COUNT=list` lists
//! the cases.

use std::hint::black_box;
use superio_bench_support::{irq_counters, no_counters, run_main, Case, Counter, CountingEventFd};
use superio_core::Trigger;

use superio_i8042::{
    Key, CMD_PULSE_RESET, DATA_REG, I8042, KBD_CMD_ENABLE, STATUS_COMMAND_REG, STR_IBF, STR_OBF,
};

/// Accesses per batch for the single-register cases.
const BATCH: u64 = 64;

/// An interrupt/reset sink that does nothing, for the `device_only` cases:
/// the state machine's own cost without the `EventFd` write, which
/// vm-superio never makes for a keyboard reply (it has no IRQ1).
struct NopIrq;

impl Trigger for NopIrq {
    type E = ();
    fn trigger(&self) -> Result<(), ()> {
        Ok(())
    }
}

impl vm_superio::Trigger for NopIrq {
    type E = ();
    fn trigger(&self) -> Result<(), ()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// i8042 cases.
// ---------------------------------------------------------------------------

/// Our controller as a VMM wires it: an irqfd for IRQ1 and a reset `EventFd`,
/// with the keyboard enabled as Linux's atkbd leaves it.
fn ours() -> (
    I8042<CountingEventFd, CountingEventFd>,
    Counter,
    Counter,
    Counter,
) {
    let irq = CountingEventFd::new();
    let (r, l) = irq.counters();
    let reset = CountingEventFd::new();
    let (resets, _) = reset.counters();
    let mut kbc = I8042::new(irq, reset);
    enable_keyboard(&mut kbc);
    (kbc, r, l, resets)
}

/// Enables the keyboard as Linux's atkbd leaves it and drains its ACK.
fn enable_keyboard<T: Trigger, R: Trigger>(kbc: &mut I8042<T, R>) {
    kbc.write(black_box(DATA_REG), KBD_CMD_ENABLE);
    while kbc.read(black_box(STATUS_COMMAND_REG)) & STR_OBF != 0 {
        kbc.read(black_box(DATA_REG));
    }
}

/// One keyboard command and its reply on our controller (see
/// [`keyboard_reply`]).
fn reply_ours<T: Trigger, R: Trigger>(kbc: &mut I8042<T, R>) {
    black_box(kbc.read(black_box(STATUS_COMMAND_REG)) & STR_IBF);
    kbc.write(black_box(DATA_REG), black_box(KBD_CMD_ENABLE));
    if kbc.read(black_box(STATUS_COMMAND_REG)) & STR_OBF != 0 {
        black_box(kbc.read(black_box(DATA_REG)));
    }
}

/// The same four accesses on vm-superio's i8042. It produces no reply, so
/// the handler's data read is done unconditionally to keep the count.
fn reply_vm_superio<T: vm_superio::Trigger>(dev: &mut vm_superio::I8042Device<T>) {
    black_box(dev.read(black_box(STATUS_COMMAND_REG)) & STR_IBF);
    let _ = dev.write(black_box(DATA_REG), black_box(KBD_CMD_ENABLE));
    black_box(dev.read(black_box(STATUS_COMMAND_REG)) & STR_OBF);
    black_box(dev.read(black_box(DATA_REG)));
}

/// The status register (port 0x64), read before every data access by
/// Linux's i8042 driver and by firmware polling loops.
fn status_read(cases: &mut Vec<Case>) {
    let (mut kbc, r, l, _) = ours();
    cases.push(Case {
        group: "i8042/status_read",
        system: "superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH {
                black_box(kbc.read(black_box(STATUS_COMMAND_REG)));
            }
        }),
        counters: irq_counters(r, l),
    });
    let mut dev = vm_superio::I8042Device::new(CountingEventFd::new());
    cases.push(Case {
        group: "i8042/status_read",
        system: "vm-superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH {
                black_box(dev.read(black_box(STATUS_COMMAND_REG)));
            }
        }),
        counters: no_counters(),
    });
}

/// A keyboard command and its reply as Linux's atkbd/i8042 make them:
/// status read (IBF clear), 0xF4 to port 0x60, then the interrupt handler's
/// status read and data read of the ACK (0xFA). 4 accesses per reply.
fn keyboard_reply(cases: &mut Vec<Case>) {
    let (mut kbc, r, l, _) = ours();
    cases.push(Case {
        group: "i8042/keyboard_reply",
        system: "superio",
        units: 1,
        unit: "reply",
        run: Box::new(move || reply_ours(&mut kbc)),
        counters: irq_counters(r, l),
    });
    let mut dev = vm_superio::I8042Device::new(CountingEventFd::new());
    cases.push(Case {
        group: "i8042/keyboard_reply",
        system: "vm-superio",
        units: 1,
        unit: "reply",
        run: Box::new(move || reply_vm_superio(&mut dev)),
        counters: no_counters(),
    });
}

/// [`keyboard_reply`] with interrupt sinks that do nothing on both systems,
/// so that the row compares the devices' own work: ours runs the keyboard
/// command, queues and delivers the ACK and moves the IRQ1 level (to a
/// no-op sink), vm-superio still ignores the write and reads 0.
fn keyboard_reply_device_only(cases: &mut Vec<Case>) {
    let mut kbc = I8042::new(NopIrq, NopIrq);
    enable_keyboard(&mut kbc);
    cases.push(Case {
        group: "i8042/keyboard_reply/device_only",
        system: "superio",
        units: 1,
        unit: "reply",
        run: Box::new(move || reply_ours(&mut kbc)),
        counters: no_counters(),
    });
    let mut dev = vm_superio::I8042Device::new(NopIrq);
    cases.push(Case {
        group: "i8042/keyboard_reply/device_only",
        system: "vm-superio",
        units: 1,
        unit: "reply",
        run: Box::new(move || reply_vm_superio(&mut dev)),
        counters: no_counters(),
    });
}

/// A host key tap ('a': make + break) and the guest's two interrupt
/// handler runs (status read + data read per byte). No vm-superio equivalent.
fn key_tap(cases: &mut Vec<Case>) {
    let (mut kbc, r, l, _) = ours();
    cases.push(Case {
        group: "i8042/key_tap",
        system: "superio",
        units: 1,
        unit: "key",
        run: Box::new(move || {
            let _ = kbc.tap(black_box(Key::A));
            while kbc.read(black_box(STATUS_COMMAND_REG)) & STR_OBF != 0 {
                black_box(kbc.read(black_box(DATA_REG)));
            }
        }),
        counters: irq_counters(r, l),
    });
}

/// The CPU reset request (0xFE on port 0x64), signalled on a real `EventFd`:
/// the one operation both devices implement.
fn cpu_reset(cases: &mut Vec<Case>) {
    let (mut kbc, _, _, resets) = ours();
    cases.push(Case {
        group: "i8042/cpu_reset",
        system: "superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH {
                kbc.write(black_box(STATUS_COMMAND_REG), black_box(CMD_PULSE_RESET));
            }
        }),
        counters: Box::new(move || vec![("reset_signals", resets.get())]),
    });
    let reset = CountingEventFd::new();
    let (resets, _) = reset.counters();
    let mut dev = vm_superio::I8042Device::new(reset);
    cases.push(Case {
        group: "i8042/cpu_reset",
        system: "vm-superio",
        units: BATCH,
        unit: "access",
        run: Box::new(move || {
            for _ in 0..BATCH {
                let _ = dev.write(black_box(STATUS_COMMAND_REG), black_box(CMD_PULSE_RESET));
            }
        }),
        counters: Box::new(move || vec![("reset_signals", resets.get())]),
    });
}

fn main() {
    let mut cases = Vec::new();
    status_read(&mut cases);
    keyboard_reply(&mut cases);
    keyboard_reply_device_only(&mut cases);
    key_tap(&mut cases);
    cpu_reset(&mut cases);
    run_main(cases);
}
