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
//! With `SUPERIO_BENCH_COUNT=<group>|<system>` and `SUPERIO_BENCH_ITERS=<n>`
//! the binary runs one case `n` times without criterion and prints its
//! counters as JSON (for valgrind/strace); `SUPERIO_BENCH_COUNT=list` lists
//! the cases.

use std::cell::Cell;
use std::hint::black_box;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use superio_i8042::{
    Key, CMD_PULSE_RESET, DATA_REG, I8042, KBD_CMD_ENABLE, STATUS_COMMAND_REG, STR_IBF, STR_OBF,
};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// Accesses per batch for the single-register cases.
const BATCH: u64 = 64;

// ---------------------------------------------------------------------------
// Harness (the same in every device crate's bench).
// ---------------------------------------------------------------------------

/// A shared call counter.
#[derive(Clone, Default)]
struct Counter(Rc<Cell<u64>>);

impl Counter {
    fn inc(&self) {
        self.0.set(self.0.get() + 1);
    }
    fn get(&self) -> u64 {
        self.0.get()
    }
}

/// A real non-blocking `EventFd` (what a VMM registers as an irqfd) that also
/// counts the calls a device makes on it.
struct CountingEventFd {
    fd: EventFd,
    raises: Counter,
    lowers: Counter,
}

impl CountingEventFd {
    fn new() -> Self {
        Self {
            fd: EventFd::new(EFD_NONBLOCK).unwrap(),
            raises: Counter::default(),
            lowers: Counter::default(),
        }
    }
    fn counters(&self) -> (Counter, Counter) {
        (self.raises.clone(), self.lowers.clone())
    }
}

impl superio_core::Trigger for CountingEventFd {
    type E = io::Error;
    fn trigger(&self) -> io::Result<()> {
        self.raises.inc();
        self.fd.write(1)
    }
    fn lower(&self) -> io::Result<()> {
        self.lowers.inc();
        Ok(())
    }
}

/// Reads a case's cumulative counters (name, count).
type Counters = Box<dyn Fn() -> Vec<(&'static str, u64)>>;

/// One workload on one system: `run` performs a batch of `units`.
struct Case {
    group: &'static str,
    system: &'static str,
    units: u64,
    unit: &'static str,
    run: Box<dyn FnMut()>,
    counters: Counters,
}

fn no_counters() -> Counters {
    Box::new(Vec::new)
}

#[allow(dead_code)] // The harness is the same in every bench; not every one uses this.
fn irq_counters(raises: Counter, lowers: Counter) -> Counters {
    Box::new(move || vec![("irq_raise", raises.get()), ("irq_lower", lowers.get())])
}

/// Runs the cases under criterion, or one case in counting mode.
fn run_main(mut cases: Vec<Case>) {
    if let Ok(sel) = std::env::var("SUPERIO_BENCH_COUNT") {
        if sel == "list" {
            for c in &cases {
                println!("{}|{}|{}|{}", c.group, c.system, c.units, c.unit);
            }
            return;
        }
        let iters: u64 = std::env::var("SUPERIO_BENCH_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1000);
        let case = cases
            .iter_mut()
            .find(|c| format!("{}|{}", c.group, c.system) == sel)
            .unwrap_or_else(|| panic!("no case {sel}"));
        for _ in 0..iters {
            (case.run)();
        }
        let counters: Vec<String> = (case.counters)()
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        println!(
            "{{\"group\":\"{}\",\"system\":\"{}\",\"iters\":{iters},\"units\":{},\"unit\":\"{}\",\"counters\":{{{}}}}}",
            case.group,
            case.system,
            case.units,
            case.unit,
            counters.join(",")
        );
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    let mut groups: Vec<&'static str> = cases.iter().map(|c| c.group).collect();
    groups.dedup();
    for group in groups {
        let mut g = c.benchmark_group(group);
        for case in cases.iter_mut().filter(|c| c.group == group) {
            g.throughput(Throughput::Elements(case.units));
            let run = &mut case.run;
            g.bench_function(case.system, |b| b.iter(&mut *run));
        }
        g.finish();
    }
    c.final_summary();
}

impl vm_superio::Trigger for CountingEventFd {
    type E = io::Error;
    fn trigger(&self) -> io::Result<()> {
        self.raises.inc();
        self.fd.write(1)
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
    kbc.write(DATA_REG, KBD_CMD_ENABLE);
    while kbc.read(STATUS_COMMAND_REG) & STR_OBF != 0 {
        kbc.read(DATA_REG);
    }
    (kbc, r, l, resets)
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
                black_box(kbc.read(STATUS_COMMAND_REG));
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
                black_box(dev.read(STATUS_COMMAND_REG));
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
        run: Box::new(move || {
            black_box(kbc.read(STATUS_COMMAND_REG) & STR_IBF);
            kbc.write(DATA_REG, black_box(KBD_CMD_ENABLE));
            if kbc.read(STATUS_COMMAND_REG) & STR_OBF != 0 {
                black_box(kbc.read(DATA_REG));
            }
        }),
        counters: irq_counters(r, l),
    });
    let mut dev = vm_superio::I8042Device::new(CountingEventFd::new());
    cases.push(Case {
        group: "i8042/keyboard_reply",
        system: "vm-superio",
        units: 1,
        unit: "reply",
        run: Box::new(move || {
            // The same four accesses; vm-superio produces no reply, so the
            // handler's data read is done unconditionally to keep the count.
            black_box(dev.read(STATUS_COMMAND_REG) & STR_IBF);
            let _ = dev.write(DATA_REG, black_box(KBD_CMD_ENABLE));
            black_box(dev.read(STATUS_COMMAND_REG) & STR_OBF);
            black_box(dev.read(DATA_REG));
        }),
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
            while kbc.read(STATUS_COMMAND_REG) & STR_OBF != 0 {
                black_box(kbc.read(DATA_REG));
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
                kbc.write(STATUS_COMMAND_REG, black_box(CMD_PULSE_RESET));
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
                let _ = dev.write(STATUS_COMMAND_REG, black_box(CMD_PULSE_RESET));
            }
        }),
        counters: Box::new(move || vec![("reset_signals", resets.get())]),
    });
}

fn main() {
    let mut cases = Vec::new();
    status_read(&mut cases);
    keyboard_reply(&mut cases);
    key_tap(&mut cases);
    cpu_reset(&mut cases);
    run_main(cases);
}
