//! Hostile guests (issue 9): command floods, unread replies, keyboard
//! command floods, reset storms and interrupt-enable storms. The controller
//! must hold at most 16 bytes, count every byte it drops, never drop a host
//! key it accepted, call each interrupt sink once per level change, and pass
//! on every reset request.

use std::sync::Arc;

use superio_core::test_utils::RecordingIrq;
use superio_i8042::{I8042Config, I8042Counters, Key, I8042};

/// Port offsets: data 0x60 and status/command 0x64.
const DATA: u8 = 0;
const CMD: u8 = 4;
/// Status register bit 0: output buffer full.
const OBF: u8 = 0x01;
/// CTR bit 0: keyboard interrupt enable.
const CTR_KBDINT: u8 = 0x01;
/// Controller commands: read CTR, write CTR, keyboard interface test, write
/// output port, pulse reset.
const READ_CTR: u8 = 0x20;
const WRITE_CTR: u8 = 0x60;
const KBD_TEST: u8 = 0xAB;
const WRITE_OUTPUT_PORT: u8 = 0xD1;
const PULSE_RESET: u8 = 0xFE;
/// Interface test pass reply.
const INTERFACE_OK: u8 = 0x00;
/// Keyboard echo command and its reply.
const KBD_ECHO: u8 = 0xEE;
/// Output capacity the crate documents: 16 bytes.
const CAPACITY: usize = 16;

type Dev = I8042<RecordingIrq, RecordingIrq, Arc<I8042Counters>>;

struct Rig {
    dev: Dev,
    irq1: RecordingIrq,
    reset: RecordingIrq,
    counters: Arc<I8042Counters>,
}

fn rig(config: I8042Config) -> Rig {
    let irq1 = RecordingIrq::new();
    let reset = RecordingIrq::new();
    let counters = Arc::new(I8042Counters::default());
    let dev = I8042::with_config(irq1.clone(), reset.clone(), Arc::clone(&counters), config);
    Rig {
        dev,
        irq1,
        reset,
        counters,
    }
}

fn drain(dev: &mut Dev) -> Vec<u8> {
    let mut out = Vec::new();
    while dev.read(CMD) & OBF != 0 && out.len() <= 64 {
        out.push(dev.read(DATA));
    }
    out
}

#[test]
fn test_hostile_command_flood_keeps_output_bounded() {
    // Every command byte, each followed by every data byte, never reading
    // the output: 65 536 command/data pairs. Every reset request (0xF0-0xFF
    // with bit 0 clear, or an output-port write with bit 0 clear) must reach
    // the reset line.
    let mut r = rig(I8042Config::raw());
    let mut pulses = 0u64;
    for cmd in 0..=u8::MAX {
        for data in 0..=u8::MAX {
            r.dev.write(CMD, cmd);
            r.dev.write(DATA, data);
            assert!(r.dev.queued() <= CAPACITY, "cmd {cmd:#x} data {data:#x}");
        }
        if cmd >= 0xF0 && cmd & 1 == 0 {
            pulses += 256;
        }
        if cmd == WRITE_OUTPUT_PORT {
            // Output port bit 0 is the CPU reset line: the 128 data bytes
            // with bit 0 clear pulse it too.
            pulses += 128;
        }
    }
    assert_eq!(r.counters.resets_requested(), pulses);
    assert_eq!(r.irq1.redundant(), 0);
    let out = drain(&mut r.dev);
    assert!(out.len() <= CAPACITY);
    assert_eq!(r.dev.queued(), 0);
}

#[test]
fn test_hostile_unread_replies_keep_first_and_newest_and_count_the_rest() {
    // One output buffer plus one reply latch: the first reply sits in the
    // buffer, each later one replaces the latched one, and every replaced
    // reply is counted as dropped.
    let mut r = rig(I8042Config::raw());
    let n = 10_000u64;
    for _ in 0..n {
        r.dev.write(CMD, READ_CTR);
    }
    r.dev.write(CMD, KBD_TEST);
    assert_eq!(r.counters.output_dropped(), n + 1 - 2);
    let ctr = I8042Config::raw().initial_ctr;
    assert_eq!(drain(&mut r.dev), [ctr, INTERFACE_OK]);
}

#[test]
fn test_hostile_keyboard_echo_flood_caps_at_capacity_and_counts_drops() {
    let mut r = rig(I8042Config::raw());
    let n = 1_000usize;
    for _ in 0..n {
        r.dev.write(DATA, KBD_ECHO);
    }
    assert_eq!(r.dev.queued(), CAPACITY);
    assert_eq!(r.counters.output_dropped(), (n - CAPACITY) as u64);
    assert_eq!(drain(&mut r.dev), [KBD_ECHO; CAPACITY]);
}

#[test]
fn test_hostile_reset_pulse_storm_signals_every_pulse() {
    // A guest rebooting in a loop: each pulse is a separate request to the
    // VMM (an EventFd write), none is merged or lost, nothing accumulates.
    let mut r = rig(I8042Config::default());
    let n = 100_000u64;
    for _ in 0..n {
        r.dev.write(CMD, PULSE_RESET);
    }
    assert_eq!(r.reset.raises(), n);
    assert_eq!(r.counters.resets_requested(), n);
    assert_eq!(r.dev.queued(), 0);
}

#[test]
fn test_hostile_kbdint_toggle_storm_one_sink_call_per_change() {
    // A byte waits in the output buffer; the guest flips CTR.KBDINT on and
    // off: IRQ1 follows with exactly one sink call per flip.
    let mut r = rig(I8042Config::raw());
    r.dev.write(DATA, KBD_ECHO);
    let ctr = I8042Config::raw().initial_ctr;
    let flips = 50_000u64;
    for i in 0..flips {
        let v = if i % 2 == 0 {
            ctr & !CTR_KBDINT
        } else {
            ctr | CTR_KBDINT
        };
        r.dev.write(CMD, WRITE_CTR);
        r.dev.write(DATA, v);
    }
    // Raised by the echo, then one call per flip.
    assert_eq!(r.irq1.raises() + r.irq1.lowers(), 1 + flips);
    assert_eq!(r.irq1.redundant(), 0);
    assert_eq!(drain(&mut r.dev), [KBD_ECHO]);
}

#[test]
fn test_hostile_key_flood_is_all_or_nothing_and_leaves_room_for_replies() {
    // The host types while the guest never reads: keys are refused whole
    // once the queue is full (nothing accepted is dropped), and a command
    // the guest then issues still gets its reply.
    let mut r = rig(I8042Config::raw());
    let mut accepted = Vec::new();
    for i in 0..1_000 {
        let key = [Key::A, Key::Enter, Key::RightCtrl][i % 3];
        let before = r.dev.state();
        match r.dev.tap(key) {
            Ok(()) => {
                accepted.extend(key.set2_make());
                accepted.extend(key.set2_break());
            }
            Err(_) => assert_eq!(r.dev.state(), before, "refused input changed state"),
        }
    }
    assert!(r.dev.queued() <= CAPACITY);
    assert_eq!(
        r.counters.output_dropped(),
        0,
        "an accepted key byte was dropped"
    );
    r.dev.write(CMD, READ_CTR);
    let out = drain(&mut r.dev);
    let ctr = I8042Config::raw().initial_ctr;
    // The first key byte was already in the buffer; the reply comes next.
    assert_eq!(out[0], accepted[0]);
    assert_eq!(out[1], ctr);
    assert_eq!(out[2..], accepted[1..]);
}

#[test]
fn test_hostile_reset_storm_into_refusing_line_counts_every_failure() {
    // The VMM's reset eventfd refuses (e.g. its counter is saturated): each
    // pulse is still attempted and counted as a failure, and the controller
    // keeps working.
    let mut r = rig(I8042Config::default());
    r.reset.fail_next(u32::MAX);
    let n = 10_000u64;
    for _ in 0..n {
        r.dev.write(CMD, PULSE_RESET);
    }
    assert_eq!(r.dev.events().resets_requested(), n);
    assert_eq!(r.dev.events().reset_errors(), n);
    assert_eq!(r.dev.reset_trigger().raises(), 0);
    r.dev.write(CMD, KBD_TEST);
    assert_eq!(drain(&mut r.dev), [INTERFACE_OK]);
}

#[test]
fn test_hostile_aux_loopback_flood_with_refusing_irq12_retries() {
    // Linux's 0xD3 aux loopback probe, repeated, with an IRQ12 sink that
    // refuses: every failure is counted, the output port reports the aux
    // byte (bit 5), and once the sink accepts the line follows the byte.
    const WRITE_AUX_OBUF: u8 = 0xD3;
    const READ_OUTPUT_PORT: u8 = 0xD0;
    const OUTPORT_AUX_OBF: u8 = 0x20;
    const CTR_AUXINT: u8 = 0x02;
    let irq12 = RecordingIrq::new();
    let mut r = rig(I8042Config::raw());
    r.dev = r.dev.with_aux_interrupt(irq12.clone());
    r.dev.write(CMD, WRITE_CTR);
    r.dev
        .write(DATA, I8042Config::raw().initial_ctr | CTR_AUXINT);
    irq12.fail_next(u32::MAX);
    let n = 1_000u64;
    for i in 0..n {
        r.dev.write(CMD, WRITE_AUX_OBUF);
        r.dev.write(DATA, i as u8);
        assert!(r.dev.queued() <= CAPACITY);
    }
    // Retried at each access (two per round), never more often.
    assert!(r.dev.events().interrupt_errors() <= 2 * n);
    assert!(!r.dev.aux_interrupt_level());
    irq12.fail_next(0);
    // Any update retries; 0xD0 reports the aux byte in the output buffer.
    r.dev.write(CMD, READ_OUTPUT_PORT);
    assert!(r.dev.aux_interrupt().is_some_and(RecordingIrq::level));
    let out = drain(&mut r.dev);
    assert_eq!(
        out.len(),
        2,
        "the first loopback byte, then the port: {out:?}"
    );
    assert_eq!(out[0], 0);
    assert_ne!(out[1] & OUTPORT_AUX_OBF, 0);
    assert_eq!(r.dev.interrupt().redundant(), 0);
}
