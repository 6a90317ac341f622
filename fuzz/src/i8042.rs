//! i8042 interpreter: guest accesses to ports 0x60..=0x64 (through `PioBytes`
//! or `MmioBytes`), controller commands and keyboard commands with their data
//! bytes, host key injection (set 2 keys, Ctrl-Alt-Del, raw set-1 bytes),
//! refused interrupt-sink calls, resets and snapshot + restore.
//!
//! Invariants checked after every step:
//! - at most `OUTPUT_CAPACITY` bytes are held for the CPU;
//! - IRQ1 is high exactly when the output buffer holds a non-aux byte and
//!   CTR.KBDINT is set; IRQ12 likewise for an aux byte and CTR.AUXINT;
//! - neither sink ever sees a redundant raise or lower;
//! - a data-port read returns the byte that was in the output buffer;
//! - key injection is all-or-nothing: a refusal changes nothing, a success
//!   drops nothing;
//! - every reset pulse command reaches the reset line;
//! - a refused bus access changes nothing;
//! - a saved state survives JSON, is accepted by `from_state`, and the
//!   restored device saves the same state again.

use std::sync::Arc;

use superio_core::test_utils::RecordingIrq;
use superio_i8042::{
    ByteSource, I8042Counters, I8042State, Key, KeyboardState, OutputByte, ScanCodeSet, CTR_AUXINT,
    CTR_KBDINT, I8042, OUTPUT_CAPACITY, RAM_SIZE, STATE_VERSION,
};

use crate::{ByteBus, Cursor};

type Dev = I8042<RecordingIrq, RecordingIrq, Arc<I8042Counters>>;

/// Controller commands (port 0x64) worth trying more often than chance.
const COMMANDS: [u8; 24] = [
    0x20, 0x21, 0x3F, 0x60, 0x61, 0x7F, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAD, 0xAE, 0xC0, 0xD0, 0xD1,
    0xD2, 0xD3, 0xD4, 0xF0, 0xFE, 0xFF, 0xE0, 0x00,
];
/// Keyboard commands and parameters (port 0x60).
const KBD_BYTES: [u8; 20] = [
    0xED, 0xEE, 0xF0, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xFA, 0xFE, 0xFF, 0x00, 0x01, 0x02, 0x03,
    0x07, 0x2B, 0x47, 0x80,
];

struct Harness {
    bus: ByteBus<Dev>,
    kbd_irq: RecordingIrq,
    aux_irq: Option<RecordingIrq>,
    reset_line: RecordingIrq,
    events: Arc<I8042Counters>,
    retry_pending: bool,
}

impl Harness {
    fn dev(&mut self) -> &mut Dev {
        self.bus.inner_mut()
    }

    fn step(&mut self, c: &mut Cursor<'_>) {
        let errors_before = self.events.interrupt_errors();
        match c.u8() % 12 {
            0..=3 => self.guest_write(c),
            4 | 5 => self.guest_read(c),
            6 | 7 => self.keys(c),
            8 => {
                let n = usize::from(c_len(c));
                let raw: Vec<u8> = c.bytes(n).to_vec();
                let before = self.dev().state();
                let dropped = self.events.output_dropped();
                match self.dev().inject_set1(&raw) {
                    Ok(()) => assert_eq!(self.events.output_dropped(), dropped),
                    Err(_) => assert_eq!(self.dev().state(), before, "refused input changed state"),
                }
            }
            9 => {
                self.dev().reset();
                assert_eq!(self.dev().queued(), 0, "reset empties the output queue");
            }
            10 => self.snapshot_restore(c.u8()),
            _ => {
                let n = u32::from(c.u8() % 4);
                match c.u8() % 3 {
                    0 => self.kbd_irq.fail_next(n),
                    1 => {
                        if let Some(aux) = &self.aux_irq {
                            aux.fail_next(n);
                        }
                    }
                    _ => self.reset_line.fail_next(n),
                }
            }
        }
        self.check(errors_before);
    }

    fn guest_write(&mut self, c: &mut Cursor<'_>) {
        let (shift, width) = self.bus.geometry();
        let sel = c.u8();
        let (offset, len, value) = match sel % 4 {
            0 => (
                4u64 << shift,
                width,
                COMMANDS[usize::from(c.u8()) % COMMANDS.len()],
            ),
            1 => (0, width, KBD_BYTES[usize::from(c.u8()) % KBD_BYTES.len()]),
            _ => {
                let (o, l) = crate::decode_access(c, 5, shift, width);
                (o, l, c.u8())
            }
        };
        let accepted = self.bus.accepts(offset, len);
        let before = self.dev().state();
        let resets = self.events.resets_requested();
        self.bus.write(offset, len, value);
        if !accepted {
            assert_eq!(self.dev().state(), before, "refused write changed state");
            return;
        }
        if offset == 4 << shift && value >= 0xF0 && value & 1 == 0 {
            assert_eq!(
                self.events.resets_requested(),
                resets + 1,
                "reset pulse lost"
            );
        }
    }

    fn guest_read(&mut self, c: &mut Cursor<'_>) {
        let (shift, width) = self.bus.geometry();
        let (offset, len) = if c.u8() & 1 == 0 {
            (0, width)
        } else {
            crate::decode_access(c, 5, shift, width)
        };
        let before = self.dev().state();
        let status_before = self.dev().status();
        let got = self.bus.read(offset, len);
        match got {
            None => assert_eq!(self.dev().state(), before, "refused read changed state"),
            Some(v) if offset == 0 => match before.output_buffer {
                Some(b) => assert_eq!(v, b.value, "the data port must return the output buffer"),
                None => assert_eq!(
                    v, before.last_read,
                    "an empty data port repeats the last byte"
                ),
            },
            Some(v) if offset == 4 << shift => assert_eq!(v, status_before, "status register"),
            Some(v) => assert_eq!(v, 0xFF, "undecoded i8042 register"),
        }
    }

    fn keys(&mut self, c: &mut Cursor<'_>) {
        let key = Key::ALL[usize::from(c.u8()) % Key::ALL.len()];
        let before = self.dev().state();
        let dropped = self.events.output_dropped();
        let result = match c.u8() % 4 {
            0 => self.dev().press(key),
            1 => self.dev().release(key),
            2 => self.dev().tap(key),
            _ => self.dev().ctrl_alt_del(),
        };
        match result {
            Ok(()) => assert_eq!(
                self.events.output_dropped(),
                dropped,
                "accepted key input dropped"
            ),
            Err(e) => {
                assert_eq!(
                    self.dev().state(),
                    before,
                    "refused key input changed state: {e}"
                );
            }
        }
    }

    fn snapshot_restore(&mut self, mode: u8) {
        let saved = self.dev().state();
        let json = serde_json::to_vec(&saved).unwrap();
        let back: I8042State = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, saved, "JSON round trip");
        let kbd = RecordingIrq::new();
        let dev = Dev::from_state(
            kbd.clone(),
            self.reset_line.clone(),
            self.events.clone(),
            &back,
        )
        .unwrap_or_else(|e| panic!("own state refused: {e}: {saved:?}"));
        let aux = self.aux_irq.as_ref().map(|_| RecordingIrq::new());
        let dev = match &aux {
            Some(a) => dev.with_aux_interrupt(a.clone()),
            None => dev,
        };
        self.bus = ByteBus::new(dev, mode);
        self.kbd_irq = kbd;
        self.aux_irq = aux;
        self.retry_pending = false;
        assert_eq!(
            self.dev().state(),
            saved,
            "restored device saves the same state"
        );
    }

    fn check(&mut self, errors_before: u64) {
        assert_eq!(self.kbd_irq.redundant(), 0, "redundant IRQ1 sink call");
        if let Some(aux) = &self.aux_irq {
            assert_eq!(aux.redundant(), 0, "redundant IRQ12 sink call");
        }
        assert!(
            self.dev().queued() <= OUTPUT_CAPACITY,
            "output queue over capacity"
        );
        let s = self.dev().state();
        assert!(s.keyboard.queue.len() <= OUTPUT_CAPACITY);
        if self.events.interrupt_errors() != errors_before {
            self.retry_pending = true;
            return;
        }
        if self.retry_pending {
            // The device retries a refused level on its next update; an
            // ignored write to an undecoded register is one.
            let errors = self.events.interrupt_errors();
            self.dev().write(1, 0);
            if self.events.interrupt_errors() != errors {
                return;
            }
            self.retry_pending = false;
        }
        let ctr = self.dev().ctr();
        let (kbd, aux) = match s.output_buffer {
            Some(OutputByte {
                source: ByteSource::Aux,
                ..
            }) => (false, ctr & CTR_AUXINT != 0),
            Some(_) => (ctr & CTR_KBDINT != 0, false),
            None => (false, false),
        };
        assert_eq!(self.dev().interrupt_level(), kbd, "IRQ1 level: {s:?}");
        assert_eq!(self.kbd_irq.level(), kbd, "IRQ1 sink level");
        if let Some(a) = &self.aux_irq {
            assert_eq!(a.level(), aux, "IRQ12 sink level");
            assert_eq!(self.dev().aux_interrupt_level(), aux, "IRQ12 level");
        }
    }
}

fn c_len(c: &mut Cursor<'_>) -> u8 {
    c.u8() % 24
}

fn harness(
    dev: Dev,
    kbd: RecordingIrq,
    reset: RecordingIrq,
    events: Arc<I8042Counters>,
    mode: u8,
) -> Harness {
    let (dev, aux_irq) = if mode & 0x80 != 0 {
        let aux = RecordingIrq::new();
        (dev.with_aux_interrupt(aux.clone()), Some(aux))
    } else {
        (dev, None)
    };
    Harness {
        bus: ByteBus::new(dev, mode & 0x7F),
        kbd_irq: kbd,
        aux_irq,
        reset_line: reset,
        events,
        retry_pending: false,
    }
}

fn drive(mut h: Harness, c: &mut Cursor<'_>) {
    crate::run_steps(c, 4096, |c| h.step(c));
}

/// Runs the interpreter on `data`.
pub fn run_ops(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mode = c.u8();
    let config = superio_i8042::I8042Config {
        initial_ctr: if mode & 0x40 != 0 { c.u8() } else { 0x65 },
    };
    let kbd = RecordingIrq::new();
    let reset = RecordingIrq::new();
    let events = Arc::new(I8042Counters::default());
    let dev = Dev::with_config(kbd.clone(), reset.clone(), events.clone(), config);
    drive(harness(dev, kbd, reset, events, mode), &mut c);
}

fn output_byte(c: &mut Cursor<'_>) -> Option<OutputByte> {
    let b = c.u8();
    if b & 1 == 0 {
        return None;
    }
    Some(OutputByte {
        value: c.u8(),
        source: match (b >> 1) % 3 {
            0 => ByteSource::Controller,
            1 => ByteSource::Keyboard,
            _ => ByteSource::Aux,
        },
        timeout: b & 0x10 != 0,
    })
}

fn option_u8(c: &mut Cursor<'_>) -> Option<u8> {
    let b = c.u8();
    (b & 1 != 0).then(|| c.u8())
}

/// Feeds `data` to the state deserializer and `from_state`, then drives an
/// accepted device with the rest of the input.
pub fn run_state(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mode = c.u8();
    let state = if mode & 1 == 0 {
        let rest = c.rest();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        c = Cursor::new(&rest[end.saturating_add(1).min(rest.len())..]);
        match serde_json::from_slice::<I8042State>(&rest[..end]) {
            Ok(s) => s,
            Err(_) => return,
        }
    } else {
        let version = u32::from(c.u8() % 3);
        let initial_ctr = c.u8();
        let ram: [u8; RAM_SIZE] = c.array();
        let output_port = c.u8();
        let flags = c.u8();
        let awaiting_data = option_u8(&mut c);
        let output_buffer = output_byte(&mut c);
        let pending_reply = output_byte(&mut c);
        let last_read = c.u8();
        let qlen = usize::from(c.u8() % 20);
        let queue = c.bytes(qlen).to_vec();
        I8042State {
            version,
            initial_ctr,
            ram,
            output_port,
            last_write_was_command: flags & 1 != 0,
            awaiting_data,
            output_buffer,
            pending_reply,
            last_read,
            xlate_break_pending: flags & 2 != 0,
            keyboard: KeyboardState {
                queue,
                scanning: flags & 4 != 0,
                set: if flags & 8 != 0 {
                    ScanCodeSet::Set1
                } else {
                    ScanCodeSet::Set2
                },
                leds: c.u8() & 0x0F,
                typematic: c.u8(),
                awaiting: option_u8(&mut c),
                last_sent: c.u8(),
            },
        }
    };
    let kbd = RecordingIrq::new();
    let reset = RecordingIrq::new();
    let events = Arc::new(I8042Counters::default());
    match Dev::from_state(kbd.clone(), reset.clone(), events.clone(), &state) {
        Ok(dev) => {
            assert_eq!(state.version, STATE_VERSION, "accepted another version");
            let held = state.keyboard.queue.len()
                + usize::from(state.output_buffer.is_some())
                + usize::from(state.pending_reply.is_some());
            assert!(held <= OUTPUT_CAPACITY, "accepted an over-full queue");
            let mut h = harness(dev, kbd, reset, events, c.u8() & 0x7F);
            let e = h.events.interrupt_errors();
            h.check(e);
            drive(h, &mut c);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
