//! Host-side terminal handling: raw mode for an interactive stdin, and the
//! escape key that lets the user talk to the VMM instead of the guest.

use std::io;
use std::os::fd::RawFd;

/// The escape byte: Ctrl-] (as in telnet and QEMU's `-nographic` uses Ctrl-A).
pub const ESCAPE: u8 = 0x1d;

/// What the user asked the VMM for through the escape key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAction {
    /// Ctrl-] `d`: press Ctrl+Alt+Del on the guest's keyboard (i8042).
    CtrlAltDel,
    /// Ctrl-] `q`: stop the VM now.
    Quit,
}

/// Splits host input into bytes for the guest and [`HostAction`]s.
///
/// Ctrl-] then `d` is Ctrl+Alt+Del, Ctrl-] then `q` quits, Ctrl-] Ctrl-]
/// sends one Ctrl-] to the guest; Ctrl-] followed by anything else sends both
/// bytes. The escape state survives across reads.
///
/// ```
/// use minivm::host::{EscapeParser, HostAction};
///
/// let mut parser = EscapeParser::default();
/// let mut bytes = Vec::new();
/// let mut actions = Vec::new();
/// parser.feed(b"ls\x1d", &mut bytes, &mut actions);
/// parser.feed(b"d\x1d\x1d", &mut bytes, &mut actions);
/// assert_eq!(bytes, b"ls\x1d");
/// assert_eq!(actions, [HostAction::CtrlAltDel]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct EscapeParser {
    armed: bool,
}

impl EscapeParser {
    /// Feeds `input`; appends guest bytes to `bytes` and actions to `actions`.
    pub fn feed(&mut self, input: &[u8], bytes: &mut Vec<u8>, actions: &mut Vec<HostAction>) {
        for &b in input {
            if self.armed {
                self.armed = false;
                match b {
                    b'd' | b'D' => actions.push(HostAction::CtrlAltDel),
                    b'q' | b'Q' => actions.push(HostAction::Quit),
                    ESCAPE => bytes.push(ESCAPE),
                    other => bytes.extend_from_slice(&[ESCAPE, other]),
                }
            } else if b == ESCAPE {
                self.armed = true;
            } else {
                bytes.push(b);
            }
        }
    }
}

/// Puts a terminal in raw mode (no line editing, no echo, no signals from
/// Ctrl-C: every key goes to the guest) and restores it when dropped.
#[derive(Debug)]
pub struct RawTerminal {
    fd: RawFd,
    saved: libc::termios,
}

impl RawTerminal {
    /// Raw mode on `fd` if it is a terminal; `Ok(None)` if it is not.
    ///
    /// # Errors
    /// The `tcgetattr`/`tcsetattr` error.
    pub fn enable(fd: RawFd) -> io::Result<Option<Self>> {
        // SAFETY: isatty only inspects the descriptor number.
        if unsafe { libc::isatty(fd) } != 1 {
            return Ok(None);
        }
        // SAFETY: termios is plain old data; an all-zero value is valid and
        // tcgetattr overwrites it.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `saved` is a valid, writable termios.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut raw = saved;
        // SAFETY: `raw` is a valid termios.
        unsafe { libc::cfmakeraw(&mut raw) };
        // Keep output processing so a lone '\n' still returns the carriage.
        raw.c_oflag |= libc::OPOST | libc::ONLCR;
        // SAFETY: `raw` is a valid termios for this terminal.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Some(Self { fd, saved }))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restores the settings read from the same descriptor.
        if unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) } != 0 {
            log::warn!(
                "cannot restore the terminal: {}",
                io::Error::last_os_error()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> (Vec<u8>, Vec<HostAction>) {
        let mut parser = EscapeParser::default();
        let (mut bytes, mut actions) = (Vec::new(), Vec::new());
        for chunk in chunks {
            parser.feed(chunk, &mut bytes, &mut actions);
        }
        (bytes, actions)
    }

    #[test]
    fn test_escape_d_yields_ctrl_alt_del_and_no_bytes() {
        assert_eq!(parse(&[b"\x1dd"]), (vec![], vec![HostAction::CtrlAltDel]));
    }

    #[test]
    fn test_escape_q_yields_quit() {
        assert_eq!(parse(&[b"a\x1dq"]), (b"a".to_vec(), vec![HostAction::Quit]));
    }

    #[test]
    fn test_escape_twice_sends_one_escape_byte() {
        assert_eq!(parse(&[b"\x1d\x1d"]), (vec![0x1d], vec![]));
    }

    #[test]
    fn test_escape_then_other_byte_sends_both() {
        assert_eq!(parse(&[b"\x1dx"]), (vec![0x1d, b'x'], vec![]));
    }

    #[test]
    fn test_escape_split_across_reads_still_recognised() {
        assert_eq!(
            parse(&[b"ab\x1d", b"dcd"]),
            (b"abcd".to_vec(), vec![HostAction::CtrlAltDel])
        );
    }

    #[test]
    fn test_raw_terminal_on_non_tty_is_none() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::os::fd::AsRawFd;
        assert!(RawTerminal::enable(a.as_raw_fd()).unwrap().is_none());
    }
}
