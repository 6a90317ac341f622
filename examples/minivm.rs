//! minivm: boot the built-in guest under KVM with our 16550A on COM1 and our
//! i8042 on 0x60/0x64, and talk to it.
//!
//! ```text
//! cargo run --release --example minivm            # interactive: type lines, they echo back
//! printf 'hello\n' | cargo run --release --example minivm -- --stats
//! ```
//!
//! The guest prints its probe report (UART type, i8042 self-test, keyboard
//! ID, whether interrupts reach it), a banner, then echoes every line. It
//! resets the machine through the i8042 (0xFE on port 0x64) when it reads the
//! line `reboot` or sees Ctrl+Alt+Del on its keyboard; minivm then exits 0.
//!
//! Host keys (stdin is put in raw mode when it is a terminal):
//! - Ctrl-] then `d`: press Ctrl+Alt+Del on the guest's keyboard;
//! - Ctrl-] then `q`: stop the VM at once (exit status 2);
//! - Ctrl-] twice: send one Ctrl-] to the guest.
//!
//! At end of input (a pipe or file on stdin), minivm waits until the UART has
//! taken all of it, then presses Ctrl+Alt+Del: the guest finishes echoing and
//! resets, so `printf ... | minivm` terminates with status 0.
//!
//! # Interrupts under `kvm_pvm`: they work
//! This machine's `/dev/kvm` is `kvm_pvm` (`/sys/module/kvm_pvm` exists).
//! minivm creates the in-kernel irqchip (`KVM_CREATE_IRQCHIP`) and registers
//! irqfds on GSI 4 (COM1) and GSI 1 (keyboard). Interrupts reach the
//! real-mode guest through the emulated 8259 PIC:
//! - the guest's own boot-time probe (enable THRI, poll for the IRQ 4 handler)
//!   succeeds on every run: `irq: IRQ 4 delivered through the PIC:
//!   interrupt-driven I/O`;
//! - an idle guest sleeps in `sti; hlt` inside KVM (0 HLT exits) and only an
//!   interrupt wakes it: four input lines 300 ms apart gave
//!   `guest: interrupts handled: IRQ 4 0x0009, IRQ 1 0x0001, halts 0x0008, ...`
//!   with 24 IRQ 4 raises from the VMM; the injected Ctrl+Alt+Del wakes it
//!   through IRQ 1;
//! - the guest's handlers check the pushed FLAGS: no interrupt has ever been
//!   taken with IF clear (`with IF=0 0x0000` in its last line).
//!
//! So the guest runs interrupt-driven by default; `--poll` makes it poll.
//! The integration tests `test_guest_irq_probe_default_uses_interrupt_driven_io`
//! and `test_ctrl_alt_del_host_key_resets_guest` (`tests/minivm.rs`) keep
//! checking it. Details and figures: `crates/minivm/README.md`.

use std::io::{self, IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use minivm::cli::{self, Command};
use minivm::host::RawTerminal;
use minivm::Machine;

fn main() -> ExitCode {
    let (config, show_stats) = match cli::parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run { config, stats }) => (config, stats),
        Err(e) => {
            eprintln!("minivm: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };

    // Our 16550A on COM1; any `minivm::serial::SerialPort` constructor fits here.
    let machine = match Machine::new(config, minivm::serial::superio_uart, Box::new(io::stdout())) {
        Ok(machine) => machine,
        Err(e) => {
            eprintln!("minivm: cannot start the VM: {e}");
            return ExitCode::from(cli::EXIT_ERROR);
        }
    };

    let stdin = io::stdin();
    if stdin.is_terminal() {
        eprintln!("minivm: Ctrl-] d sends Ctrl+Alt+Del, Ctrl-] q quits\r");
    }
    // Raw mode while the guest owns the terminal; restored when `raw` drops.
    let raw = match RawTerminal::enable(stdin.as_raw_fd()) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!("minivm: cannot put the terminal in raw mode: {e}");
            return ExitCode::from(cli::EXIT_ERROR);
        }
    };
    let result = machine.run(stdin);
    drop(raw);
    let _ = io::stdout().flush();

    if let (true, Ok(outcome)) = (show_stats, &result) {
        eprint!("{}", outcome.stats);
    }
    eprintln!("{}", cli::exit_message(&result));
    cli::exit_code(&result)
}
