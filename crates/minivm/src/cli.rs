//! The command line of `examples/minivm.rs`, kept here so it is tested: the
//! options, the usage text and the exit statuses.

use std::process::ExitCode;

use crate::{EofAction, Error, ExitReason, MachineConfig, RunOutcome};

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
usage: minivm [--stats] [--poll] [--rx-only] [--rx-verify] [--tx=BYTES]
              [--no-escape] [--no-eof-reset] [--help]

Boots minivm's built-in real-mode guest under KVM with superio's 16550A on
COM1 (0x3F8, IRQ 4) and i8042 on 0x60/0x64 (IRQ 1). The guest probes both
devices like Linux, prints what it found and echoes every input line.
It resets through the i8042 on the line `reboot` or on Ctrl+Alt+Del;
minivm then exits 0. At end of input (a pipe or a file), minivm presses
Ctrl+Alt+Del once the guest has taken all of it.

options:
  --stats         print VM exits by kind, UART register accesses by
                  register, interrupts raised and bytes in/out (stderr)
  --poll          tell the guest to poll its devices instead of using IRQs
  --rx-only       the guest counts and checksums input instead of echoing it
  --rx-verify     the guest checks that input byte i is i mod 251 and
                  reports mismatches (feed it such a stream)
  --tx=BYTES      the guest also transmits BYTES bytes of a pattern (lines
                  of 63 characters and a newline), then resets
  --no-escape     pass Ctrl-] to the guest unchanged (no host keys)
  --no-eof-reset  keep running at end of input
  --help          this text

host keys: Ctrl-] d        Ctrl+Alt+Del on the guest's keyboard
           Ctrl-] q        stop the VM now
           Ctrl-] Ctrl-]   send one Ctrl-] to the guest

exit status: 0 the guest reset the machine through the i8042
             1 error (e.g. /dev/kvm missing or unusable)
             2 stopped with Ctrl-] q
             64 bad usage
";

/// Exit status: the guest reset the machine through the i8042.
pub const EXIT_GUEST_RESET: u8 = 0;
/// Exit status: setup or run failed.
pub const EXIT_ERROR: u8 = 1;
/// Exit status: stopped by the host key.
pub const EXIT_HOST_QUIT: u8 = 2;
/// Exit status: bad command line (BSD `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Command {
    /// Print [`USAGE`] and exit 0.
    Help,
    /// Run the VM.
    Run {
        /// The machine configuration.
        config: MachineConfig,
        /// Print the full counters at exit.
        stats: bool,
    },
}

/// A command-line error: the caller prints it with [`USAGE`] and exits
/// with [`EXIT_USAGE`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown argument {0:?}")]
pub struct UsageError(pub String);

/// Parses the arguments (without the program name).
///
/// ```
/// use minivm::cli::{parse_args, Command};
///
/// let Command::Run { config, stats } = parse_args(["--poll", "--stats"]).unwrap() else {
///     unreachable!()
/// };
/// assert!(config.force_polling && stats);
/// ```
///
/// # Errors
/// [`UsageError`] for an argument it does not know.
pub fn parse_args<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut config = MachineConfig::default();
    let mut stats = false;
    for arg in args {
        match arg.as_ref() {
            "--help" | "-h" => return Ok(Command::Help),
            "--stats" => stats = true,
            "--poll" => config.force_polling = true,
            "--no-escape" => config.escape_key = false,
            "--no-eof-reset" => config.on_input_eof = EofAction::Continue,
            "--rx-only" => config.guest_rx_only = true,
            "--rx-verify" => config.guest_rx_verify = true,
            other => match other.strip_prefix("--tx=").map(str::parse) {
                Some(Ok(bytes)) => config.guest_tx_bytes = bytes,
                _ => return Err(UsageError(other.to_owned())),
            },
        }
    }
    Ok(Command::Run { config, stats })
}

/// The process exit status for the result of a run.
pub fn exit_status(result: &Result<RunOutcome, Error>) -> u8 {
    match result {
        Ok(outcome) => match outcome.reason {
            ExitReason::GuestReset => EXIT_GUEST_RESET,
            ExitReason::HostQuit => EXIT_HOST_QUIT,
        },
        Err(_) => EXIT_ERROR,
    }
}

/// The one-line message minivm prints (stderr) when it stops.
pub fn exit_message(result: &Result<RunOutcome, Error>) -> String {
    match result {
        Ok(outcome) => {
            let s = &outcome.stats;
            let why = match outcome.reason {
                ExitReason::GuestReset => "the guest reset the machine through the i8042",
                ExitReason::HostQuit => "stopped by the host key",
            };
            format!(
                "minivm: {why}: {} VM exits, {} UART register accesses, {} interrupts raised, {} bytes in, {} bytes out",
                s.exits_total(),
                s.uart_accesses(),
                s.irq4_raised + s.irq1_raised,
                s.bytes_in,
                s.bytes_out
            )
        }
        Err(e) => format!("minivm: {e}"),
    }
}

/// [`exit_status`] as an [`ExitCode`].
pub fn exit_code(result: &Result<RunOutcome, Error>) -> ExitCode {
    ExitCode::from(exit_status(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::StatsSnapshot;

    fn outcome(reason: ExitReason) -> Result<RunOutcome, Error> {
        Ok(RunOutcome {
            reason,
            ctrl_alt_del_injected: 0,
            stats: StatsSnapshot::default(),
        })
    }

    #[test]
    fn test_parse_no_arguments_runs_with_defaults() {
        let Command::Run { config, stats } = parse_args::<_, &str>([]).unwrap() else {
            panic!("expected Run");
        };
        assert!(!stats);
        assert!(!config.force_polling);
        assert!(config.escape_key);
        assert_eq!(config.on_input_eof, EofAction::CtrlAltDel);
    }

    #[test]
    fn test_parse_help_wins_over_other_options() {
        assert!(matches!(
            parse_args(["--stats", "--help"]),
            Ok(Command::Help)
        ));
    }

    #[test]
    fn test_parse_unknown_argument_is_usage_error() {
        assert_eq!(
            parse_args(["--bogus"]).unwrap_err(),
            UsageError("--bogus".into())
        );
    }

    #[test]
    fn test_parse_no_escape_and_no_eof_reset_set_config() {
        let Command::Run { config, .. } = parse_args(["--no-escape", "--no-eof-reset"]).unwrap()
        else {
            panic!("expected Run");
        };
        assert!(!config.escape_key);
        assert_eq!(config.on_input_eof, EofAction::Continue);
    }

    #[test]
    fn test_parse_tx_and_rx_only_set_guest_workloads() {
        let Command::Run { config, .. } = parse_args(["--tx=1048576", "--rx-only"]).unwrap() else {
            panic!("expected Run");
        };
        assert_eq!(config.guest_tx_bytes, 1 << 20);
        assert!(config.guest_rx_only);
    }

    #[test]
    fn test_parse_tx_without_number_is_usage_error() {
        assert!(parse_args(["--tx=lots"]).is_err());
    }

    #[test]
    fn test_exit_status_guest_reset_is_zero() {
        assert_eq!(exit_status(&outcome(ExitReason::GuestReset)), 0);
    }

    #[test]
    fn test_exit_status_host_quit_is_two() {
        assert_eq!(exit_status(&outcome(ExitReason::HostQuit)), 2);
    }

    #[test]
    fn test_exit_status_missing_kvm_is_one_with_reason() {
        let result: Result<RunOutcome, Error> = Err(Error::KvmUnavailable {
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        });
        assert_eq!(exit_status(&result), 1);
        assert!(exit_message(&result).starts_with("minivm: /dev/kvm is not usable: No such file"));
    }
}
