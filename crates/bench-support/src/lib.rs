//! The harness shared by the device crates' criterion benches (publish =
//! false): cases run under criterion, or one case alone in counting mode for
//! valgrind/strace (`SUPERIO_BENCH_COUNT=<group>|<system>`,
//! `SUPERIO_BENCH_ITERS=<n>`, `SUPERIO_BENCH_COUNT=list`), and an `EventFd`
//! interrupt sink that counts the calls a device makes, usable by both our
//! devices and vm-superio 0.8.2's.
#![allow(missing_docs, clippy::missing_panics_doc, clippy::new_without_default)]

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// A shared call counter.
#[derive(Debug, Clone, Default)]
pub struct Counter(Rc<Cell<u64>>);

impl Counter {
    pub fn inc(&self) {
        self.0.set(self.0.get() + 1);
    }
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// A real non-blocking `EventFd` (what a VMM registers as an irqfd) that also
/// counts the calls a device makes on it.
pub struct CountingEventFd {
    /// The eventfd a VMM would register as an irqfd.
    pub fd: EventFd,
    /// `trigger` calls.
    pub raises: Counter,
    /// `lower` calls.
    pub lowers: Counter,
}

impl CountingEventFd {
    pub fn new() -> Self {
        Self {
            fd: EventFd::new(EFD_NONBLOCK).unwrap(),
            raises: Counter::default(),
            lowers: Counter::default(),
        }
    }
    pub fn counters(&self) -> (Counter, Counter) {
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
pub type Counters = Box<dyn Fn() -> Vec<(&'static str, u64)>>;

/// One workload on one system: `run` performs a batch of `units`.
pub struct Case {
    /// Criterion group (one workload).
    pub group: &'static str,
    /// Which device: `superio` or `vm-superio`.
    pub system: &'static str,
    /// Units (bytes, accesses, …) per batch.
    pub units: u64,
    /// The unit's name.
    pub unit: &'static str,
    /// Performs one batch.
    pub run: Box<dyn FnMut()>,
    /// The case's cumulative counters.
    pub counters: Counters,
}

pub fn no_counters() -> Counters {
    Box::new(Vec::new)
}

pub fn irq_counters(raises: Counter, lowers: Counter) -> Counters {
    Box::new(move || vec![("irq_raise", raises.get()), ("irq_lower", lowers.get())])
}

/// Runs the cases under criterion, or one case in counting mode.
pub fn run_main(mut cases: Vec<Case>) {
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
