//! The VMM: devices on a PIO bus, a vCPU thread, and the host I/O loop that
//! feeds input with back-pressure, ends TX bursts and watches for the reset.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kvm_ioctls::{VcpuExit, VcpuFd};
use superio_core::{BusDevice, PioBytes, Trigger};
use superio_i8042::I8042;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use vmm_sys_util::signal::{register_signal_handler, Killable, SIGRTMIN};

use crate::bus::PioBus;
use crate::guest;
use crate::host::{EscapeParser, HostAction};
use crate::kvm;
use crate::serial::{HostOutput, IrqFdLine, RoomSignal, SerialPort, SerialWiring};
use crate::stats::{self, Stats, StatsSnapshot};
use crate::Error;

/// COM1's first port.
pub const COM1_BASE: u16 = 0x3f8;
/// COM1's interrupt (ISA IRQ 4 = GSI 4).
pub const COM1_GSI: u32 = 4;
/// The i8042's first port (data, 0x60); status/command is 0x64.
pub const I8042_BASE: u16 = 0x60;
/// The keyboard interrupt (ISA IRQ 1 = GSI 1).
pub const KBD_GSI: u32 = 1;

/// What to do when the host input reaches end of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EofAction {
    /// Once all input is in the UART, press Ctrl+Alt+Del: the guest finishes
    /// echoing, then resets through the i8042 and the VMM exits. Not with a
    /// TX workload (`guest_tx_bytes`), which ends the run itself.
    #[default]
    CtrlAltDel,
    /// Keep running until the guest resets or the user quits.
    Continue,
}

/// How to run the machine.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// Tell the guest not to probe interrupts and to poll its devices.
    pub force_polling: bool,
    /// Tell the guest to count and checksum input instead of echoing it
    /// (an RX benchmark workload).
    pub guest_rx_only: bool,
    /// Tell the guest to check that input byte `i` is `i % 251` and report
    /// mismatches (use with input from [`guest::verify_pattern`]).
    pub guest_rx_verify: bool,
    /// Bytes the guest transmits once ready, then it resets (a TX benchmark
    /// workload; see [`guest::tx_pattern`]). 0: none.
    pub guest_tx_bytes: u32,
    /// Interpret the Ctrl-] escape key on input (see [`crate::host`]).
    pub escape_key: bool,
    /// What host input EOF means.
    pub on_input_eof: EofAction,
    /// Period of the timer that ends pending TX bursts and retries input.
    pub flush_interval: Duration,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            force_polling: false,
            guest_rx_only: false,
            guest_rx_verify: false,
            guest_tx_bytes: 0,
            escape_key: true,
            on_input_eof: EofAction::CtrlAltDel,
            flush_interval: Duration::from_millis(5),
        }
    }
}

/// Why the machine stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// The guest pulsed the CPU reset line through the i8042 (0xFE on port
    /// 0x64): the normal way out, exit status 0.
    GuestReset,
    /// The host asked to stop (Ctrl-] `q`).
    HostQuit,
}

/// The result of [`Machine::run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// Why the machine stopped.
    pub reason: ExitReason,
    /// Ctrl+Alt+Del presses the VMM injected (escape key or input EOF).
    pub ctrl_alt_del_injected: u32,
    /// The counters at the end of the run.
    pub stats: StatsSnapshot,
}

/// The i8042's reset output: the guest asked for a CPU reset.
#[derive(Debug, Default)]
pub struct ResetSignal {
    requested: AtomicBool,
}

impl ResetSignal {
    /// Whether the guest has asked for a reset.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }
}

impl Trigger for ResetSignal {
    type E = std::convert::Infallible;
    fn trigger(&self) -> Result<(), Self::E> {
        self.requested.store(true, Ordering::Release);
        Ok(())
    }
}

/// Our i8042 as the VMM wires it: IRQ 1 to an irqfd, reset to [`ResetSignal`].
pub type Kbc = I8042<IrqFdLine, Arc<ResetSignal>>;

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The UART's MCR offset and its DTR bit.
const MCR: u8 = 4;
const MCR_DTR: u8 = 0x01;

/// COM1 on the bus: byte accesses go to the [`SerialPort`], counted by
/// register. It also watches the guest's DTR output (MCR bit 0), because the
/// host side behaves like a modem: it sends only while the guest says its
/// terminal is ready. Bytes sent before the driver has set up the port would
/// be cleared by its FIFO reset, as on real hardware.
struct SerialOnBus<S> {
    port: Arc<Mutex<S>>,
    stats: Arc<Stats>,
    dtr: Arc<AtomicBool>,
    /// Wakes the I/O loop when DTR rises.
    wake: Arc<EventFd>,
}

impl<S: SerialPort> BusDevice for SerialOnBus<S> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        match (u8::try_from(offset), data) {
            (Ok(reg @ 0..=7), [byte]) => {
                if let Some(c) = self.stats.uart_reads.get(usize::from(reg)) {
                    stats::bump(c);
                }
                *byte = lock(&self.port).read(reg);
            }
            (_, data) => data.fill(0xff),
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if let (Ok(reg @ 0..=7), [byte]) = (u8::try_from(offset), data) {
            if let Some(c) = self.stats.uart_writes.get(usize::from(reg)) {
                stats::bump(c);
            }
            lock(&self.port).write(reg, *byte);
            if reg == MCR {
                let dtr = *byte & MCR_DTR != 0;
                if dtr && !self.dtr.swap(dtr, Ordering::AcqRel) {
                    if let Err(e) = self.wake.write(1) {
                        log::debug!("cannot wake the I/O loop: {e}");
                    }
                } else {
                    self.dtr.store(dtr, Ordering::Release);
                }
            }
        }
    }
}

/// Port 0x80: records the guest's boot milestones (POST codes) and wakes
/// the I/O loop when the guest is ready.
struct PostPort {
    ready: Arc<AtomicBool>,
    wake: Arc<EventFd>,
}

impl BusDevice for PostPort {
    fn read(&mut self, _offset: u64, data: &mut [u8]) {
        data.fill(0xff);
    }
    fn write(&mut self, _offset: u64, data: &[u8]) {
        if data == [guest::POST_READY] && !self.ready.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.wake.write(1) {
                log::debug!("cannot wake the I/O loop: {e}");
            }
        }
    }
}

/// Counts accesses to a device.
struct Counted<D> {
    inner: D,
    stats: Arc<Stats>,
}

impl<D: BusDevice> BusDevice for Counted<D> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        stats::bump(&self.stats.i8042_accesses);
        self.inner.read(offset, data);
    }
    fn write(&mut self, offset: u64, data: &[u8]) {
        stats::bump(&self.stats.i8042_accesses);
        self.inner.write(offset, data);
    }
}

/// A KVM virtual machine running the built-in guest with a serial port of
/// type `S` on COM1 and our i8042 on 0x60/0x64.
///
/// ```no_run
/// use minivm::{Machine, MachineConfig, ExitReason};
///
/// # fn main() -> Result<(), minivm::Error> {
/// let machine = Machine::new(
///     MachineConfig::default(),
///     minivm::serial::superio_uart,
///     Box::new(std::io::stdout()),
/// )?;
/// let outcome = machine.run(std::io::stdin())?;
/// assert_eq!(outcome.reason, ExitReason::GuestReset);
/// eprint!("{}", outcome.stats);
/// # Ok(()) }
/// ```
pub struct Machine<S: SerialPort + 'static> {
    vm: kvm::KvmVm,
    bus: PioBus,
    serial: Arc<Mutex<S>>,
    kbc: Arc<Mutex<PioBytes<Kbc>>>,
    reset: Arc<ResetSignal>,
    rx_room: Arc<EventFd>,
    dtr: Arc<AtomicBool>,
    ready: Arc<AtomicBool>,
    stats: Arc<Stats>,
    config: MachineConfig,
}

impl<S: SerialPort + 'static> std::fmt::Debug for Machine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("bus", &self.bus)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: SerialPort + 'static> Machine<S> {
    /// Creates the VM, its devices and its vCPU. `make_serial` builds the
    /// device under COM1 from the VMM's wiring (e.g.
    /// [`crate::serial::superio_uart`]); `output` receives the guest's serial
    /// output.
    ///
    /// # Errors
    /// [`Error::KvmUnavailable`] if `/dev/kvm` cannot be used; other variants
    /// for KVM or host resource failures during setup.
    pub fn new(
        config: MachineConfig,
        make_serial: impl FnOnce(SerialWiring) -> S,
        output: Box<dyn Write + Send>,
    ) -> Result<Self, Error> {
        let kvm = kvm::open_kvm()?;
        let stats = Arc::new(Stats::default());
        let eventfd = || {
            EventFd::new(EFD_NONBLOCK)
                .map(Arc::new)
                .map_err(Error::Host)
        };
        let com1_irq = eventfd()?;
        let kbd_irq = eventfd()?;
        let rx_room = eventfd()?;
        let mut config_byte = 0;
        if config.force_polling {
            config_byte |= guest::CONFIG_FORCE_POLLING;
        }
        if config.guest_rx_only {
            config_byte |= guest::CONFIG_RX_ONLY;
        }
        if config.guest_rx_verify {
            config_byte |= guest::CONFIG_RX_VERIFY;
        }
        let vm = kvm::create_vm(
            &kvm,
            &[(&com1_irq, COM1_GSI), (&kbd_irq, KBD_GSI)],
            config_byte,
            config.guest_tx_bytes,
        )?;

        let serial = Arc::new(Mutex::new(make_serial(SerialWiring {
            interrupt: IrqFdLine::new(com1_irq, Arc::clone(&stats), COM1_GSI),
            output: HostOutput::new(output, Arc::clone(&stats)),
            rx_room: RoomSignal::new(Arc::clone(&rx_room)),
        })));
        let reset = Arc::new(ResetSignal::default());
        let kbc = Arc::new(Mutex::new(PioBytes::new(I8042::new(
            IrqFdLine::new(kbd_irq, Arc::clone(&stats), KBD_GSI),
            Arc::clone(&reset),
        ))));

        let dtr = Arc::new(AtomicBool::new(false));
        let mut bus = PioBus::default();
        bus.insert(
            COM1_BASE,
            8,
            "com1",
            Box::new(SerialOnBus {
                port: Arc::clone(&serial),
                stats: Arc::clone(&stats),
                dtr: Arc::clone(&dtr),
                wake: Arc::clone(&rx_room),
            }),
        )?;
        let ready = Arc::new(AtomicBool::new(false));
        bus.insert(
            guest::POST_PORT,
            1,
            "post",
            Box::new(PostPort {
                ready: Arc::clone(&ready),
                wake: Arc::clone(&rx_room),
            }),
        )?;
        bus.insert(
            I8042_BASE,
            5,
            "i8042",
            Box::new(Counted {
                inner: Arc::clone(&kbc),
                stats: Arc::clone(&stats),
            }),
        )?;

        Ok(Self {
            vm,
            bus,
            serial,
            kbc,
            reset,
            rx_room,
            dtr,
            ready,
            stats,
            config,
        })
    }

    /// The live counters.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// The device under COM1, shared with the VMM: keep a clone to read its
    /// own metrics or state after [`Machine::run`].
    pub fn serial(&self) -> Arc<Mutex<S>> {
        Arc::clone(&self.serial)
    }

    /// The i8042, shared with the VMM (e.g. to press keys from a test).
    pub fn i8042(&self) -> Arc<Mutex<PioBytes<Kbc>>> {
        Arc::clone(&self.kbc)
    }

    /// Runs the guest until it resets through the i8042 or the host quits,
    /// feeding it `input` (stdin, a pipe, a socket).
    ///
    /// # Errors
    /// A KVM failure, an unexpected VM exit (e.g. a triple fault) or a host
    /// I/O error on `input`.
    pub fn run<I: Read + AsRawFd>(self, mut input: I) -> Result<RunOutcome, Error> {
        install_kick_handler()?;
        let Self {
            vm,
            bus,
            serial,
            kbc,
            reset,
            rx_room,
            dtr,
            ready,
            stats,
            config,
        } = self;
        let done = Arc::new(EventFd::new(EFD_NONBLOCK).map_err(Error::Host)?);
        let stop = Arc::new(AtomicBool::new(false));

        let vcpu_thread = {
            let ctx = VcpuContext {
                vcpu: vm.vcpu,
                bus,
                serial: Arc::clone(&serial),
                reset: Arc::clone(&reset),
                stats: Arc::clone(&stats),
                stop: Arc::clone(&stop),
            };
            let done = Arc::clone(&done);
            thread::Builder::new()
                .name("minivm-vcpu".into())
                .spawn(move || {
                    let result = ctx.run();
                    if let Err(e) = done.write(1) {
                        log::error!("cannot signal the end of the vCPU thread: {e}");
                    }
                    result
                })
                .map_err(Error::Host)?
        };

        let mut io = IoLoop {
            serial: &serial,
            kbc: &kbc,
            dtr: &dtr,
            ready: &ready,
            stats: &stats,
            config: &config,
            pending: VecDeque::new(),
            parser: EscapeParser::default(),
            eof: false,
            eof_handled: false,
            cad_wanted: 0,
            cad_injected: 0,
            quit: false,
        };
        let io_result = io.run(
            &mut input,
            rx_room.as_raw_fd(),
            done.as_raw_fd(),
            &stop,
            &vcpu_thread,
        );
        // Whatever happened, the vCPU thread must end before we return.
        stop.store(true, Ordering::Release);
        while !vcpu_thread.is_finished() {
            let _ = vcpu_thread.kill(SIGRTMIN());
            thread::sleep(Duration::from_millis(1));
        }
        let vcpu_result = vcpu_thread.join().map_err(|_| Error::VcpuPanicked)?;
        let mut port = lock(&serial);
        port.flush_output();
        drop(port);
        io_result?;
        let reason = vcpu_result?;
        Ok(RunOutcome {
            reason: if io.quit {
                ExitReason::HostQuit
            } else {
                reason
            },
            ctrl_alt_del_injected: io.cad_injected,
            stats: stats.snapshot(),
        })
    }
}

/// A no-op handler for the signal that kicks the vCPU out of `KVM_RUN`.
extern "C" fn kick_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

fn install_kick_handler() -> Result<(), Error> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = register_signal_handler(SIGRTMIN(), kick_handler)
            .map_err(|e| Error::Host(io::Error::from_raw_os_error(e.errno())));
    });
    result
}

/// What the vCPU thread owns.
struct VcpuContext<S> {
    vcpu: VcpuFd,
    bus: PioBus,
    serial: Arc<Mutex<S>>,
    reset: Arc<ResetSignal>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
}

fn is_com1(port: u16) -> bool {
    (COM1_BASE..COM1_BASE + 8).contains(&port)
}

impl<S: SerialPort> VcpuContext<S> {
    fn run(mut self) -> Result<ExitReason, Error> {
        loop {
            if self.stop.load(Ordering::Acquire) {
                return Ok(ExitReason::HostQuit);
            }
            let mut uart_exit = false;
            match self.vcpu.run() {
                Ok(VcpuExit::IoIn(port, data)) => {
                    stats::bump(&self.stats.exits_io_in);
                    uart_exit = is_com1(port);
                    if !self.bus.read(port, data) {
                        stats::bump(&self.stats.pio_unhandled);
                    }
                }
                Ok(VcpuExit::IoOut(port, data)) => {
                    stats::bump(&self.stats.exits_io_out);
                    uart_exit = is_com1(port);
                    if !self.bus.write(port, data) {
                        stats::bump(&self.stats.pio_unhandled);
                    }
                    if self.reset.requested() {
                        return Ok(ExitReason::GuestReset);
                    }
                }
                Ok(VcpuExit::MmioRead(_, data)) => {
                    stats::bump(&self.stats.exits_mmio);
                    data.fill(0xff);
                }
                Ok(VcpuExit::MmioWrite(..)) => stats::bump(&self.stats.exits_mmio),
                Ok(VcpuExit::Hlt) => stats::bump(&self.stats.exits_hlt),
                Ok(VcpuExit::Intr) => stats::bump(&self.stats.exits_intr),
                Ok(VcpuExit::Shutdown) => return Err(Error::GuestShutdown(self.where_())),
                Ok(other) => {
                    stats::bump(&self.stats.exits_other);
                    let what = format!("{other:?}");
                    return Err(Error::UnexpectedExit(format!("{what} {}", self.where_())));
                }
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                    stats::bump(&self.stats.exits_intr);
                }
                Err(e) => {
                    return Err(Error::Kvm {
                        what: "KVM_RUN",
                        source: io::Error::from_raw_os_error(e.errno()),
                    })
                }
            }
            if !uart_exit {
                // The guest left the UART alone: its TX burst is over.
                stats::bump(&self.stats.flushes);
                lock(&self.serial).flush_output();
            }
        }
    }

    fn where_(&self) -> String {
        match self.vcpu.get_regs() {
            Ok(r) => format!("at rip {:#x}", r.rip),
            Err(_) => String::new(),
        }
    }
}

/// The host side: input → UART with back-pressure, escape-key actions,
/// the TX-burst timer.
struct IoLoop<'a, S> {
    serial: &'a Mutex<S>,
    kbc: &'a Mutex<PioBytes<Kbc>>,
    dtr: &'a AtomicBool,
    ready: &'a AtomicBool,
    stats: &'a Stats,
    config: &'a MachineConfig,
    pending: VecDeque<u8>,
    parser: EscapeParser,
    eof: bool,
    eof_handled: bool,
    cad_wanted: u32,
    cad_injected: u32,
    quit: bool,
}

impl<S: SerialPort> IoLoop<'_, S> {
    fn run<I: Read + AsRawFd, T>(
        &mut self,
        input: &mut I,
        rx_room: RawFd,
        done: RawFd,
        stop: &AtomicBool,
        vcpu: &JoinHandle<T>,
    ) -> Result<(), Error> {
        let mut buf = [0u8; 4096];
        let mut last_flush = Instant::now();
        let interval = self.config.flush_interval;
        let timeout_ms = i32::try_from(interval.as_millis().max(1)).unwrap_or(i32::MAX);
        loop {
            if vcpu.is_finished() {
                return Ok(());
            }
            self.deliver();
            self.inject_ctrl_alt_del();
            if self.quit {
                stop.store(true, Ordering::Release);
                return Ok(());
            }

            let want_input = self.pending.is_empty() && !self.eof;
            let mut fds = [
                pollfd(done),
                pollfd(rx_room),
                pollfd(if want_input { input.as_raw_fd() } else { -1 }),
            ];
            // SAFETY: `fds` is a valid array of pollfd for the whole call;
            // negative descriptors are ignored by poll.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(Error::Host(err));
                }
            }
            let [done_fd, room_fd, input_fd] = fds;
            if done_fd.revents != 0 {
                return Ok(());
            }
            if room_fd.revents != 0 {
                // Consume the "room available" wakeup; delivery happens above.
                let _ = read_eventfd(rx_room);
            }
            if input_fd.revents != 0 {
                match input.read(&mut buf) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.take_input(buf.get(..n).unwrap_or_default()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(Error::Input(e)),
                }
            }
            if last_flush.elapsed() >= interval {
                last_flush = Instant::now();
                stats::bump(&self.stats.flushes);
                lock(self.serial).flush_output();
            }
        }
    }

    fn take_input(&mut self, data: &[u8]) {
        if self.config.escape_key {
            let mut bytes = Vec::with_capacity(data.len());
            let mut actions = Vec::new();
            self.parser.feed(data, &mut bytes, &mut actions);
            self.pending.extend(bytes);
            for action in actions {
                match action {
                    HostAction::CtrlAltDel => self.cad_wanted += 1,
                    HostAction::Quit => self.quit = true,
                }
            }
        } else {
            self.pending.extend(data);
        }
    }

    /// Offers pending input to the UART; what does not fit waits for the
    /// guest to drain the RX FIFO ("room available") or the next timer tick.
    fn deliver(&mut self) {
        while !self.pending.is_empty() && self.dtr.load(Ordering::Acquire) {
            let (front, _) = self.pending.as_slices();
            let taken = lock(self.serial).enqueue_input(front);
            stats::add(&self.stats.bytes_in, taken);
            self.pending.drain(..taken.min(self.pending.len()));
            if taken == 0 {
                stats::bump(&self.stats.input_stalls);
                break;
            }
        }
        // A TX workload ends the run by itself; Ctrl+Alt+Del would cut it short.
        if self.eof
            && self.pending.is_empty()
            && !self.eof_handled
            && self.config.on_input_eof == EofAction::CtrlAltDel
            && self.config.guest_tx_bytes == 0
        {
            self.eof_handled = true;
            self.cad_wanted += 1;
        }
    }

    /// Presses Ctrl+Alt+Del once the guest is ready (before, its keyboard
    /// probe would flush the scancodes away); a full keyboard queue retries
    /// on the next tick.
    fn inject_ctrl_alt_del(&mut self) {
        while self.cad_wanted > 0 && self.ready.load(Ordering::Acquire) {
            match lock(self.kbc).inner_mut().ctrl_alt_del() {
                Ok(()) => {
                    self.cad_wanted -= 1;
                    self.cad_injected += 1;
                }
                Err(e) => {
                    log::debug!("Ctrl+Alt+Del deferred: {e}");
                    break;
                }
            }
        }
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn read_eventfd(fd: RawFd) -> io::Result<u64> {
    let mut value = [0u8; 8];
    // SAFETY: reads at most 8 bytes into an 8-byte buffer we own.
    let n = unsafe { libc::read(fd, value.as_mut_ptr().cast(), value.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from_ne_bytes(value))
}
