//! One guest-level serial benchmark run under KVM, as JSON: the built-in
//! guest's TX or RX workload with our 16550A or vm-superio 0.8.2's `Serial`
//! behind the same serial seam, the same VMM and the same guest.
//!
//! ```text
//! cargo run --release -p minivm --features vm-superio --example serial_bench -- superio tx 262144
//! cargo run --release -p minivm --features vm-superio --example serial_bench -- vm-superio rx 131072
//! ```
//!
//! `scripts/bench` runs it for both devices and both directions, each in its
//! own process so that the host CPU time (`getrusage(RUSAGE_SELF)`, every
//! thread: vCPU, I/O loop, input writer) belongs to one run.
//!
//! - `tx N`: the guest transmits N bytes of `minivm::guest::tx_pattern` in
//!   16-byte THRE-driven bursts into a `BufWriter<File>` (a log file under
//!   the system temp directory, removed afterwards); the host checks that
//!   the whole pattern arrived in order.
//! - `rx N`: the host writes N bytes of `minivm::guest::verify_pattern`
//!   through a socket; the guest counts them and checks every byte, then
//!   reports its count and mismatches.
//!
//! Both report VM exits and UART accesses per byte, interrupt rises sent to
//! the irqfd and interrupts the guest handled, and host CPU per byte.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use minivm::serial::SerialPort;
use minivm::{guest, Machine, MachineConfig, RunOutcome};

/// This thread's CPU time in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`): not
/// inflated by preemption on a loaded machine, unlike wall time.
fn thread_cpu_ns() -> u64 {
    // SAFETY: `clock_gettime` only writes the zero-initialised struct we own.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// Time spent inside the serial device's calls (including the output sink's
/// writes and the irqfd writes they make), as wall time and as the calling
/// thread's CPU time, and the number of calls.
#[derive(Clone, Default)]
struct DeviceTime {
    wall_ns: Arc<AtomicU64>,
    cpu_ns: Arc<AtomicU64>,
    calls: Arc<AtomicU64>,
}

impl DeviceTime {
    fn measure<R>(&self, f: impl FnOnce() -> R) -> R {
        let (c, t) = (thread_cpu_ns(), Instant::now());
        let r = f();
        let wall = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let cpu = thread_cpu_ns().saturating_sub(c);
        self.wall_ns.fetch_add(wall, Ordering::Relaxed);
        self.cpu_ns.fetch_add(cpu, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        r
    }
}

/// Wraps the device under test to time every call the VMM makes into it, so
/// that the device's share of the host CPU is measured exactly, not inferred
/// from tick-sampled user/sys times.
struct Timed<S> {
    inner: S,
    time: DeviceTime,
}

impl<S: SerialPort> SerialPort for Timed<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn read(&mut self, offset: u8) -> u8 {
        let inner = &mut self.inner;
        self.time.measure(|| inner.read(offset))
    }
    fn write(&mut self, offset: u8, value: u8) {
        let inner = &mut self.inner;
        self.time.measure(|| inner.write(offset, value));
    }
    fn enqueue_input(&mut self, input: &[u8]) -> usize {
        let inner = &mut self.inner;
        self.time.measure(|| inner.enqueue_input(input))
    }
    fn flush_output(&mut self) {
        let inner = &mut self.inner;
        self.time.measure(|| inner.flush_output());
    }
    fn tx_pending(&self) -> usize {
        self.inner.tx_pending()
    }
}

/// What an empty `measure` adds to its own counters (wall, CPU) per call,
/// to subtract per call.
fn timer_overhead_ns() -> (f64, f64) {
    let t = DeviceTime::default();
    let n = 100_000u32;
    for _ in 0..n {
        t.measure(|| ());
    }
    #[allow(clippy::cast_precision_loss)]
    let per = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / f64::from(n);
    (per(&t.wall_ns), per(&t.cpu_ns))
}

/// User and system CPU seconds of this process so far (all threads).
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: `getrusage` only writes the zero-initialised struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    #[allow(clippy::cast_precision_loss)]
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// Finds `guest: <label> 0x<hex>` style counters in the guest's report.
fn hex_after(text: &str, label: &str) -> Option<u64> {
    let at = text.rfind(label)? + label.len();
    let hex: String = text[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u64::from_str_radix(&hex, 16).ok()
}

fn run(system: &str, workload: &str, bytes: usize) -> Result<String, Box<dyn std::error::Error>> {
    let tx = match workload {
        "tx" => true,
        "rx" => false,
        other => return Err(format!("unknown workload {other} (tx or rx)").into()),
    };
    let config = MachineConfig {
        guest_tx_bytes: if tx { u32::try_from(bytes)? } else { 0 },
        guest_rx_only: !tx,
        guest_rx_verify: !tx,
        // The RX pattern contains Ctrl-] (0x1D): pass it to the guest.
        escape_key: false,
        ..MachineConfig::default()
    };
    let log_path = std::env::temp_dir().join(format!(
        "superio-serial-bench-{}-{system}-{workload}.out",
        std::process::id()
    ));
    let out = Box::new(BufWriter::new(File::create(&log_path)?));
    let input = if tx {
        Vec::new()
    } else {
        guest::verify_pattern(bytes)
    };
    let (mut host_end, vm_end) = UnixStream::pair()?;
    let overhead = timer_overhead_ns();
    let time = DeviceTime::default();
    let t = time.clone();
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let writer = thread::spawn(move || host_end.write_all(&input));
    let outcome: RunOutcome = match system {
        "superio" => Machine::new(
            config,
            move |w| Timed {
                inner: minivm::serial::superio_uart(w),
                time: t,
            },
            out,
        )?
        .run(vm_end)?,
        "vm-superio" => Machine::new(
            config,
            move |w| Timed {
                inner: minivm::serial::vm_superio_serial(w),
                time: t,
            },
            out,
        )?
        .run(vm_end)?,
        other => return Err(format!("unknown system {other} (superio or vm-superio)").into()),
    };
    let wall = wall0.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds();
    writer.join().map_err(|_| "input writer panicked")??;

    let mut output = Vec::new();
    File::open(&log_path)?.read_to_end(&mut output)?;
    fs::remove_file(&log_path)?;
    let text = String::from_utf8_lossy(&output);
    let s = outcome.stats;
    // Bytes the guest meant to move that did not arrive intact.
    let (delivered, lost) = if tx {
        let pattern = guest::tx_pattern(bytes);
        let found = output
            .windows(pattern.len().max(1))
            .any(|w| w == pattern.as_slice());
        (if found { bytes } else { 0 }, usize::from(!found) * bytes)
    } else {
        let got = hex_after(&text, "guest: received 0x").unwrap_or(0);
        let bad = hex_after(&text, "guest: verify: mismatches 0x").unwrap_or(u64::MAX);
        let got = usize::try_from(got)?;
        let bad = usize::try_from(bad).unwrap_or(usize::MAX);
        (
            got,
            bytes.saturating_sub(got).saturating_add(bad.min(bytes)),
        )
    };
    let irq4_handled = hex_after(&text, "interrupts handled: IRQ 4 0x");
    let reads: Vec<String> = s.uart_reads.iter().map(u64::to_string).collect();
    let writes: Vec<String> = s.uart_writes.iter().map(u64::to_string).collect();
    Ok(format!(
        concat!(
            "{{\"system\":\"{}\",\"workload\":\"{}\",\"bytes\":{},\"delivered\":{},\"lost\":{},",
            "\"exits\":{},\"uart_accesses\":{},\"uart_reads\":[{}],\"uart_writes\":[{}],",
            "\"irq4_raised\":{},\"guest_irq4_handled\":{},\"flushes\":{},\"input_stalls\":{},",
            "\"user_s\":{:.4},\"sys_s\":{:.4},\"wall_s\":{:.4},",
            "\"device_calls\":{},\"device_wall_ns\":{},\"device_cpu_ns\":{},",
            "\"overhead_wall_ns\":{:.1},\"overhead_cpu_ns\":{:.1}}}"
        ),
        system,
        workload,
        bytes,
        delivered,
        lost,
        s.exits_total(),
        s.uart_accesses(),
        reads.join(","),
        writes.join(","),
        s.irq4_raised,
        irq4_handled.map_or("null".to_owned(), |n| n.to_string()),
        s.flushes,
        s.input_stalls,
        cpu1.0 - cpu0.0,
        cpu1.1 - cpu0.1,
        wall,
        time.calls.load(Ordering::Relaxed),
        time.wall_ns.load(Ordering::Relaxed),
        time.cpu_ns.load(Ordering::Relaxed),
        overhead.0,
        overhead.1,
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [system, workload, bytes] = args.as_slice() else {
        eprintln!("usage: serial_bench <superio|vm-superio> <tx|rx> <bytes>");
        return ExitCode::from(64);
    };
    let Ok(bytes) = bytes.parse::<usize>() else {
        eprintln!("serial_bench: bad byte count {bytes}");
        return ExitCode::from(64);
    };
    match run(system, workload, bytes) {
        Ok(json) => {
            println!("{json}");
            let _ = io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("serial_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
