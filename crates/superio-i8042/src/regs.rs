//! Register numbers, bits, command codes and replies of the i8042 controller
//! and the AT/PS/2 keyboard behind it, named after the IBM PC/AT and PS/2
//! technical references (and `include/linux/i8042.h`, which uses the same
//! names).

// ---------------------------------------------------------------------------
// Registers (offsets from the device's base at I/O port 0x60)
// ---------------------------------------------------------------------------

/// Data port (I/O 0x60): reads pop the output buffer, writes go to the
/// keyboard or are the data byte of a pending controller command.
pub const DATA_REG: u8 = 0;
/// Status register on read, command register on write (I/O 0x64).
pub const STATUS_COMMAND_REG: u8 = 4;
/// How many register offsets the device decodes (0x60..=0x64); 1..=3 are not
/// the i8042's and read 0xFF.
pub const REGISTER_COUNT: u8 = 5;
/// What a read of offsets 1..=3 (ports 0x61..=0x63, not ours) returns.
pub const UNDECODED_READ: u8 = 0xFF;

// ---------------------------------------------------------------------------
// Status register (port 0x64 read)
// ---------------------------------------------------------------------------

/// OBF: the output buffer (port 0x60) holds a byte for the CPU.
pub const STR_OBF: u8 = 0x01;
/// IBF: the input buffer is full, the controller is busy. Always 0 here:
/// every write is processed before the guest's `out` instruction returns.
pub const STR_IBF: u8 = 0x02;
/// SYS: system flag, a copy of CTR bit 2 (set by POST / self-test).
pub const STR_SYS: u8 = 0x04;
/// CMD/DATA (A2): the last write went to port 0x64 (command), not 0x60.
pub const STR_CMDDAT: u8 = 0x08;
/// KEYLOCK: 1 = keyboard not inhibited by the front-panel key lock.
pub const STR_KEYLOCK: u8 = 0x10;
/// AUXDATA: the byte in the output buffer came from the auxiliary (mouse) port.
pub const STR_AUXDATA: u8 = 0x20;
/// TIMEOUT: the last transfer to or from a device timed out (no device).
pub const STR_TIMEOUT: u8 = 0x40;
/// PARITY: the last byte from a device had a parity error. Always 0 here.
pub const STR_PARITY: u8 = 0x80;

// ---------------------------------------------------------------------------
// Controller configuration byte (CTR, controller RAM byte 0)
// ---------------------------------------------------------------------------

/// KBDINT: raise IRQ1 when a keyboard byte is in the output buffer.
pub const CTR_KBDINT: u8 = 0x01;
/// AUXINT: raise IRQ12 when an auxiliary byte is in the output buffer.
pub const CTR_AUXINT: u8 = 0x02;
/// SYS: system flag, mirrored in the status register.
pub const CTR_SYS: u8 = 0x04;
/// IGNKEYLOCK: ignore the key lock (AT only; stored, no effect here).
pub const CTR_IGNKEYLOCK: u8 = 0x08;
/// KBDDIS: keyboard interface disabled (clock held low; bytes wait in the keyboard).
pub const CTR_KBDDIS: u8 = 0x10;
/// AUXDIS: auxiliary interface disabled.
pub const CTR_AUXDIS: u8 = 0x20;
/// XLATE: translate keyboard bytes from scan code set 2 to set 1.
pub const CTR_XLATE: u8 = 0x40;

/// The CTR a PC BIOS leaves for the OS: translation on, keyboard interrupt
/// on, system flag set, auxiliary port disabled (SeaBIOS leaves 0x61, i.e.
/// this without SYS). Linux then registers an "AT Translated Set 2 keyboard".
pub const CTR_BIOS_DEFAULT: u8 = CTR_XLATE | CTR_AUXDIS | CTR_SYS | CTR_KBDINT;

// ---------------------------------------------------------------------------
// Output port (commands 0xD0/0xD1)
// ---------------------------------------------------------------------------

/// Output port bit 0: system reset line, active low (0 = reset the CPU).
pub const OUTPORT_RESET: u8 = 0x01;
/// Output port bit 1: A20 gate (1 = address line 20 enabled).
pub const OUTPORT_A20: u8 = 0x02;
/// Output port bit 4: keyboard output buffer full (drives IRQ1).
pub const OUTPORT_KBD_OBF: u8 = 0x10;
/// Output port bit 5: auxiliary output buffer full (drives IRQ12).
pub const OUTPORT_AUX_OBF: u8 = 0x20;
/// Output port at power-on: reset inactive, A20 on, keyboard clock and data
/// lines high, unused bits 2–3 high (0xCF, the AT controller's value).
pub const OUTPORT_DEFAULT: u8 = 0xCF;
/// Input port (command 0xC0): bit 7 = keyboard not inhibited, the rest 0.
pub const INPORT_DEFAULT: u8 = 0x80;

// ---------------------------------------------------------------------------
// Controller commands (written to port 0x64)
// ---------------------------------------------------------------------------

/// Read controller RAM byte 0 (the CTR); 0x21..=0x3F read bytes 1..=31.
pub const CMD_READ_CTR: u8 = 0x20;
/// Last "read RAM" command (byte 31).
pub const CMD_READ_RAM_LAST: u8 = 0x3F;
/// Write controller RAM byte 0 (the CTR) with the next data byte; 0x61..=0x7F
/// write bytes 1..=31.
pub const CMD_WRITE_CTR: u8 = 0x60;
/// Last "write RAM" command (byte 31).
pub const CMD_WRITE_RAM_LAST: u8 = 0x7F;
/// Disable the auxiliary interface (sets CTR.AUXDIS).
pub const CMD_AUX_DISABLE: u8 = 0xA7;
/// Enable the auxiliary interface (clears CTR.AUXDIS).
pub const CMD_AUX_ENABLE: u8 = 0xA8;
/// Test the auxiliary interface lines; replies [`RET_INTERFACE_OK`].
pub const CMD_AUX_TEST: u8 = 0xA9;
/// Controller self-test; replies [`RET_SELF_TEST_OK`].
pub const CMD_SELF_TEST: u8 = 0xAA;
/// Test the keyboard interface lines; replies [`RET_INTERFACE_OK`].
pub const CMD_KBD_TEST: u8 = 0xAB;
/// Disable the keyboard interface (sets CTR.KBDDIS).
pub const CMD_KBD_DISABLE: u8 = 0xAD;
/// Enable the keyboard interface (clears CTR.KBDDIS).
pub const CMD_KBD_ENABLE: u8 = 0xAE;
/// Read the input port; replies [`INPORT_DEFAULT`].
pub const CMD_READ_INPUT_PORT: u8 = 0xC0;
/// Read the output port.
pub const CMD_READ_OUTPUT_PORT: u8 = 0xD0;
/// Write the output port with the next data byte (bit 0 clear = CPU reset).
pub const CMD_WRITE_OUTPUT_PORT: u8 = 0xD1;
/// Put the next data byte in the output buffer as if the keyboard sent it.
pub const CMD_WRITE_KBD_OBUF: u8 = 0xD2;
/// Put the next data byte in the output buffer as if the auxiliary device
/// sent it (AUXDATA set, IRQ12): Linux's AUX loopback and MUX probes.
pub const CMD_WRITE_AUX_OBUF: u8 = 0xD3;
/// Send the next data byte to the auxiliary device.
pub const CMD_WRITE_AUX: u8 = 0xD4;
/// First "pulse output port" command: 0xF0..=0xFF pulse low the output
/// port bits 0–3 whose command bit is 0.
pub const CMD_PULSE_FIRST: u8 = 0xF0;
/// Pulse output port bit 0 (the CPU reset line): what Linux's `reboot=k` and
/// SeaBIOS write.
pub const CMD_PULSE_RESET: u8 = 0xFE;

/// Controller reply to [`CMD_SELF_TEST`]: passed.
pub const RET_SELF_TEST_OK: u8 = 0x55;
/// Controller reply to [`CMD_KBD_TEST`] / [`CMD_AUX_TEST`]: no error.
pub const RET_INTERFACE_OK: u8 = 0x00;

// ---------------------------------------------------------------------------
// Keyboard commands (written to port 0x60) and replies
// ---------------------------------------------------------------------------

/// Set the LEDs to the next byte (bit 0 Scroll, bit 1 Num, bit 2 Caps Lock).
pub const KBD_CMD_SET_LEDS: u8 = 0xED;
/// Echo: the keyboard answers [`KBD_CMD_ECHO`] itself, without ACK.
pub const KBD_CMD_ECHO: u8 = 0xEE;
/// Get (parameter 0) or set (1, 2, 3) the scan code set.
pub const KBD_CMD_SCANCODE_SET: u8 = 0xF0;
/// Identify: ACK, then [`KBD_ID_1`], [`KBD_ID_2`].
pub const KBD_CMD_GET_ID: u8 = 0xF2;
/// Set the typematic rate and delay to the next byte.
pub const KBD_CMD_SET_TYPEMATIC: u8 = 0xF3;
/// Enable scanning; clears the keyboard's output buffer.
pub const KBD_CMD_ENABLE: u8 = 0xF4;
/// Restore defaults and disable scanning; clears the output buffer.
pub const KBD_CMD_DEFAULT_DISABLE: u8 = 0xF5;
/// Restore defaults and keep scanning; clears the output buffer.
pub const KBD_CMD_SET_DEFAULT: u8 = 0xF6;
/// First of the set-3 key-type commands (0xF7..=0xFA "set all keys ..."),
/// acknowledged and otherwise ignored.
pub const KBD_CMD_SET_ALL_FIRST: u8 = 0xF7;
/// Last of the set-3 "set all keys" commands.
pub const KBD_CMD_SET_ALL_LAST: u8 = 0xFA;
/// Resend the last byte the keyboard sent.
pub const KBD_CMD_RESEND: u8 = 0xFE;
/// Reset: ACK, then the basic assurance test result [`KBD_RET_BAT_OK`].
pub const KBD_CMD_RESET: u8 = 0xFF;

/// Acknowledge of a command or parameter byte.
pub const KBD_RET_ACK: u8 = 0xFA;
/// Resend request: the keyboard did not understand the byte.
pub const KBD_RET_RESEND: u8 = 0xFE;
/// Basic assurance test passed (after reset and at power-on).
pub const KBD_RET_BAT_OK: u8 = 0xAA;
/// First ID byte of an MF2 keyboard.
pub const KBD_ID_1: u8 = 0xAB;
/// Second ID byte of an MF2 keyboard (the controller translates it to 0x41
/// when CTR.XLATE is set).
pub const KBD_ID_2: u8 = 0x83;
/// Typematic byte after reset: 10.9 characters/s, 500 ms delay.
pub const KBD_TYPEMATIC_DEFAULT: u8 = 0x2B;

/// Prefix of an extended scan code (sets 1 and 2).
pub const SCAN_EXTENDED: u8 = 0xE0;
/// Prefix of the Pause key's sequence (sets 1 and 2).
pub const SCAN_EXTENDED1: u8 = 0xE1;
/// Set-2 break prefix: the next byte is a released key.
pub const SCAN_BREAK_PREFIX: u8 = 0xF0;
/// Set-1 break flag: OR-ed into the make code of a released key.
pub const SCAN_SET1_BREAK: u8 = 0x80;
