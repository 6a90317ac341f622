//! KVM integration tests: boot minivm's built-in guest with superio's 16550A
//! and i8042 and check what a driver sees end to end.
//!
//! Each test needs `/dev/kvm`; where it is missing the test prints
//! `SKIPPED: /dev/kvm not available` and passes.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread;

use minivm::{EofAction, ExitReason, Machine, MachineConfig, RunOutcome};

/// Lines the guest prints (guest/guest.S), written out here as the oracle.
const UART_TYPE_LINE: &str = "uart: UART is a 16550A\r\n";
const UART_IER_LINE: &str = "uart: IER test ok (00/0F)\r\n";
const UART_SCRATCH_LINE: &str = "uart: scratch register ok (A5/5A)\r\n";
/// Loopback: MCR = LOOP|OUT2|RTS must read back as MSR = DCD|CTS (0x90).
const UART_LOOPBACK_LINE: &str = "uart: loopback MSR check ok (90)\r\n";
/// FCR bit 0 set: IIR[7:6] = 3 on a 16550A.
const UART_FIFO_LINE: &str = "uart: FIFO check (IIR[7:6]) ok (3)\r\n";
const BANNER_LINE: &str =
    "minivm built-in guest: a real-mode driver for a 16550A on COM1 and an i8042\r\n";
/// i8042 self-test: command 0xAA answers 0x55.
const SELF_TEST_LINE: &str = "i8042: self-test ok (55)\r\n";
/// Keyboard identify 0xF2: ACK 0xFA, then the MF2 ID 0xAB 0x83.
const KEYBOARD_ID_LINE: &str = "i8042: keyboard identified ok (FA AB 83)\r\n";
const READY_LINE: &str =
    "ready: every line echoes back; type \"reboot\" or press Ctrl+Alt+Del to reset\r\n";
const IRQ_LINE: &str = "irq: IRQ 4 delivered through the PIC: interrupt-driven I/O\r\n";
const POLLED_LINE: &str = "irq: polling forced by the VMM: polled I/O\r\n";
const REBOOT_CMD_LINE: &str =
    "guest: \"reboot\": resetting through the i8042 (0xFE on port 0x64)\r\n";
const CAD_LINE: &str = "guest: Ctrl+Alt+Del: resetting through the i8042 (0xFE on port 0x64)\r\n";
/// The end of the TX workload.
const TX_DONE_LINE: &str =
    "guest: TX workload done: resetting through the i8042 (0xFE on port 0x64)\r\n";

/// Ctrl-] then `d`: the host key for Ctrl+Alt+Del.
const HOST_KEY_CAD: &[u8] = b"\x1dd";
/// Ctrl-] then `q`: the host key to quit.
const HOST_KEY_QUIT: &[u8] = b"\x1dq";

fn kvm_available() -> bool {
    minivm::kvm_available_for_tests()
}

/// The guest's serial output, shared with the test.
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

/// Boots the guest with our UART, feeds it `input` through a socket (closed
/// afterwards when `close_input`), and returns the outcome and the output.
fn boot(config: MachineConfig, input: &[u8], close_input: bool) -> (RunOutcome, Vec<u8>) {
    let out = SharedBuf::default();
    let machine = Machine::new(config, minivm::serial::superio_uart, Box::new(out.clone()))
        .expect("machine setup");
    let (mut host_end, vm_end) = UnixStream::pair().unwrap();
    let data = input.to_vec();
    let writer = thread::spawn(move || {
        host_end.write_all(&data).unwrap();
        if close_input {
            drop(host_end);
            None
        } else {
            Some(host_end)
        }
    });
    let outcome = machine.run(vm_end).expect("run");
    drop(writer.join().unwrap());
    let bytes = out.0.lock().unwrap().clone();
    (outcome, bytes)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Boots and types `reboot`: the shortest complete run.
fn boot_and_reboot() -> (RunOutcome, String) {
    let (outcome, out) = boot(MachineConfig::default(), b"reboot\n", false);
    (outcome, text(&out))
}

#[test]
fn test_guest_uart_probe_reports_16550a() {
    if !kvm_available() {
        return;
    }
    let (_, out) = boot_and_reboot();
    for line in [
        UART_IER_LINE,
        UART_SCRATCH_LINE,
        UART_LOOPBACK_LINE,
        UART_FIFO_LINE,
        UART_TYPE_LINE,
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn test_guest_i8042_probe_reports_self_test_and_keyboard_id() {
    if !kvm_available() {
        return;
    }
    let (_, out) = boot_and_reboot();
    assert!(out.contains(SELF_TEST_LINE), "{out}");
    assert!(out.contains(KEYBOARD_ID_LINE), "{out}");
}

#[test]
fn test_guest_boot_prints_banner_before_ready_line() {
    if !kvm_available() {
        return;
    }
    let (_, out) = boot_and_reboot();
    let banner = out.find(BANNER_LINE).expect("banner");
    let ready = out.find(READY_LINE).expect("ready line");
    assert!(banner < ready);
}

#[test]
fn test_guest_irq_probe_default_uses_interrupt_driven_io() {
    if !kvm_available() {
        return;
    }
    let (outcome, out) = boot_and_reboot();
    assert!(out.contains(IRQ_LINE), "{out}");
    assert!(outcome.stats.irq4_raised > 0);
}

#[test]
fn test_reboot_command_resets_through_i8042_and_vm_exits() {
    if !kvm_available() {
        return;
    }
    let (outcome, out) = boot_and_reboot();
    assert_eq!(outcome.reason, ExitReason::GuestReset);
    assert_eq!(outcome.ctrl_alt_del_injected, 0);
    assert!(out.contains(&format!("reboot\n{REBOOT_CMD_LINE}")), "{out}");
}

#[test]
fn test_ctrl_alt_del_host_key_resets_guest() {
    if !kvm_available() {
        return;
    }
    let (outcome, out) = boot(MachineConfig::default(), HOST_KEY_CAD, false);
    let out = text(&out);
    assert_eq!(outcome.reason, ExitReason::GuestReset);
    assert_eq!(outcome.ctrl_alt_del_injected, 1);
    assert!(out.contains(CAD_LINE), "{out}");
    // The guest read the make and break codes through the data port, with
    // IRQ 1 raised for them.
    assert!(outcome.stats.irq1_raised > 0);
}

#[test]
fn test_quit_host_key_stops_vm_without_reset() {
    if !kvm_available() {
        return;
    }
    let (outcome, out) = boot(MachineConfig::default(), HOST_KEY_QUIT, false);
    assert_eq!(outcome.reason, ExitReason::HostQuit);
    assert!(!text(&out).contains(CAD_LINE));
}

#[test]
fn test_input_eof_presses_ctrl_alt_del_after_echo() {
    if !kvm_available() {
        return;
    }
    let (outcome, out) = boot(MachineConfig::default(), b"last words\n", true);
    let out = text(&out);
    assert_eq!(outcome.reason, ExitReason::GuestReset);
    assert_eq!(outcome.ctrl_alt_del_injected, 1);
    assert!(out.contains(&format!("last words\n{CAD_LINE}")), "{out}");
}

/// 64 KiB covering every byte value, in an order that is not periodic in
/// the FIFO size.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 256) % 256) as u8).collect()
}

/// What the guest echoes for `input`: every byte, `\r` as `\r\n`.
fn expected_echo(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 128);
    for &b in input {
        out.push(b);
        if b == b'\r' {
            out.push(b'\n');
        }
    }
    out
}

/// Runs `input` through the echo loop and returns what came back after the
/// ready line and before the reset line.
fn echo_through(config: MachineConfig, input: &[u8]) -> (RunOutcome, Vec<u8>) {
    assert!(
        !input.windows(8).any(|w| w == b"\nreboot\n"),
        "the pattern must not contain the reboot command"
    );
    let (outcome, out) = boot(config, input, true);
    let ready = out
        .windows(READY_LINE.len())
        .position(|w| w == READY_LINE.as_bytes())
        .expect("ready line")
        + READY_LINE.len();
    let reset = out
        .windows(CAD_LINE.len())
        .rposition(|w| w == CAD_LINE.as_bytes())
        .expect("reset line");
    assert!(reset >= ready);
    // The guest's own account: how many bytes it took and their sum.
    let sum = input.iter().map(|&b| u32::from(b)).sum::<u32>() & 0xffff;
    let received = format!(
        "guest: received 0x{:08X} bytes, sum 0x{sum:04X}\r\n",
        input.len()
    );
    let tail = text(&out[reset + CAD_LINE.len()..]);
    assert!(
        tail.starts_with(&received),
        "after the reset line: {tail:?}"
    );
    (outcome, out[ready..reset].to_vec())
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

#[test]
fn test_echo_64k_patterned_input_comes_back_complete_and_in_order() {
    if !kvm_available() {
        return;
    }
    let input = pattern(64 * 1024);
    let config = MachineConfig {
        escape_key: false,
        on_input_eof: EofAction::CtrlAltDel,
        ..MachineConfig::default()
    };
    let (outcome, body) = echo_through(config, &input);
    let expected = expected_echo(&input);
    assert_eq!(first_difference(&body, &expected), None, "echo differs");
    assert_eq!(outcome.stats.bytes_in, 64 * 1024);
    // The UART's 64-byte FIFO is far smaller than the input: the VMM had to
    // wait for room, and still lost nothing.
    assert!(outcome.stats.input_stalls > 0);
    assert_eq!(outcome.reason, ExitReason::GuestReset);
}

#[test]
fn test_echo_16k_polled_guest_comes_back_complete_and_in_order() {
    if !kvm_available() {
        return;
    }
    let input = pattern(16 * 1024);
    let config = MachineConfig {
        force_polling: true,
        escape_key: false,
        ..MachineConfig::default()
    };
    let (outcome, body) = echo_through(config, &input);
    assert_eq!(first_difference(&body, &expected_echo(&input)), None);
    assert_eq!(
        outcome.stats.irq4_raised, 0,
        "a polled guest leaves IER at 0"
    );
}

#[test]
fn test_polling_config_guest_reports_polled_io() {
    if !kvm_available() {
        return;
    }
    let config = MachineConfig {
        force_polling: true,
        ..MachineConfig::default()
    };
    let (_, out) = boot(config, b"reboot\n", false);
    assert!(text(&out).contains(POLLED_LINE));
}

#[test]
fn test_stats_count_uart_accesses_and_bytes() {
    if !kvm_available() {
        return;
    }
    let (outcome, out) = boot(MachineConfig::default(), b"reboot\n", false);
    let s = outcome.stats;
    // Every output byte is one THR write (offset 0) and one VM exit.
    assert_eq!(s.bytes_out, out.len() as u64);
    assert!(s.uart_writes[0] >= s.bytes_out);
    // "reboot\n" was read from RBR byte by byte.
    assert_eq!(s.bytes_in, 7);
    assert!(s.uart_reads[0] >= 7);
    assert!(s.exits_io_in + s.exits_io_out >= s.uart_accesses());
}

#[test]
fn test_rx_only_workload_counts_and_sums_64k_without_echo() {
    if !kvm_available() {
        return;
    }
    let input = pattern(64 * 1024);
    let config = MachineConfig {
        guest_rx_only: true,
        escape_key: false,
        ..MachineConfig::default()
    };
    let (outcome, body) = echo_through(config, &input);
    assert!(body.is_empty(), "RX-only echoes nothing: {:?}", text(&body));
    assert_eq!(outcome.stats.bytes_in, 64 * 1024);
}

/// The documented TX workload: lines of 63 characters `'!' + column`, then `\n`.
fn tx_lines(len: usize) -> Vec<u8> {
    let line: Vec<u8> = (0..63u8).map(|c| b'!' + c).chain([b'\n']).collect();
    line.iter().copied().cycle().take(len).collect()
}

#[test]
fn test_tx_workload_64k_comes_out_complete_then_resets() {
    if !kvm_available() {
        return;
    }
    let config = MachineConfig {
        guest_tx_bytes: 64 * 1024,
        ..MachineConfig::default()
    };
    // EOF at once: the VMM must not cut the workload short.
    let (outcome, out) = boot(config, b"", true);
    let out = text(&out);
    let start = out.find(READY_LINE).expect("ready") + READY_LINE.len();
    let expected = format!(
        "{}{TX_DONE_LINE}",
        String::from_utf8(tx_lines(64 * 1024)).unwrap()
    );
    assert!(out[start..].starts_with(&expected), "TX output differs");
    assert_eq!(outcome.reason, ExitReason::GuestReset);
    assert_eq!(outcome.ctrl_alt_del_injected, 0);
}

#[test]
fn test_rx_verify_128k_guest_sees_every_byte_in_order() {
    if !kvm_available() {
        return;
    }
    // Byte i is i mod 251 (written out here, not taken from minivm).
    let input: Vec<u8> = (0..128 * 1024usize)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let config = MachineConfig {
        guest_rx_only: true,
        guest_rx_verify: true,
        escape_key: false,
        ..MachineConfig::default()
    };
    let (outcome, out) = boot(config, &input, true);
    let out = text(&out);
    assert!(
        out.contains("guest: verify: mismatches 0x0000, first at byte 0x00000000 00/00\r\n"),
        "{out}"
    );
    assert_eq!(outcome.stats.bytes_in, 128 * 1024);
}

/// An output sink that pushes back: every `period`-th write returns
/// `WouldBlock` and takes nothing.
struct PushBack {
    out: SharedBuf,
    calls: u64,
    period: u64,
    refused: Arc<Mutex<u64>>,
}

impl Write for PushBack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % self.period == 0 {
            *self.refused.lock().unwrap() += 1;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn test_echo_with_pushing_back_output_loses_nothing() {
    if !kvm_available() {
        return;
    }
    let out = SharedBuf::default();
    let refused = Arc::new(Mutex::new(0));
    let sink = PushBack {
        out: out.clone(),
        calls: 0,
        period: 32,
        refused: Arc::clone(&refused),
    };
    let config = MachineConfig {
        escape_key: false,
        ..MachineConfig::default()
    };
    let machine = Machine::new(config, minivm::serial::superio_uart, Box::new(sink)).unwrap();
    let input = pattern(4 * 1024);
    let (mut host_end, vm_end) = UnixStream::pair().unwrap();
    let data = input.clone();
    let writer = thread::spawn(move || host_end.write_all(&data).unwrap());
    let outcome = machine.run(vm_end).unwrap();
    writer.join().unwrap();
    let out = out.0.lock().unwrap().clone();
    assert!(*refused.lock().unwrap() > 0, "the sink never pushed back");
    let ready = out
        .windows(READY_LINE.len())
        .position(|w| w == READY_LINE.as_bytes())
        .expect("ready line")
        + READY_LINE.len();
    let expected = expected_echo(&input);
    assert_eq!(
        first_difference(&out[ready..ready + expected.len()], &expected),
        None
    );
    assert!(text(&out[ready + expected.len()..]).starts_with(CAD_LINE));
    assert_eq!(outcome.reason, ExitReason::GuestReset);
}
