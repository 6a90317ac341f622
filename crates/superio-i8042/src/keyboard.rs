//! The AT/PS/2 (MF2) keyboard behind the controller's first port: its command
//! protocol and its settings. Its output bytes live in the controller's
//! bounded queue; this module only decides what to answer.

use crate::regs::{
    KBD_CMD_DEFAULT_DISABLE, KBD_CMD_ECHO, KBD_CMD_ENABLE, KBD_CMD_GET_ID, KBD_CMD_RESEND,
    KBD_CMD_RESET, KBD_CMD_SCANCODE_SET, KBD_CMD_SET_ALL_FIRST, KBD_CMD_SET_ALL_LAST,
    KBD_CMD_SET_DEFAULT, KBD_CMD_SET_LEDS, KBD_CMD_SET_TYPEMATIC, KBD_ID_1, KBD_ID_2, KBD_RET_ACK,
    KBD_RET_BAT_OK, KBD_RET_RESEND, KBD_TYPEMATIC_DEFAULT,
};
use crate::scancode::ScanCodeSet;

/// LED bit: Scroll Lock (parameter of 0xED).
pub const LED_SCROLL_LOCK: u8 = 0x01;
/// LED bit: Num Lock.
pub const LED_NUM_LOCK: u8 = 0x02;
/// LED bit: Caps Lock.
pub const LED_CAPS_LOCK: u8 = 0x04;
/// All LED bits.
pub const LED_MASK: u8 = LED_SCROLL_LOCK | LED_NUM_LOCK | LED_CAPS_LOCK;
/// Typematic parameter bits (bit 7 must be 0).
pub const TYPEMATIC_MASK: u8 = 0x7F;

/// What the keyboard does in answer to one byte from the CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    /// Discard everything the keyboard had not yet sent (F4/F5/F6/FF).
    pub flush: bool,
    /// Bytes to send, in order (at most 3).
    pub reply: Reply,
    /// The byte was not a command this keyboard knows.
    pub unknown: bool,
    /// The LEDs changed to this value.
    pub leds_changed: Option<u8>,
}

/// The bytes of one answer, held inline: the longest answer (`FA AB 83` to
/// 0xF2) has three, so answering a command never allocates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reply {
    bytes: [u8; 3],
    len: u8,
}

impl Reply {
    /// The first three bytes of `bytes` (every answer in this module has at
    /// most three).
    fn new(bytes: &[u8]) -> Self {
        let mut r = Self::default();
        for (slot, &b) in r.bytes.iter_mut().zip(bytes) {
            *slot = b;
            r.len += 1;
        }
        r
    }

    /// The bytes, in order.
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl Answer {
    fn reply(bytes: &[u8]) -> Self {
        Self {
            reply: Reply::new(bytes),
            ..Self::default()
        }
    }
    fn flush_then(bytes: &[u8]) -> Self {
        Self {
            flush: true,
            reply: Reply::new(bytes),
            ..Self::default()
        }
    }
}

/// The keyboard's settings and command state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Keyboard {
    /// Scanning enabled: key presses produce scan codes.
    pub scanning: bool,
    /// The set the keyboard sends.
    pub set: ScanCodeSet,
    /// LED state (bits [`LED_MASK`]).
    pub leds: u8,
    /// Typematic rate/delay byte (stored; the host owns key repeat).
    pub typematic: u8,
    /// A command (0xED, 0xF3, 0xF0) waiting for its parameter byte.
    pub awaiting: Option<u8>,
    /// The last byte handed to the controller, for 0xFE (resend).
    pub last_sent: u8,
}

impl Default for Keyboard {
    fn default() -> Self {
        Self {
            scanning: true,
            set: ScanCodeSet::Set2,
            leds: 0,
            typematic: KBD_TYPEMATIC_DEFAULT,
            awaiting: None,
            last_sent: KBD_RET_BAT_OK,
        }
    }
}

impl Keyboard {
    /// Power-on / reset defaults of the settings 0xF5, 0xF6 and 0xFF restore.
    fn restore_defaults(&mut self) {
        self.set = ScanCodeSet::Set2;
        self.typematic = KBD_TYPEMATIC_DEFAULT;
        self.awaiting = None;
    }

    /// Handles one byte the CPU wrote to the keyboard.
    pub(crate) fn receive(&mut self, byte: u8) -> Answer {
        if let Some(cmd) = self.awaiting.take() {
            return self.parameter(cmd, byte);
        }
        match byte {
            KBD_CMD_SET_LEDS | KBD_CMD_SET_TYPEMATIC | KBD_CMD_SCANCODE_SET => {
                self.awaiting = Some(byte);
                Answer::reply(&[KBD_RET_ACK])
            }
            KBD_CMD_ECHO => Answer::reply(&[KBD_CMD_ECHO]),
            KBD_CMD_GET_ID => Answer::reply(&[KBD_RET_ACK, KBD_ID_1, KBD_ID_2]),
            KBD_CMD_ENABLE => {
                self.scanning = true;
                Answer::flush_then(&[KBD_RET_ACK])
            }
            KBD_CMD_DEFAULT_DISABLE => {
                self.restore_defaults();
                self.scanning = false;
                Answer::flush_then(&[KBD_RET_ACK])
            }
            KBD_CMD_SET_DEFAULT => {
                self.restore_defaults();
                self.scanning = true;
                Answer::flush_then(&[KBD_RET_ACK])
            }
            KBD_CMD_SET_ALL_FIRST..=KBD_CMD_SET_ALL_LAST => Answer::reply(&[KBD_RET_ACK]),
            KBD_CMD_RESEND => Answer::reply(&[self.last_sent]),
            KBD_CMD_RESET => {
                self.restore_defaults();
                self.scanning = true;
                let mut a = Answer::flush_then(&[KBD_RET_ACK, KBD_RET_BAT_OK]);
                if self.leds != 0 {
                    self.leds = 0;
                    a.leds_changed = Some(0);
                }
                a
            }
            _ => Answer {
                unknown: true,
                ..Answer::reply(&[KBD_RET_RESEND])
            },
        }
    }

    fn parameter(&mut self, cmd: u8, value: u8) -> Answer {
        match cmd {
            KBD_CMD_SET_LEDS => {
                let leds = value & LED_MASK;
                let mut a = Answer::reply(&[KBD_RET_ACK]);
                if leds != self.leds {
                    self.leds = leds;
                    a.leds_changed = Some(leds);
                }
                a
            }
            KBD_CMD_SET_TYPEMATIC => {
                self.typematic = value & TYPEMATIC_MASK;
                Answer::reply(&[KBD_RET_ACK])
            }
            // KBD_CMD_SCANCODE_SET (the only other command that waits).
            _ => match value {
                0 => Answer::reply(&[KBD_RET_ACK, self.set.number()]),
                n => match ScanCodeSet::from_number(n) {
                    Some(set) => {
                        self.set = set;
                        Answer::reply(&[KBD_RET_ACK])
                    }
                    // Set 3 and nonsense: refuse the parameter, keep the set.
                    None => Answer {
                        unknown: true,
                        ..Answer::reply(&[KBD_RET_RESEND])
                    },
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_reply_get_id_keeps_all_three_bytes() {
        // 0xF2 (identify): ACK, then the MF2 ID 0xAB 0x83.
        let answer = Keyboard::default().receive(0xF2);
        assert_eq!(answer.reply.as_slice(), &[0xFA, 0xAB, 0x83]);
    }

    #[test]
    fn test_reply_longer_than_three_bytes_is_cut_to_three() {
        assert_eq!(Reply::new(&[1, 2, 3, 4]).as_slice(), &[1, 2, 3]);
        assert_eq!(Reply::new(&[]).as_slice(), &[] as &[u8]);
    }
}
