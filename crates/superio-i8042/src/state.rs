//! The device's state as plain data, for snapshots and live migration, and
//! its validation.

use crate::regs::{
    CMD_WRITE_AUX, CMD_WRITE_AUX_OBUF, CMD_WRITE_CTR, CMD_WRITE_KBD_OBUF, CMD_WRITE_OUTPUT_PORT,
    CMD_WRITE_RAM_LAST, KBD_CMD_SCANCODE_SET, KBD_CMD_SET_LEDS, KBD_CMD_SET_TYPEMATIC,
};
use crate::{ScanCodeSet, LED_MASK, OUTPUT_CAPACITY, TYPEMATIC_MASK};

/// The version [`I8042State`] has today; [`crate::I8042::from_state`] accepts
/// only this one.
pub const STATE_VERSION: u32 = 1;
/// Bytes of controller RAM (commands 0x20..=0x3F / 0x60..=0x7F); byte 0 is the CTR.
pub const RAM_SIZE: usize = 32;

/// Who put a byte in the output buffer; decides AUXDATA and the interrupt line.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_i8042::{ByteSource, I8042};
///
/// let mut dev = I8042::new(RecordingIrq::new(), RecordingIrq::new());
/// dev.write(4, 0xD3); // AUX loopback
/// dev.write(0, 0x5A);
/// let obuf = dev.state().output_buffer.unwrap();
/// assert_eq!((obuf.value, obuf.source), (0x5A, ByteSource::Aux));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ByteSource {
    /// A reply of the controller itself (IRQ1 line, AUXDATA = 0).
    Controller,
    /// The keyboard, or command 0xD2 (IRQ1, AUXDATA = 0).
    Keyboard,
    /// The auxiliary port: command 0xD3 or the no-device answer to 0xD4
    /// (IRQ12, AUXDATA = 1).
    Aux,
}

/// One byte on its way to the CPU.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_i8042::{ByteSource, OutputByte, I8042};
///
/// let mut dev = I8042::new(RecordingIrq::new(), RecordingIrq::new());
/// dev.write(4, 0xD4); // to the mouse: there is none
/// dev.write(0, 0xF2);
/// let expected = OutputByte { value: 0xFE, source: ByteSource::Aux, timeout: true };
/// assert_eq!(dev.state().output_buffer, Some(expected));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OutputByte {
    /// The byte.
    pub value: u8,
    /// Where it came from.
    pub source: ByteSource,
    /// Status TIMEOUT accompanies it (the no-device answer).
    pub timeout: bool,
}

/// The keyboard's part of [`I8042State`].
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_i8042::{I8042, ScanCodeSet};
///
/// let mut dev = I8042::new(RecordingIrq::new(), RecordingIrq::new());
/// dev.write(0, 0xED); // set LEDs...
/// dev.write(0, 0x04); // ...Caps Lock
/// let kbd = dev.state().keyboard;
/// assert_eq!((kbd.leds, kbd.set, kbd.scanning), (0x04, ScanCodeSet::Set2, true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyboardState {
    /// Bytes the keyboard has not yet handed to the controller, oldest first.
    pub queue: Vec<u8>,
    /// Scanning enabled.
    pub scanning: bool,
    /// The scan code set in use.
    pub set: ScanCodeSet,
    /// LED bits (0..=7).
    pub leds: u8,
    /// Typematic byte (0..=0x7F).
    pub typematic: u8,
    /// A command waiting for its parameter: 0xED, 0xF3 or 0xF0.
    #[cfg_attr(feature = "serde", serde(deserialize_with = "Option::deserialize"))]
    pub awaiting: Option<u8>,
    /// The last byte sent (for 0xFE).
    pub last_sent: u8,
}

/// Everything an [`crate::I8042`] needs to resume where it stopped.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_i8042::{I8042, Key, NoEvents, DATA_REG};
///
/// let mut dev = I8042::new(RecordingIrq::new(), RecordingIrq::new());
/// dev.press(Key::A).unwrap();
/// let state = dev.state();
/// let mut copy = I8042::from_state(RecordingIrq::new(), RecordingIrq::new(), NoEvents, &state).unwrap();
/// assert_eq!(copy.read(DATA_REG), 0x1E); // 'A' in translated set 1
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct I8042State {
    /// Must be [`STATE_VERSION`].
    pub version: u32,
    /// The CTR [`crate::I8042::reset`] restores (the configured one).
    pub initial_ctr: u8,
    /// Controller RAM; byte 0 is the CTR.
    pub ram: [u8; RAM_SIZE],
    /// Output port (bit 0 reset line, bit 1 A20).
    pub output_port: u8,
    /// The last write went to port 0x64 (status CMD/DATA).
    pub last_write_was_command: bool,
    /// A controller command waiting for its data byte on port 0x60:
    /// 0x60..=0x7F, 0xD1, 0xD2, 0xD3 or 0xD4.
    #[cfg_attr(feature = "serde", serde(deserialize_with = "Option::deserialize"))]
    pub awaiting_data: Option<u8>,
    /// The output buffer (OBF is set when `Some`).
    #[cfg_attr(feature = "serde", serde(deserialize_with = "Option::deserialize"))]
    pub output_buffer: Option<OutputByte>,
    /// A controller reply waiting for the output buffer to empty.
    #[cfg_attr(feature = "serde", serde(deserialize_with = "Option::deserialize"))]
    pub pending_reply: Option<OutputByte>,
    /// What a read of port 0x60 returns while OBF is clear (the last byte read).
    pub last_read: u8,
    /// The translator swallowed an `F0` and will set bit 7 of the next byte.
    pub xlate_break_pending: bool,
    /// The keyboard.
    pub keyboard: KeyboardState,
}

/// Why [`crate::I8042::from_state`] refused a state. The state was not
/// produced by this version of the crate or was corrupted; the caller should
/// fail the restore (or start the device fresh).
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_i8042::{I8042, NoEvents, StateError};
///
/// let mut state = I8042::new(RecordingIrq::new(), RecordingIrq::new()).state();
/// state.keyboard.leds = 0xFF;
/// let err = I8042::from_state(RecordingIrq::new(), RecordingIrq::new(), NoEvents, &state).unwrap_err();
/// assert!(matches!(err, StateError::InvalidKeyboardSetting { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The state comes from another (newer or older) format version.
    #[error("unsupported i8042 state version {found} (this build reads version {expected})")]
    UnsupportedVersion {
        /// The version in the state.
        found: u32,
        /// [`STATE_VERSION`].
        expected: u32,
    },
    /// More bytes queued than the device ever holds.
    #[error("{len} queued output bytes exceed the capacity of {max}")]
    QueueTooLong {
        /// Bytes in the output buffer, pending reply and keyboard queue.
        len: usize,
        /// [`OUTPUT_CAPACITY`].
        max: usize,
    },
    /// `awaiting_data` names no command that takes a data byte.
    #[error("controller command {0:#04x} does not take a data byte")]
    InvalidAwaitingCommand(u8),
    /// `keyboard.awaiting` names no keyboard command that takes a parameter.
    #[error("keyboard command {0:#04x} does not take a parameter")]
    InvalidKeyboardCommand(u8),
    /// LED or typematic bits outside their field.
    #[error("keyboard setting out of range: leds {leds:#04x}, typematic {typematic:#04x}")]
    InvalidKeyboardSetting {
        /// The LED byte.
        leds: u8,
        /// The typematic byte.
        typematic: u8,
    },
    /// A TIMEOUT flag on a byte that did not come from the auxiliary port.
    #[error("timeout flag on a byte not from the auxiliary port")]
    InvalidTimeoutFlag,
}

impl I8042State {
    /// Checks everything [`crate::I8042::from_state`] relies on.
    ///
    /// # Errors
    /// The first inconsistency found, as a [`StateError`].
    pub fn validate(&self) -> Result<(), StateError> {
        if self.version != STATE_VERSION {
            return Err(StateError::UnsupportedVersion {
                found: self.version,
                expected: STATE_VERSION,
            });
        }
        let len = self.keyboard.queue.len()
            + usize::from(self.output_buffer.is_some())
            + usize::from(self.pending_reply.is_some());
        if len > OUTPUT_CAPACITY {
            return Err(StateError::QueueTooLong {
                len,
                max: OUTPUT_CAPACITY,
            });
        }
        if let Some(cmd) = self.awaiting_data {
            let ok = matches!(
                cmd,
                CMD_WRITE_CTR
                    ..=CMD_WRITE_RAM_LAST
                        | CMD_WRITE_OUTPUT_PORT
                        | CMD_WRITE_KBD_OBUF
                        | CMD_WRITE_AUX_OBUF
                        | CMD_WRITE_AUX
            );
            if !ok {
                return Err(StateError::InvalidAwaitingCommand(cmd));
            }
        }
        if let Some(cmd) = self.keyboard.awaiting {
            if !matches!(
                cmd,
                KBD_CMD_SET_LEDS | KBD_CMD_SET_TYPEMATIC | KBD_CMD_SCANCODE_SET
            ) {
                return Err(StateError::InvalidKeyboardCommand(cmd));
            }
        }
        if self.keyboard.leds & !LED_MASK != 0 || self.keyboard.typematic & !TYPEMATIC_MASK != 0 {
            return Err(StateError::InvalidKeyboardSetting {
                leds: self.keyboard.leds,
                typematic: self.keyboard.typematic,
            });
        }
        for b in [self.output_buffer, self.pending_reply]
            .into_iter()
            .flatten()
        {
            if b.timeout && b.source != ByteSource::Aux {
                return Err(StateError::InvalidTimeoutFlag);
            }
        }
        Ok(())
    }
}
