//! Counters the VMM keeps while it runs, printed with `--stats` and read by
//! tests and benchmarks.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Names of the 8 UART registers by offset (read / write, DLAB=0 meaning first).
pub const UART_REGISTER_NAMES: [&str; 8] = [
    "RBR/THR/DLL",
    "IER/DLM",
    "IIR/FCR",
    "LCR",
    "MCR",
    "LSR",
    "MSR",
    "SCR",
];

/// Live counters, shared between the vCPU thread and the I/O loop.
#[derive(Debug, Default)]
pub struct Stats {
    /// `KVM_EXIT_IO` exits for an `in` instruction.
    pub exits_io_in: AtomicU64,
    /// `KVM_EXIT_IO` exits for an `out` instruction.
    pub exits_io_out: AtomicU64,
    /// `KVM_EXIT_MMIO` exits (the guest does none; a read returns 0xFF).
    pub exits_mmio: AtomicU64,
    /// `KVM_EXIT_HLT` exits (only without an in-kernel irqchip; none here).
    pub exits_hlt: AtomicU64,
    /// `KVM_RUN` interrupted by a signal (`EINTR` / `KVM_EXIT_INTR`).
    pub exits_intr: AtomicU64,
    /// Any other exit kind.
    pub exits_other: AtomicU64,
    /// Port accesses that hit no device (reads return 0xFF).
    pub pio_unhandled: AtomicU64,
    /// UART register reads, by offset.
    pub uart_reads: [AtomicU64; 8],
    /// UART register writes, by offset.
    pub uart_writes: [AtomicU64; 8],
    /// i8042 port accesses (0x60 and 0x64).
    pub i8042_accesses: AtomicU64,
    /// Rises of the UART interrupt line sent to the irqfd (GSI 4).
    pub irq4_raised: AtomicU64,
    /// Rises of the keyboard interrupt line sent to the irqfd (GSI 1).
    pub irq1_raised: AtomicU64,
    /// Host input bytes the UART accepted.
    pub bytes_in: AtomicU64,
    /// Bytes the UART wrote to the host output.
    pub bytes_out: AtomicU64,
    /// Times the I/O loop had input the UART had no room for (back-pressure).
    pub input_stalls: AtomicU64,
    /// `flush_output` calls (TX burst ends).
    pub flushes: AtomicU64,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl Stats {
    /// A copy of the counters at this moment.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            exits_io_in: get(&self.exits_io_in),
            exits_io_out: get(&self.exits_io_out),
            exits_mmio: get(&self.exits_mmio),
            exits_hlt: get(&self.exits_hlt),
            exits_intr: get(&self.exits_intr),
            exits_other: get(&self.exits_other),
            pio_unhandled: get(&self.pio_unhandled),
            uart_reads: self.uart_reads.each_ref().map(get),
            uart_writes: self.uart_writes.each_ref().map(get),
            i8042_accesses: get(&self.i8042_accesses),
            irq4_raised: get(&self.irq4_raised),
            irq1_raised: get(&self.irq1_raised),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            input_stalls: get(&self.input_stalls),
            flushes: get(&self.flushes),
        }
    }
}

/// A plain copy of [`Stats`]; `Display` prints the `--stats` report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the fields mirror `Stats`, documented there
pub struct StatsSnapshot {
    pub exits_io_in: u64,
    pub exits_io_out: u64,
    pub exits_mmio: u64,
    pub exits_hlt: u64,
    pub exits_intr: u64,
    pub exits_other: u64,
    pub pio_unhandled: u64,
    pub uart_reads: [u64; 8],
    pub uart_writes: [u64; 8],
    pub i8042_accesses: u64,
    pub irq4_raised: u64,
    pub irq1_raised: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub input_stalls: u64,
    pub flushes: u64,
}

impl StatsSnapshot {
    /// All VM exits.
    pub fn exits_total(&self) -> u64 {
        self.exits_io_in
            + self.exits_io_out
            + self.exits_mmio
            + self.exits_hlt
            + self.exits_intr
            + self.exits_other
    }

    /// All UART register accesses.
    pub fn uart_accesses(&self) -> u64 {
        self.uart_reads.iter().chain(&self.uart_writes).sum()
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "minivm stats:")?;
        writeln!(
            f,
            "  vm exits: {} total: io-in {}, io-out {}, mmio {}, hlt {}, intr {}, other {}",
            self.exits_total(),
            self.exits_io_in,
            self.exits_io_out,
            self.exits_mmio,
            self.exits_hlt,
            self.exits_intr,
            self.exits_other
        )?;
        writeln!(
            f,
            "  uart register accesses: {} total (reads / writes by offset):",
            self.uart_accesses()
        )?;
        for (i, name) in UART_REGISTER_NAMES.iter().enumerate() {
            let (r, w) = (
                self.uart_reads.get(i).copied().unwrap_or(0),
                self.uart_writes.get(i).copied().unwrap_or(0),
            );
            if r + w > 0 {
                writeln!(f, "    {i} {name:<12} {r:>10} / {w:<10}")?;
            }
        }
        writeln!(
            f,
            "  i8042 port accesses: {}, unhandled port accesses: {}",
            self.i8042_accesses, self.pio_unhandled
        )?;
        writeln!(
            f,
            "  interrupts raised: irq4 (uart) {}, irq1 (keyboard) {}",
            self.irq4_raised, self.irq1_raised
        )?;
        writeln!(
            f,
            "  bytes: in {} (input stalls {}), out {} (tx burst flushes {})",
            self.bytes_in, self.input_stalls, self.bytes_out, self.flushes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_report_lists_exits_registers_interrupts_and_bytes() {
        let stats = Stats::default();
        stats.exits_io_in.store(3, Ordering::Relaxed);
        stats.exits_io_out.store(4, Ordering::Relaxed);
        stats.uart_reads[5].store(2, Ordering::Relaxed); // LSR
        stats.uart_writes[0].store(9, Ordering::Relaxed); // THR
        stats.irq4_raised.store(6, Ordering::Relaxed);
        stats.bytes_in.store(11, Ordering::Relaxed);
        stats.bytes_out.store(12, Ordering::Relaxed);
        let report = stats.snapshot().to_string();
        assert!(
            report.contains("vm exits: 7 total: io-in 3, io-out 4"),
            "{report}"
        );
        assert!(report.contains("5 LSR"), "{report}");
        assert!(report.contains("0 RBR/THR/DLL"), "{report}");
        assert!(
            !report.contains("6 MSR"),
            "registers never accessed are omitted"
        );
        assert!(report.contains("irq4 (uart) 6"), "{report}");
        assert!(report.contains("bytes: in 11"), "{report}");
        assert!(report.contains("out 12"), "{report}");
    }

    #[test]
    fn test_snapshot_totals_add_up() {
        let stats = Stats::default();
        stats.uart_reads[0].store(1, Ordering::Relaxed);
        stats.uart_writes[7].store(2, Ordering::Relaxed);
        stats.exits_mmio.store(5, Ordering::Relaxed);
        let snap = stats.snapshot();
        assert_eq!(snap.uart_accesses(), 3);
        assert_eq!(snap.exits_total(), 5);
    }
}
