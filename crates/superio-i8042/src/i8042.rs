//! The controller: registers, commands, the output buffer and its queue, the
//! interrupt lines and the reset line.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use superio_core::{ByteRegisters, IrqLine, Trigger};

use crate::events::{I8042Events, NoEvents};
use crate::keyboard::Keyboard;
use crate::regs::*;
use crate::scancode::{set1_to_set2, Key, ScanCodeSet, Translator};
use crate::state::{
    ByteSource, I8042State, KeyboardState, OutputByte, StateError, RAM_SIZE, STATE_VERSION,
};

/// Bytes the device holds for the CPU at most: the output buffer, a pending
/// controller reply and the keyboard's queue together. Linux's `i8042_flush`
/// reads at most 16 bytes before it declares "No controller found", so the
/// whole device never holds more.
pub const OUTPUT_CAPACITY: usize = 16;

/// The high byte of `cmd_status` when no command waits for a data byte:
/// 0xFF is a pulse command, which never takes one (and a restored state's
/// waiting command is validated to be one that does), so it cannot be
/// mistaken for a real one. All ones, so that cancelling is an `or`.
const NO_AWAITED: u8 = 0xFF;

/// `cmd_status |= COMMAND_WRITTEN` records a command-port write: CMDDAT
/// set, no command waiting for data.
const COMMAND_WRITTEN: u16 = u16::from_le_bytes([STR_CMDDAT, NO_AWAITED]);
/// Room kept free for answers to the guest's commands: host key injection
/// may fill the queue only up to `OUTPUT_CAPACITY - REPLY_RESERVE`, so a
/// guest that reads its answers never loses one (the longest keyboard
/// answer, `FA AB 83`, plus one controller reply).
pub const REPLY_RESERVE: usize = 4;

/// How the controller starts (and what [`I8042::reset`] restores).
///
/// ```
/// use superio_i8042::{I8042Config, CTR_XLATE};
/// assert_ne!(I8042Config::default().initial_ctr & CTR_XLATE, 0); // translated, like a PC BIOS leaves it
/// assert_eq!(I8042Config::raw().initial_ctr & CTR_XLATE, 0);     // Linux: "AT Raw Set 2 keyboard"
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct I8042Config {
    /// The controller configuration byte at power-on. Its XLATE bit decides
    /// whether the guest sees set-1 (translated) or set-2 (raw) scan codes:
    /// Linux keeps whatever it finds.
    pub initial_ctr: u8,
}

impl Default for I8042Config {
    /// [`CTR_BIOS_DEFAULT`]: translated mode, keyboard interrupt on.
    fn default() -> Self {
        Self::translated()
    }
}

impl I8042Config {
    /// Translated mode, as a PC BIOS leaves the controller ([`CTR_BIOS_DEFAULT`]).
    pub fn translated() -> Self {
        Self {
            initial_ctr: CTR_BIOS_DEFAULT,
        }
    }
    /// Raw (untranslated) mode: the guest sees the keyboard's set-2 codes.
    pub fn raw() -> Self {
        Self {
            initial_ctr: CTR_BIOS_DEFAULT & !CTR_XLATE,
        }
    }
}

/// Why host key input was refused. Nothing of the refused input was queued.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_i8042::{I8042, I8042Error, Key};
///
/// let mut dev = I8042::new(RecordingIrq::new(), RecordingIrq::new());
/// dev.write(0, 0xF5); // the guest disables scanning, as Linux does while probing
/// assert_eq!(dev.press(Key::A), Err(I8042Error::ScanningDisabled));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum I8042Error {
    /// The output queue lacks room for the whole sequence. Retry after the
    /// guest has read some bytes ([`I8042Events::output_empty`] tells when
    /// the queue is empty).
    #[error("keyboard queue full: {needed} bytes needed, {free} free")]
    QueueFull {
        /// Bytes the input needs.
        needed: usize,
        /// Bytes the queue can take now.
        free: usize,
    },
    /// The guest disabled keyboard scanning (0xF5, as Linux does while it
    /// probes the keyboard); a real keyboard ignores keys then. Retry later.
    #[error("the guest has disabled keyboard scanning")]
    ScanningDisabled,
    /// A set-1 byte given to [`I8042::inject_set1`] has no set-2 equivalent;
    /// fix the input.
    #[error("set-1 scan code {0:#04x} has no set-2 equivalent")]
    UnknownScanCode(u8),
}

/// An i8042 keyboard controller with an MF2 keyboard on its first port and
/// an empty auxiliary (mouse) port.
///
/// `T` is the keyboard interrupt (IRQ1) and, optionally, the auxiliary one
/// (IRQ12, see [`I8042::with_aux_interrupt`]); `R` is the reset line, triggered
/// once per CPU-reset request (vm-superio's `reset_evt`); `E` receives events.
///
/// ```
/// use superio_core::test_utils::RecordingIrq;
/// use superio_i8042::{I8042, Key, DATA_REG, STATUS_COMMAND_REG, STR_OBF};
///
/// let irq1 = RecordingIrq::new();
/// let reset = RecordingIrq::new();
/// let mut kbc = I8042::new(irq1.clone(), reset.clone());
///
/// // The VMM injects a key; the guest gets IRQ1 and reads it (translated set 1).
/// kbc.press(Key::Enter).unwrap();
/// assert!(irq1.level());
/// assert_ne!(kbc.read(STATUS_COMMAND_REG) & STR_OBF, 0);
/// assert_eq!(kbc.read(DATA_REG), 0x1C);
///
/// // The guest reboots with `reboot=k`.
/// kbc.write(STATUS_COMMAND_REG, 0xFE);
/// assert_eq!(reset.raises(), 1);
/// ```
#[derive(Debug)]
pub struct I8042<T: Trigger, R: Trigger, E: I8042Events = NoEvents> {
    kbd_irq: IrqLine<T>,
    aux_irq: Option<IrqLine<T>>,
    reset_line: R,
    events: E,
    initial_ctr: u8,
    ram: [u8; RAM_SIZE],
    output_port: u8,
    /// The status register as port 0x64 returns it. Drivers and firmware
    /// read it before every data access, so it is kept current where its
    /// inputs change (the output buffer, CTR.SYS, which port was written
    /// last) instead of being assembled on each read, and a read is one
    /// load. Its CMDDAT bit is the only record of the last port written.
    /// Not part of the snapshot: [`I8042::from_state`] recomputes it.
    ///
    /// Low byte: that status register. High byte: the controller command
    /// still waiting for its data byte, [`NO_AWAITED`] if none. A command
    /// write sets CMDDAT and cancels the waiting command; with both in one
    /// word that is one `or` (see [`COMMAND_WRITTEN`]), which keeps the
    /// CPU-reset path (0xFE) to a single store.
    cmd_status: u16,
    obuf: Option<OutputByte>,
    pending_reply: Option<OutputByte>,
    last_read: u8,
    translator: Translator,
    kbd: Keyboard,
    kbd_queue: VecDeque<u8>,
}

impl<T: Trigger, R: Trigger> I8042<T, R, NoEvents> {
    /// A controller in the state a PC BIOS leaves (translated mode, see
    /// [`I8042Config::default`]), without events.
    pub fn new(kbd_interrupt: T, reset: R) -> Self {
        Self::with_config(kbd_interrupt, reset, NoEvents, I8042Config::default())
    }
}

impl<T: Trigger, R: Trigger, E: I8042Events> I8042<T, R, E> {
    /// A controller with an events sink and a chosen configuration.
    pub fn with_config(kbd_interrupt: T, reset: R, events: E, config: I8042Config) -> Self {
        let mut ram = [0u8; RAM_SIZE];
        ram[0] = config.initial_ctr;
        Self {
            kbd_irq: IrqLine::new(kbd_interrupt),
            aux_irq: None,
            reset_line: reset,
            events,
            initial_ctr: config.initial_ctr,
            ram,
            output_port: OUTPORT_DEFAULT,
            cmd_status: u16::from_le_bytes([
                status_from_scratch(config.initial_ctr, false, None),
                NO_AWAITED,
            ]),
            obuf: None,
            pending_reply: None,
            last_read: 0,
            translator: Translator::default(),
            kbd: Keyboard::default(),
            kbd_queue: VecDeque::with_capacity(OUTPUT_CAPACITY),
        }
    }

    /// Wires the auxiliary port's interrupt (IRQ12). Linux checks that its
    /// AUX loopback byte (command 0xD3) arrives on IRQ12; without this sink it
    /// waits 250 ms and then treats the AUX port as absent (boot with
    /// `i8042.noaux` to skip that).
    pub fn with_aux_interrupt(mut self, aux_interrupt: T) -> Self {
        self.aux_irq = Some(IrqLine::new(aux_interrupt));
        self.update();
        self
    }

    // -----------------------------------------------------------------
    // Register access
    // -----------------------------------------------------------------

    /// Reads register `offset` (0 = port 0x60, 4 = port 0x64; 1..=3 read 0xFF).
    ///
    /// Inlined for the status register, which drivers and firmware poll
    /// before every data access: that read has no side effect.
    #[inline]
    pub fn read(&mut self, offset: u8) -> u8 {
        if offset == STATUS_COMMAND_REG {
            return self.status();
        }
        self.read_other(offset)
    }

    fn read_other(&mut self, offset: u8) -> u8 {
        match offset {
            DATA_REG => self.read_data(),
            STATUS_COMMAND_REG => self.status(),
            _ => {
                self.events.invalid_access(offset);
                UNDECODED_READ
            }
        }
    }

    /// Writes register `offset` (0 = port 0x60, 4 = port 0x64; others ignored).
    ///
    /// The CPU reset command (0xFE on port 0x64, the guest's `reboot=k`) is
    /// tested first and exactly, so that with a runtime offset it costs two
    /// compares before the reset line is pulsed.
    #[inline]
    pub fn write(&mut self, offset: u8, value: u8) {
        // Nested, with a different out-of-line target for each miss: written
        // as one `&&` (both misses going to the same place), LLVM merges the
        // two compares into xor/xor/or/jne, three instructions more than
        // two compare-and-branch pairs on the reset path.
        if offset == STATUS_COMMAND_REG {
            if value == CMD_PULSE_RESET {
                self.pulse(value);
            } else {
                self.write_command_port(value);
            }
        } else {
            self.write_other(offset, value);
        }
    }

    /// A port 0x64 write other than 0xFE.
    fn write_command_port(&mut self, value: u8) {
        if value >= CMD_PULSE_FIRST {
            // The other pulse commands: no update either (see `pulse`).
            self.pulse(value);
            return;
        }
        self.write_command(value);
        self.update();
    }

    /// A write to any port but 0x64.
    fn write_other(&mut self, offset: u8, value: u8) {
        match offset {
            DATA_REG => self.write_data(value),
            _ => self.events.invalid_access(offset),
        }
        self.update();
    }

    /// Commands 0xF0-0xFF pulse output port lines (0xFE: CPU reset). They
    /// change neither CTR, the output buffer nor the interrupt lines, so the
    /// update that follows other writes is skipped (a refused level change
    /// is retried by the next other write or data read).
    #[inline]
    fn pulse(&mut self, cmd: u8) {
        // A new command cancels one still waiting for its data byte.
        self.cmd_status |= COMMAND_WRITTEN;
        // Bits 0-3 clear = pulse that output line; line 0 is CPU reset.
        if cmd & OUTPORT_RESET == 0 {
            self.request_reset();
        }
    }

    /// The status register, without side effects.
    #[inline]
    pub fn status(&self) -> u8 {
        let [status, _] = self.cmd_status.to_le_bytes();
        status
    }

    /// The command waiting for its data byte, if any.
    fn awaiting_data(&self) -> Option<u8> {
        let [_, cmd] = self.cmd_status.to_le_bytes();
        (cmd != NO_AWAITED).then_some(cmd)
    }

    /// Records `cmd` (or none) as the command waiting for its data byte.
    fn set_awaiting_data(&mut self, cmd: Option<u8>) {
        let [status, _] = self.cmd_status.to_le_bytes();
        self.cmd_status = u16::from_le_bytes([status, cmd.unwrap_or(NO_AWAITED)]);
    }

    /// Replaces the status register, keeping the waiting command.
    fn set_status(&mut self, status: u8) {
        let [_, cmd] = self.cmd_status.to_le_bytes();
        self.cmd_status = u16::from_le_bytes([status, cmd]);
    }

    /// Empties the output buffer, clearing the status bits that describe it.
    fn take_obuf(&mut self) -> Option<OutputByte> {
        self.cmd_status &= !u16::from(STR_OBUF_BITS);
        self.obuf.take()
    }

    /// Fills the empty output buffer with `b` and sets the status bits that
    /// describe it. Callers have checked that the buffer was empty, so those
    /// bits are clear and only need setting.
    fn load_obuf(&mut self, b: OutputByte) {
        self.cmd_status |= u16::from(obuf_status_bits(b));
        self.obuf = Some(b);
    }

    /// Copies CTR.SYS into the status register after the CTR changed.
    fn sync_sys(&mut self) {
        self.set_status((self.status() & !STR_SYS) | (self.ctr() & CTR_SYS));
    }

    fn read_data(&mut self) -> u8 {
        if let Some(b) = self.take_obuf() {
            self.last_read = b.value;
            // Drop the line before loading the next byte, so that each byte
            // gets its own rising edge (an edge sink never sees a level).
            self.publish();
            self.update();
            if self.queued() == 0 {
                self.events.output_empty();
            }
        }
        // With nothing new, the port keeps showing the last byte; OBF stays 0.
        self.last_read
    }

    fn write_data(&mut self, value: u8) {
        let awaiting = self.awaiting_data();
        // A data write clears CMDDAT and consumes the waiting command.
        self.cmd_status = u16::from_le_bytes([self.status() & !STR_CMDDAT, NO_AWAITED]);
        match awaiting {
            Some(cmd @ CMD_WRITE_CTR..=CMD_WRITE_RAM_LAST) => {
                if let Some(slot) = self.ram.get_mut(usize::from(cmd - CMD_WRITE_CTR)) {
                    *slot = value;
                }
                self.sync_sys();
            }
            Some(CMD_WRITE_OUTPUT_PORT) => self.write_output_port(value),
            Some(CMD_WRITE_KBD_OBUF) => self.reply(value, ByteSource::Keyboard, false),
            Some(CMD_WRITE_AUX_OBUF) => self.reply(value, ByteSource::Aux, false),
            Some(_) => {
                // CMD_WRITE_AUX: no device answers. A real controller times out
                // clocking the byte out and reports 0xFE with TIMEOUT, which
                // makes Linux's psmouse give up at once (SERIO_TIMEOUT aborts
                // the command) instead of waiting out its ACK timeouts.
                self.events.aux_no_device();
                self.reply(KBD_RET_RESEND, ByteSource::Aux, true);
            }
            None => self.keyboard_receive(value),
        }
    }

    fn write_command(&mut self, cmd: u8) {
        // A new command cancels one still waiting for its data byte.
        self.cmd_status |= COMMAND_WRITTEN;
        match cmd {
            CMD_READ_CTR..=CMD_READ_RAM_LAST => {
                let v = self
                    .ram
                    .get(usize::from(cmd - CMD_READ_CTR))
                    .copied()
                    .unwrap_or(0);
                self.reply(v, ByteSource::Controller, false);
            }
            CMD_WRITE_CTR..=CMD_WRITE_RAM_LAST
            | CMD_WRITE_OUTPUT_PORT
            | CMD_WRITE_KBD_OBUF
            | CMD_WRITE_AUX_OBUF
            | CMD_WRITE_AUX => self.set_awaiting_data(Some(cmd)),
            CMD_AUX_DISABLE => self.ram[0] |= CTR_AUXDIS,
            CMD_AUX_ENABLE => self.ram[0] &= !CTR_AUXDIS,
            CMD_AUX_TEST | CMD_KBD_TEST => {
                self.reply(RET_INTERFACE_OK, ByteSource::Controller, false);
            }
            CMD_SELF_TEST => self.self_test(),
            CMD_KBD_DISABLE => self.ram[0] |= CTR_KBDDIS,
            CMD_KBD_ENABLE => self.ram[0] &= !CTR_KBDDIS,
            CMD_READ_INPUT_PORT => self.reply(INPORT_DEFAULT, ByteSource::Controller, false),
            CMD_READ_OUTPUT_PORT => {
                let v = self.output_port_value();
                self.reply(v, ByteSource::Controller, false);
            }
            // `write_other` hands these to `pulse` without an update.
            CMD_PULSE_FIRST..=0xFF => self.pulse(cmd),
            _ => {
                log_unknown_command(cmd);
                self.events.unknown_command(cmd);
            }
        }
    }

    /// The controller self-test (0xAA): as on PS/2 controllers, both
    /// interfaces end up disabled with their interrupts off, the output
    /// buffer is emptied and SYS is set; XLATE is kept so the mode the VMM
    /// configured survives. Answers 0x55.
    fn self_test(&mut self) {
        let discarded = usize::from(self.take_obuf().is_some())
            + usize::from(self.pending_reply.take().is_some());
        if discarded > 0 {
            self.events.output_flushed(discarded);
        }
        self.translator = Translator::default();
        self.ram[0] = (self.ram[0] & CTR_XLATE) | CTR_SYS | CTR_KBDDIS | CTR_AUXDIS;
        self.sync_sys();
        self.set_output_port(OUTPORT_DEFAULT);
        self.reply(RET_SELF_TEST_OK, ByteSource::Controller, false);
    }

    fn output_port_value(&self) -> u8 {
        let mut v = self.output_port & !(OUTPORT_KBD_OBF | OUTPORT_AUX_OBF);
        match self.obuf {
            Some(OutputByte {
                source: ByteSource::Aux,
                ..
            }) => v |= OUTPORT_AUX_OBF,
            Some(_) => v |= OUTPORT_KBD_OBF,
            None => {}
        }
        v
    }

    fn write_output_port(&mut self, value: u8) {
        self.set_output_port(value);
        if value & OUTPORT_RESET == 0 {
            self.request_reset();
        }
    }

    fn set_output_port(&mut self, value: u8) {
        let old_a20 = self.output_port & OUTPORT_A20 != 0;
        self.output_port = value;
        let a20 = value & OUTPORT_A20 != 0;
        if a20 != old_a20 {
            self.events.a20_changed(a20);
        }
    }

    // Inlined into the 0xFE fast path; the failure path stays out of line.
    #[inline]
    fn request_reset(&mut self) {
        self.events.reset_requested();
        if let Err(e) = self.reset_line.trigger() {
            self.reset_failed(&e);
        }
    }

    #[cold]
    #[inline(never)]
    fn reset_failed(&mut self, e: &R::E) {
        if rare(&RESET_ERRORS) {
            log::warn!("i8042: reset trigger failed: {e:?}");
        }
        self.events.reset_error();
    }

    // -----------------------------------------------------------------
    // Output queue
    // -----------------------------------------------------------------

    /// Bytes held for the CPU (output buffer + pending reply + keyboard queue).
    pub fn queued(&self) -> usize {
        usize::from(self.obuf.is_some())
            + usize::from(self.pending_reply.is_some())
            + self.kbd_queue.len()
    }

    /// How many bytes of host key input fit now.
    pub fn input_free(&self) -> usize {
        (OUTPUT_CAPACITY - REPLY_RESERVE).saturating_sub(self.queued())
    }

    /// Queues a controller-generated byte. It goes out as soon as the output
    /// buffer is empty, ahead of keyboard bytes.
    fn reply(&mut self, value: u8, source: ByteSource, timeout: bool) {
        let byte = OutputByte {
            value,
            source,
            timeout,
        };
        if self.pending_reply.is_some() {
            // The guest issued a second command without reading the first
            // reply; the controller has one reply latch, the newer wins.
            self.events.output_dropped(1);
        } else if self.queued() >= OUTPUT_CAPACITY {
            self.events.output_dropped(1);
            return;
        }
        self.pending_reply = Some(byte);
    }

    // Out of line: inlined, it made every controller command (0xFE reset
    // included) pay for its register saves.
    #[inline(never)]
    fn keyboard_receive(&mut self, byte: u8) {
        let answer = self.kbd.receive(byte);
        if answer.unknown {
            self.events.unknown_keyboard_command(byte);
        }
        if answer.flush && !self.kbd_queue.is_empty() {
            self.events.output_flushed(self.kbd_queue.len());
            self.kbd_queue.clear();
        }
        if let Some(leds) = answer.leds_changed {
            self.events.leds_changed(leds);
        }
        let reply = answer.reply.as_slice();
        let room = OUTPUT_CAPACITY.saturating_sub(self.queued());
        let take = reply.len().min(room);
        // At most three bytes: a plain loop costs a fraction of the generic
        // iterator extend.
        for &b in reply.iter().take(take) {
            // With nothing ahead of it and the interface enabled, the byte
            // would be queued and at once taken out again by the refill that
            // follows every write; sending it straight to the output buffer
            // is the same transfer without the queue round trip (the usual
            // case: the guest waits for each ACK before its next command).
            if self.obuf.is_none()
                && self.pending_reply.is_none()
                && self.kbd_queue.is_empty()
                && self.ctr() & CTR_KBDDIS == 0
            {
                self.send_kbd_byte(b);
            } else {
                self.kbd_queue.push_back(b);
            }
        }
        if take < reply.len() {
            self.events.output_dropped(reply.len() - take);
        }
    }

    /// Moves the next byte into the empty output buffer: a pending controller
    /// reply first, then the keyboard's bytes while its interface is enabled
    /// (translated to set 1 when CTR.XLATE is set).
    fn refill(&mut self) {
        if self.obuf.is_some() {
            return;
        }
        if let Some(r) = self.pending_reply.take() {
            self.load_obuf(r);
            return;
        }
        if self.ctr() & CTR_KBDDIS != 0 {
            return;
        }
        while let Some(b) = self.kbd_queue.pop_front() {
            if self.send_kbd_byte(b) {
                return;
            }
        }
    }

    /// Hands keyboard byte `b` to the empty output buffer, translated to set
    /// 1 when CTR.XLATE is set; false if the translator swallowed it (a
    /// set-2 break prefix), leaving the buffer empty.
    #[inline]
    fn send_kbd_byte(&mut self, b: u8) -> bool {
        self.kbd.last_sent = b;
        let out = if self.ctr() & CTR_XLATE != 0 {
            self.translator.feed(b)
        } else {
            Some(b)
        };
        match out {
            Some(value) => {
                self.load_obuf(OutputByte {
                    value,
                    source: ByteSource::Keyboard,
                    timeout: false,
                });
                true
            }
            None => false,
        }
    }

    /// Refills the output buffer and publishes both interrupt levels.
    fn update(&mut self) {
        self.refill();
        self.publish();
    }

    /// Publishes both interrupt levels for the current output buffer.
    fn publish(&mut self) {
        let ctr = self.ctr();
        let (kbd, aux) = match self.obuf {
            Some(OutputByte {
                source: ByteSource::Aux,
                ..
            }) => (false, ctr & CTR_AUXINT != 0),
            Some(_) => (ctr & CTR_KBDINT != 0, false),
            None => (false, false),
        };
        if self.kbd_irq.set_level(kbd).is_err() {
            self.events.interrupt_error();
        }
        if let Some(line) = self.aux_irq.as_mut() {
            if line.set_level(aux).is_err() {
                self.events.interrupt_error();
            }
        }
    }

    // -----------------------------------------------------------------
    // Host input
    // -----------------------------------------------------------------

    /// Queues set-2 `bytes` (converted to the keyboard's current set) as one
    /// all-or-nothing unit.
    fn inject_set2(&mut self, bytes: &[u8]) -> Result<(), I8042Error> {
        if !self.kbd.scanning {
            self.events.input_rejected();
            return Err(I8042Error::ScanningDisabled);
        }
        let converted;
        let bytes = match self.kbd.set {
            ScanCodeSet::Set2 => bytes,
            ScanCodeSet::Set1 => {
                converted = crate::scancode::set2_to_set1(bytes);
                &converted[..]
            }
        };
        let free = self.input_free();
        if bytes.len() > free {
            self.events.input_rejected();
            return Err(I8042Error::QueueFull {
                needed: bytes.len(),
                free,
            });
        }
        self.kbd_queue.extend(bytes.iter().copied());
        self.update();
        Ok(())
    }

    /// The key went down: queues its make code in the guest's scan code set.
    ///
    /// # Errors
    /// [`I8042Error::QueueFull`] or [`I8042Error::ScanningDisabled`]; nothing
    /// was queued.
    pub fn press(&mut self, key: Key) -> Result<(), I8042Error> {
        self.inject_set2(&key.set2_make())
    }

    /// The key went up: queues its break code.
    ///
    /// # Errors
    /// As [`I8042::press`].
    pub fn release(&mut self, key: Key) -> Result<(), I8042Error> {
        self.inject_set2(&key.set2_break())
    }

    /// Press and release `key`, all or nothing.
    ///
    /// # Errors
    /// As [`I8042::press`].
    pub fn tap(&mut self, key: Key) -> Result<(), I8042Error> {
        let mut seq = key.set2_make();
        seq.extend(key.set2_break());
        self.inject_set2(&seq)
    }

    /// Ctrl+Alt+Del: presses Left Ctrl, Left Alt and Delete, then releases
    /// them in reverse order, all or nothing. Linux reboots (or signals init)
    /// when it decodes it.
    ///
    /// # Errors
    /// As [`I8042::press`].
    pub fn ctrl_alt_del(&mut self) -> Result<(), I8042Error> {
        let keys = [Key::LeftCtrl, Key::LeftAlt, Key::Delete];
        let mut seq = Vec::with_capacity(11);
        for k in keys {
            seq.extend(k.set2_make());
        }
        for k in keys.iter().rev() {
            seq.extend(k.set2_break());
        }
        self.inject_set2(&seq)
    }

    /// Queues a set-1 byte stream (as emulators such as v86 produce it, with
    /// `E0` prefixes and `| 0x80` breaks), converted to the keyboard's set, all
    /// or nothing.
    ///
    /// # Errors
    /// [`I8042Error::UnknownScanCode`] for an unconvertible byte, otherwise as
    /// [`I8042::press`].
    pub fn inject_set1(&mut self, bytes: &[u8]) -> Result<(), I8042Error> {
        let set2 = set1_to_set2(bytes).ok_or_else(|| {
            let bad = bytes
                .iter()
                .copied()
                .find(|&b| set1_to_set2(&[b]).is_none())
                .unwrap_or(0);
            I8042Error::UnknownScanCode(bad)
        })?;
        self.inject_set2(&set2)
    }

    // -----------------------------------------------------------------
    // Introspection
    // -----------------------------------------------------------------

    /// The controller configuration byte.
    pub fn ctr(&self) -> u8 {
        self.ram[0]
    }

    /// The published level of the keyboard interrupt (IRQ1).
    pub fn interrupt_level(&self) -> bool {
        self.kbd_irq.level()
    }

    /// The published level of the auxiliary interrupt (IRQ12); false when
    /// no aux sink is wired.
    pub fn aux_interrupt_level(&self) -> bool {
        self.aux_irq.as_ref().is_some_and(IrqLine::level)
    }

    /// The keyboard interrupt sink.
    pub fn interrupt(&self) -> &T {
        self.kbd_irq.sink()
    }

    /// The auxiliary interrupt sink, if wired.
    pub fn aux_interrupt(&self) -> Option<&T> {
        self.aux_irq.as_ref().map(IrqLine::sink)
    }

    /// The reset sink.
    pub fn reset_trigger(&self) -> &R {
        &self.reset_line
    }

    /// The events sink.
    pub fn events(&self) -> &E {
        &self.events
    }

    /// The A20 gate as the guest last set it through the output port.
    pub fn a20_enabled(&self) -> bool {
        self.output_port & OUTPORT_A20 != 0
    }

    /// The keyboard LEDs ([`crate::LED_CAPS_LOCK`] and friends).
    pub fn leds(&self) -> u8 {
        self.kbd.leds
    }

    /// The scan code set the guest selected.
    pub fn scan_code_set(&self) -> ScanCodeSet {
        self.kbd.set
    }

    /// Whether the keyboard is scanning (the guest has not sent 0xF5).
    pub fn scanning(&self) -> bool {
        self.kbd.scanning
    }

    // -----------------------------------------------------------------
    // Reset and state
    // -----------------------------------------------------------------

    /// Power-on state (for a VM reset): configured CTR, empty queues,
    /// keyboard defaults, A20 on; interrupt lines lowered.
    pub fn reset(&mut self) {
        self.ram = [0; RAM_SIZE];
        self.ram[0] = self.initial_ctr;
        self.output_port = OUTPORT_DEFAULT;
        self.cmd_status = u16::from_le_bytes([
            status_from_scratch(self.initial_ctr, false, None),
            NO_AWAITED,
        ]);
        self.obuf = None;
        self.pending_reply = None;
        self.last_read = 0;
        self.translator = Translator::default();
        self.kbd = Keyboard::default();
        self.kbd_queue.clear();
        self.update();
    }

    /// The state, for a snapshot.
    pub fn state(&self) -> I8042State {
        I8042State {
            version: STATE_VERSION,
            initial_ctr: self.initial_ctr,
            ram: self.ram,
            output_port: self.output_port,
            last_write_was_command: self.status() & STR_CMDDAT != 0,
            awaiting_data: self.awaiting_data(),
            output_buffer: self.obuf,
            pending_reply: self.pending_reply,
            last_read: self.last_read,
            xlate_break_pending: self.translator.break_pending,
            keyboard: KeyboardState {
                queue: self.kbd_queue.iter().copied().collect(),
                scanning: self.kbd.scanning,
                set: self.kbd.set,
                leds: self.kbd.leds,
                typematic: self.kbd.typematic,
                awaiting: self.kbd.awaiting,
                last_sent: self.kbd.last_sent,
            },
        }
    }

    /// A controller restored from `state` (validated first). Wire IRQ12 again
    /// with [`I8042::with_aux_interrupt`]. The interrupt lines are published
    /// afresh: a pending byte raises its line on the new sink.
    ///
    /// # Errors
    /// [`StateError`] if the state is inconsistent or from another version.
    pub fn from_state(
        kbd_interrupt: T,
        reset: R,
        events: E,
        state: &I8042State,
    ) -> Result<Self, StateError> {
        state.validate()?;
        let mut dev = Self::with_config(
            kbd_interrupt,
            reset,
            events,
            I8042Config {
                initial_ctr: state.initial_ctr,
            },
        );
        dev.ram = state.ram;
        dev.output_port = state.output_port;
        dev.set_status(status_from_scratch(
            state.ram[0],
            state.last_write_was_command,
            state.output_buffer,
        ));
        dev.set_awaiting_data(state.awaiting_data);
        dev.obuf = state.output_buffer;
        dev.pending_reply = state.pending_reply;
        dev.last_read = state.last_read;
        dev.translator = Translator {
            break_pending: state.xlate_break_pending,
        };
        let k = &state.keyboard;
        dev.kbd = Keyboard {
            scanning: k.scanning,
            set: k.set,
            leds: k.leds,
            typematic: k.typematic,
            awaiting: k.awaiting,
            last_sent: k.last_sent,
        };
        dev.kbd_queue = k.queue.iter().copied().collect();
        dev.update();
        Ok(dev)
    }
}

/// The status bits that describe the output buffer's byte.
const STR_OBUF_BITS: u8 = STR_OBF | STR_AUXDATA | STR_TIMEOUT;

/// The status bits for a byte in the output buffer.
fn obuf_status_bits(b: OutputByte) -> u8 {
    let mut s = STR_OBF;
    if b.source == ByteSource::Aux {
        s |= STR_AUXDATA;
    }
    if b.timeout {
        s |= STR_TIMEOUT;
    }
    s
}

// The status SYS bit is a copy of CTR.SYS, at the same position, so it is
// copied with a mask rather than a branch.
const _: () = assert!(CTR_SYS == STR_SYS);

/// The status register computed from its inputs, where there is no cached
/// value to update (power-on, reset, snapshot restore): CTR.SYS, whether
/// the last write went to port 0x64, and the output buffer.
fn status_from_scratch(ctr: u8, last_write_was_command: bool, obuf: Option<OutputByte>) -> u8 {
    let mut s = STR_KEYLOCK | (ctr & CTR_SYS);
    if last_write_was_command {
        s |= STR_CMDDAT;
    }
    s | obuf.map_or(0, obuf_status_bits)
}

static UNKNOWN_COMMANDS: AtomicU64 = AtomicU64::new(0);
static RESET_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Counts one occurrence (process-wide) and says whether to log it: only
/// when the count reaches a power of two, so a guest cannot flood the host log.
fn rare(counter: &AtomicU64) -> bool {
    counter
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(1)
        .is_power_of_two()
}

fn log_unknown_command(cmd: u8) {
    if rare(&UNKNOWN_COMMANDS) {
        log::debug!("i8042: ignored unknown controller command {cmd:#04x}");
    }
}

impl<T: Trigger, R: Trigger, E: I8042Events> ByteRegisters for I8042<T, R, E> {
    const REGISTER_COUNT: u8 = REGISTER_COUNT;

    fn read_register(&mut self, reg: u8) -> u8 {
        self.read(reg)
    }

    fn write_register(&mut self, reg: u8, value: u8) {
        self.write(reg, value);
    }
}
