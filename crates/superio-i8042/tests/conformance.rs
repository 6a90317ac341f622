//! CONFORMANCE.md §2.7 checklist K1–K10: one behaviour per test, expected
//! values from the IBM PC/AT and PS/2 references and `include/linux/i8042.h`,
//! written out here rather than taken from the crate.

mod common;

use std::sync::Arc;

use superio_core::test_utils::RecordingIrq;
use superio_core::{BusDevice, PioBytes};
use superio_i8042::{I8042Config, I8042Counters, I8042Error, Key, I8042};

type Dev = I8042<RecordingIrq, RecordingIrq, Arc<I8042Counters>>;

// Register offsets (ports 0x60 and 0x64).
const DATA: u8 = 0;
const CMD: u8 = 4;
// Status bits.
const OBF: u8 = 0x01;
const IBF: u8 = 0x02;
const SYS: u8 = 0x04;
const CMDDAT: u8 = 0x08;
const KEYLOCK: u8 = 0x10;
const AUXDATA: u8 = 0x20;
const TIMEOUT: u8 = 0x40;
// CTR bits.
const KBDINT: u8 = 0x01;
const AUXINT: u8 = 0x02;
const KBDDIS: u8 = 0x10;
const AUXDIS: u8 = 0x20;
const XLATE: u8 = 0x40;
/// The translated BIOS-style CTR the default config uses: XLATE|AUXDIS|SYS|KBDINT.
const CTR_DEFAULT: u8 = 0x65;

struct Rig {
    dev: Dev,
    irq1: RecordingIrq,
    irq12: RecordingIrq,
    reset: RecordingIrq,
    counters: Arc<I8042Counters>,
}

fn rig_with(config: I8042Config) -> Rig {
    let irq1 = RecordingIrq::new();
    let irq12 = RecordingIrq::new();
    let reset = RecordingIrq::new();
    let counters = Arc::new(I8042Counters::default());
    let dev = I8042::with_config(irq1.clone(), reset.clone(), Arc::clone(&counters), config)
        .with_aux_interrupt(irq12.clone());
    Rig {
        dev,
        irq1,
        irq12,
        reset,
        counters,
    }
}

fn rig() -> Rig {
    rig_with(I8042Config::default())
}

fn raw_rig() -> Rig {
    rig_with(I8042Config::raw())
}

impl Rig {
    fn status(&mut self) -> u8 {
        self.dev.read(CMD)
    }
    /// Reads every byte the controller holds, as a polling driver does.
    fn drain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.status() & OBF != 0 {
            out.push(self.dev.read(DATA));
            assert!(out.len() <= 16, "more than 16 bytes");
        }
        out
    }
    fn command(&mut self, cmd: u8) {
        self.dev.write(CMD, cmd);
    }
    fn command_data(&mut self, cmd: u8, data: u8) {
        self.dev.write(CMD, cmd);
        self.dev.write(DATA, data);
    }
    fn kbd(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in bytes {
            self.dev.write(DATA, b);
            out.extend(self.drain());
        }
        out
    }
    fn read_ctr(&mut self) -> u8 {
        self.command(0x20);
        self.dev.read(DATA)
    }
}

// ---------------------------------------------------------------------------
// K1 — status register
// ---------------------------------------------------------------------------

#[test]
fn test_k1_status_at_power_on_is_keylock_and_sys_only() {
    let mut r = rig();
    assert_eq!(r.status(), KEYLOCK | SYS);
}

#[test]
fn test_k1_status_ibf_stays_clear_after_every_kind_of_write() {
    let mut r = rig();
    for (reg, v) in [
        (CMD, 0x20),
        (CMD, 0x60),
        (DATA, 0x65),
        (DATA, 0xF2),
        (CMD, 0xD3),
    ] {
        r.dev.write(reg, v);
        assert_eq!(r.status() & IBF, 0, "after {v:#x} to {reg}");
    }
}

#[test]
fn test_k1_status_obf_follows_the_queue() {
    let mut r = rig();
    r.dev.press(Key::A).unwrap();
    assert_ne!(r.status() & OBF, 0);
    r.dev.read(DATA);
    assert_eq!(r.status() & OBF, 0);
}

#[test]
fn test_k1_data_read_with_nothing_queued_never_sets_obf() {
    let mut r = rig();
    for _ in 0..3 {
        r.dev.read(DATA);
        assert_eq!(r.status() & OBF, 0);
    }
}

#[test]
fn test_k1_status_auxdata_marks_only_aux_bytes() {
    let mut r = rig();
    r.command_data(0xD3, 0x5A);
    assert_eq!(r.status() & (OBF | AUXDATA), OBF | AUXDATA);
    r.dev.read(DATA);
    r.dev.press(Key::A).unwrap();
    assert_eq!(r.status() & (OBF | AUXDATA), OBF);
}

#[test]
fn test_k1_status_timeout_and_parity_clear_for_keyboard_bytes() {
    let mut r = rig();
    r.dev.press(Key::A).unwrap();
    assert_eq!(r.status() & (TIMEOUT | 0x80), 0);
}

#[test]
fn test_k1_status_cmd_bit_follows_last_written_port() {
    let mut r = rig();
    r.command(0xAE);
    assert_ne!(r.status() & CMDDAT, 0);
    r.dev.write(DATA, 0xF4);
    assert_eq!(r.status() & CMDDAT, 0);
}

// ---------------------------------------------------------------------------
// K2 — CTR read/write
// ---------------------------------------------------------------------------

#[test]
fn test_k2_read_ctr_returns_configured_byte_without_auxdata() {
    let mut r = rig();
    r.command(0x20);
    assert_eq!(r.status() & (OBF | AUXDATA), OBF);
    assert_eq!(r.dev.read(DATA), CTR_DEFAULT);
}

#[test]
fn test_k2_read_ctr_is_stable() {
    let mut r = rig();
    assert_eq!(r.read_ctr(), r.read_ctr());
}

#[test]
fn test_k2_write_ctr_data_byte_does_not_reach_keyboard() {
    let mut r = rig();
    // 0xF4 would be "enable" (answered FA) if it went to the keyboard.
    r.command_data(0x60, 0xF4);
    assert_eq!(r.drain(), Vec::<u8>::new());
    assert_eq!(r.read_ctr(), 0xF4);
}

#[test]
fn test_k2_controller_ram_bytes_read_back() {
    let mut r = rig();
    r.command_data(0x7F, 0xA5); // RAM byte 31
    r.command(0x3F);
    assert_eq!(r.dev.read(DATA), 0xA5);
}

// ---------------------------------------------------------------------------
// K3 — flushing, 16-byte bound
// ---------------------------------------------------------------------------

#[test]
fn test_k3_flush_empties_a_full_controller_within_16_reads() {
    let mut r = rig();
    while r.dev.press(Key::A).is_ok() {}
    // The guest asks for more than fits without reading anything.
    for _ in 0..8 {
        r.dev.write(DATA, 0xF2);
    }
    assert!(r.dev.queued() <= 16);
    let mut reads = 0;
    while r.status() & OBF != 0 {
        r.dev.read(DATA);
        reads += 1;
        assert!(reads <= 16, "Linux's i8042_flush gives up after 16");
    }
}

#[test]
fn test_k3_host_injection_beyond_room_is_refused_whole() {
    let mut r = raw_rig();
    let free = r.dev.input_free();
    assert_eq!(free, 12, "16 minus 4 reserved for replies");
    for _ in 0..4 {
        r.dev.tap(Key::A).unwrap(); // 1C F0 1C: 3 bytes
    }
    // 12 - 3*4 = 0 left after four taps; the fifth must fail.
    assert_eq!(
        r.dev.tap(Key::A),
        Err(I8042Error::QueueFull { needed: 3, free: 0 })
    );
}

// ---------------------------------------------------------------------------
// K4 — one byte per IRQ1 edge, gated by CTR
// ---------------------------------------------------------------------------

#[test]
fn test_k4_each_keyboard_byte_gets_its_own_irq1_edge() {
    let mut r = raw_rig();
    r.dev.tap(Key::A).unwrap(); // 3 bytes: 1C F0 1C
    let mut bytes = Vec::new();
    while r.irq1.level() {
        bytes.push(r.dev.read(DATA));
    }
    assert_eq!(bytes, [0x1C, 0xF0, 0x1C]);
    assert_eq!(r.irq1.raises(), 3);
    assert_eq!(r.irq1.lowers(), 3);
    assert_eq!(r.irq1.redundant(), 0);
}

#[test]
fn test_k4_irq1_needs_ctr_kbdint() {
    let mut r = rig();
    r.command_data(0x60, CTR_DEFAULT & !KBDINT);
    r.dev.press(Key::A).unwrap();
    assert_eq!(r.irq1.raises(), 0);
    assert_ne!(r.status() & OBF, 0, "still readable by polling");
}

#[test]
fn test_k4_kbddis_holds_keyboard_bytes_until_enabled() {
    let mut r = rig();
    r.command(0xAD);
    r.dev.press(Key::A).unwrap();
    assert_eq!(r.status() & OBF, 0);
    assert_eq!(r.irq1.raises(), 0);
    r.command(0xAE);
    assert_eq!(r.irq1.raises(), 1);
    assert_eq!(r.dev.read(DATA), 0x1E);
}

#[test]
fn test_k4_enabling_kbdint_with_byte_pending_raises_irq1() {
    let mut r = rig();
    r.command_data(0x60, CTR_DEFAULT & !KBDINT);
    r.dev.press(Key::A).unwrap();
    r.command_data(0x60, CTR_DEFAULT);
    assert!(r.irq1.level());
}

// ---------------------------------------------------------------------------
// K5 — keyboard command protocol
// ---------------------------------------------------------------------------

#[test]
fn test_k5_getid_raw_answers_fa_ab_83() {
    let mut r = raw_rig();
    assert_eq!(r.kbd(&[0xF2]), [0xFA, 0xAB, 0x83]);
}

#[test]
fn test_k5_getid_translated_answers_fa_ab_41() {
    let mut r = rig();
    assert_eq!(r.kbd(&[0xF2]), [0xFA, 0xAB, 0x41]);
}

#[test]
fn test_k5_set_leds_acks_command_and_parameter() {
    let mut r = rig();
    assert_eq!(r.kbd(&[0xED, 0x07]), [0xFA, 0xFA]);
    assert_eq!(r.dev.leds(), 0x07);
    assert_eq!(r.counters.led_changes(), 1);
}

#[test]
fn test_k5_set_typematic_acks_command_and_parameter() {
    let mut r = rig();
    assert_eq!(r.kbd(&[0xF3, 0x00]), [0xFA, 0xFA]);
}

#[test]
fn test_k5_enable_disable_default_each_ack() {
    let mut r = rig();
    assert_eq!(r.kbd(&[0xF5, 0xF4, 0xF6]), [0xFA, 0xFA, 0xFA]);
}

#[test]
fn test_k5_reset_answers_ack_then_bat_ok() {
    let mut r = rig();
    assert_eq!(r.kbd(&[0xFF]), [0xFA, 0xAA]);
}

#[test]
fn test_k5_get_scancode_set_raw_answers_ack_2() {
    let mut r = raw_rig();
    assert_eq!(r.kbd(&[0xF0, 0x00]), [0xFA, 0xFA, 0x02]);
}

#[test]
fn test_k5_get_scancode_set_translated_answers_translated_2() {
    let mut r = rig();
    // The controller translates the keyboard's 0x02 like any byte: 0x41.
    assert_eq!(r.kbd(&[0xF0, 0x00]), [0xFA, 0xFA, 0x41]);
}

#[test]
fn test_k5_set_scancode_set_2_acks() {
    let mut r = raw_rig();
    assert_eq!(r.kbd(&[0xF0, 0x02]), [0xFA, 0xFA]);
}

#[test]
fn test_k5_set_scancode_set_3_is_refused_and_set_2_kept() {
    let mut r = raw_rig();
    assert_eq!(r.kbd(&[0xF0, 0x03]), [0xFA, 0xFE]);
    assert_eq!(r.kbd(&[0xF0, 0x00]), [0xFA, 0xFA, 0x02]);
}

#[test]
fn test_k5_echo_answers_ee_without_ack() {
    let mut r = rig();
    assert_eq!(r.kbd(&[0xEE]), [0xEE]);
}

#[test]
fn test_k5_unknown_command_answers_resend() {
    let mut r = rig();
    assert_eq!(r.kbd(&[0x42]), [0xFE]);
    assert_eq!(r.counters.unknown_keyboard_commands(), 1);
}

#[test]
fn test_k5_resend_repeats_last_byte_sent() {
    let mut r = raw_rig();
    r.kbd(&[0xF2]); // last sent: 0x83
    assert_eq!(r.kbd(&[0xFE]), [0x83]);
}

#[test]
fn test_k5_disabled_scanning_refuses_keys() {
    let mut r = rig();
    r.kbd(&[0xF5]);
    assert_eq!(r.dev.press(Key::A), Err(I8042Error::ScanningDisabled));
    r.kbd(&[0xF4]);
    assert_eq!(r.dev.press(Key::A), Ok(()));
}

#[test]
fn test_k5_enable_discards_pending_scan_codes() {
    let mut r = rig();
    r.command(0xAD);
    r.dev.press(Key::A).unwrap();
    r.command(0xAE);
    // The byte already in the output buffer stays; the queue is cleared.
    r.dev.press(Key::B).unwrap();
    r.dev.write(DATA, 0xF4);
    assert_eq!(r.drain(), [0x1E, 0xFA]);
    assert_eq!(r.counters.output_flushed(), 1);
}

// ---------------------------------------------------------------------------
// K6 — scan codes match CTR.XLATE
// ---------------------------------------------------------------------------

#[test]
fn test_k6_translated_mode_sends_set1_make_and_break() {
    let mut r = rig();
    r.dev.tap(Key::A).unwrap();
    assert_eq!(r.drain(), [0x1E, 0x9E]);
}

#[test]
fn test_k6_raw_mode_sends_set2_make_and_break() {
    let mut r = raw_rig();
    r.dev.tap(Key::A).unwrap();
    assert_eq!(r.drain(), [0x1C, 0xF0, 0x1C]);
}

#[test]
fn test_k6_ctrl_alt_del_raw_matches_table() {
    let mut r = raw_rig();
    r.dev.ctrl_alt_del().unwrap();
    assert_eq!(
        r.drain(),
        [0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14]
    );
}

#[test]
fn test_k6_ctrl_alt_del_translated_matches_table() {
    let mut r = rig();
    r.dev.ctrl_alt_del().unwrap();
    assert_eq!(r.drain(), [0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D]);
}

#[test]
fn test_k6_ctrl_alt_del_keyboard_set1_without_xlate_matches_translated_table() {
    let mut r = raw_rig();
    r.kbd(&[0xF0, 0x01]);
    r.dev.ctrl_alt_del().unwrap();
    assert_eq!(r.drain(), [0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D]);
}

#[test]
fn test_k6_extended_arrow_translated() {
    let mut r = rig();
    r.dev.tap(Key::Up).unwrap();
    assert_eq!(r.drain(), [0xE0, 0x48, 0xE0, 0xC8]);
}

#[test]
fn test_k6_print_screen_raw_sequence() {
    let mut r = raw_rig();
    r.dev.tap(Key::PrintScreen).unwrap();
    assert_eq!(
        r.drain(),
        [0xE0, 0x12, 0xE0, 0x7C, 0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12]
    );
}

#[test]
fn test_k6_pause_translated_sequence_and_no_break() {
    let mut r = rig();
    r.dev.press(Key::Pause).unwrap();
    r.dev.release(Key::Pause).unwrap();
    assert_eq!(r.drain(), [0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5]);
}

#[test]
fn test_k6_f7_make_code_translated() {
    let mut r = rig();
    r.dev.press(Key::F7).unwrap();
    assert_eq!(r.drain(), [0x41]);
}

#[test]
fn test_k6_set1_injection_reaches_raw_guest_as_set2() {
    let mut r = raw_rig();
    r.dev.inject_set1(&[0x1D, 0x9D]).unwrap(); // Left Ctrl down, up
    assert_eq!(r.drain(), [0x14, 0xF0, 0x14]);
}

#[test]
fn test_k6_unknown_set1_byte_is_refused() {
    let mut r = raw_rig();
    // Set-1 0x00 has no set-2 source (only set-2 0x00 -> 0xFF).
    assert_eq!(
        r.dev.inject_set1(&[0x1E, 0x00]),
        Err(I8042Error::UnknownScanCode(0x00))
    );
    assert_eq!(r.drain(), Vec::<u8>::new());
}

// ---------------------------------------------------------------------------
// K7 — controller commands, reset
// ---------------------------------------------------------------------------

#[test]
fn test_k7_pulse_reset_fe_triggers_reset() {
    let mut r = rig();
    r.command(0xFE);
    assert_eq!(r.reset.raises(), 1);
    assert_eq!(r.counters.resets_requested(), 1);
}

#[test]
fn test_k7_pulse_f0_also_pulses_reset_line() {
    let mut r = rig();
    r.command(0xF0); // bit 0 clear: line 0 pulsed
    assert_eq!(r.reset.raises(), 1);
}

#[test]
fn test_k7_pulse_ff_is_a_no_op() {
    let mut r = rig();
    r.command(0xFF);
    assert_eq!(r.reset.raises(), 0);
}

#[test]
fn test_k7_output_port_write_with_bit0_clear_resets() {
    let mut r = rig();
    r.command_data(0xD1, 0xFE);
    assert_eq!(r.reset.raises(), 1);
}

#[test]
fn test_k7_output_port_records_a20() {
    let mut r = rig();
    r.command_data(0xD1, 0xDD); // A20 off, reset high
    assert!(!r.dev.a20_enabled());
    r.command_data(0xD1, 0xDF); // A20 on
    assert!(r.dev.a20_enabled());
    assert_eq!(r.counters.a20_changes(), 2);
    assert_eq!(r.reset.raises(), 0);
}

#[test]
fn test_k7_read_output_port_shows_a20_and_reset_high() {
    let mut r = rig();
    r.command(0xD0);
    assert_eq!(r.dev.read(DATA) & 0x03, 0x03);
}

#[test]
fn test_k7_kbd_disable_enable_toggle_ctr_bit4() {
    let mut r = rig();
    r.command(0xAD);
    assert_eq!(r.read_ctr() & KBDDIS, KBDDIS);
    r.command(0xAE);
    assert_eq!(r.read_ctr() & KBDDIS, 0);
}

#[test]
fn test_k7_aux_disable_enable_toggle_ctr_bit5() {
    let mut r = rig();
    r.command(0xA8);
    assert_eq!(r.read_ctr() & AUXDIS, 0);
    r.command(0xA7);
    assert_eq!(r.read_ctr() & AUXDIS, AUXDIS);
}

#[test]
fn test_k7_self_test_answers_55() {
    let mut r = rig();
    r.command(0xAA);
    assert_eq!(r.dev.read(DATA), 0x55);
}

#[test]
fn test_k7_self_test_disables_ports_and_keeps_xlate() {
    let mut r = rig();
    r.command(0xAA);
    r.dev.read(DATA);
    // XLATE | KBDDIS | AUXDIS | SYS
    assert_eq!(r.read_ctr(), 0x74);
}

#[test]
fn test_k7_kbd_interface_test_answers_00() {
    let mut r = rig();
    r.command(0xAB);
    assert_eq!(r.dev.read(DATA), 0x00);
}

#[test]
fn test_k7_unknown_command_is_ignored_and_counted() {
    let mut r = rig();
    r.command(0xB7);
    assert_eq!(r.status() & OBF, 0);
    assert_eq!(r.counters.unknown_commands(), 1);
}

#[test]
fn test_k7_write_kbd_obuf_d2_looks_like_keyboard_byte() {
    let mut r = rig();
    r.command_data(0xD2, 0x42);
    assert_eq!(r.status() & (OBF | AUXDATA), OBF);
    assert!(r.irq1.level());
    assert_eq!(r.dev.read(DATA), 0x42);
}

// ---------------------------------------------------------------------------
// K8 — auxiliary port
// ---------------------------------------------------------------------------

#[test]
fn test_k8_aux_loopback_echoes_with_auxdata() {
    let mut r = rig();
    r.command_data(0xD3, 0x5A);
    assert_eq!(r.status() & (OBF | AUXDATA), OBF | AUXDATA);
    assert_eq!(r.dev.read(DATA), 0x5A);
}

#[test]
fn test_k8_aux_loopback_raises_irq12_only_with_auxint() {
    let mut r = rig();
    r.command_data(0xD3, 0x5A);
    assert_eq!(r.irq12.raises(), 0, "AUXINT clear");
    r.dev.read(DATA);
    r.command_data(0x60, (CTR_DEFAULT | AUXINT) & !AUXDIS);
    r.command_data(0xD3, 0xA5);
    assert_eq!(r.irq12.raises(), 1);
    assert_eq!(r.irq1.raises(), 0, "not on IRQ1");
}

#[test]
fn test_k8_aux_test_answers_00() {
    let mut r = rig();
    r.command(0xA9);
    assert_eq!(r.dev.read(DATA), 0x00);
}

#[test]
fn test_k8_mux_probe_gets_plain_echo_of_a4() {
    let mut r = rig();
    let mut got = Vec::new();
    for b in [0xF0, 0x56, 0xA4] {
        r.command_data(0xD3, b);
        got.push(r.dev.read(DATA));
    }
    assert_eq!(got, [0xF0, 0x56, 0xA4], "0xA4 echoed = no MUX");
}

#[test]
fn test_k8_aux_send_without_mouse_answers_fe_with_timeout() {
    let mut r = rig();
    r.command_data(0xD4, 0xF2);
    assert_eq!(
        r.status() & (OBF | AUXDATA | TIMEOUT),
        OBF | AUXDATA | TIMEOUT
    );
    assert_eq!(r.dev.read(DATA), 0xFE);
    assert_eq!(r.status() & TIMEOUT, 0, "the flag goes with the byte");
    assert_eq!(r.counters.aux_no_device(), 1);
}

// ---------------------------------------------------------------------------
// K9 — timing: replies are there when the write returns
// ---------------------------------------------------------------------------

#[test]
fn test_k9_every_reply_is_ready_when_the_write_returns() {
    let mut r = rig();
    for cmd in [0x20, 0xA9, 0xAA, 0xAB, 0xC0, 0xD0] {
        r.command(cmd);
        assert_ne!(r.status() & OBF, 0, "command {cmd:#x}");
        r.dev.read(DATA);
    }
    r.command(0xAE); // the self-test disabled the keyboard interface
    r.dev.write(DATA, 0xF2);
    assert_ne!(r.status() & OBF, 0);
}

// ---------------------------------------------------------------------------
// K10 — guest command-line variants (full transcripts in linux_probe.rs)
// ---------------------------------------------------------------------------

#[test]
fn test_k10_every_cmdline_variant_finds_the_keyboard() {
    use common::{boot_linux, Params};
    let d = Params::default();
    let variants = [
        ("default", d),
        ("i8042.nopnp", Params { nopnp: true, ..d }),
        ("i8042.noaux", Params { noaux: true, ..d }),
        ("i8042.nomux", Params { nomux: true, ..d }),
        ("i8042.dumbkbd", Params { dumbkbd: true, ..d }),
        ("i8042.direct", Params { direct: true, ..d }),
        ("i8042.reset", Params { reset: true, ..d }),
    ];
    for (name, p) in variants {
        let l = boot_linux(I8042Config::default(), true, p);
        assert!(l.out.kbd_port, "{name}");
        assert!(l.out.keyboard.is_some(), "{name}: {:?}", l.out.log);
        assert_eq!(l.out.wasted_ms, 0, "{name}");
    }
}

// ---------------------------------------------------------------------------
// Registers outside the i8042, bus, events, reset
// ---------------------------------------------------------------------------

#[test]
fn test_registers_1_to_3_read_ff_and_are_counted() {
    let mut r = rig();
    for reg in 1..=3 {
        assert_eq!(r.dev.read(reg), 0xFF);
        r.dev.write(reg, 0x00);
    }
    assert_eq!(r.counters.invalid_accesses(), 6);
    assert_eq!(r.read_ctr(), CTR_DEFAULT, "writes ignored");
}

#[test]
fn test_pio_bus_maps_0x60_to_0x64() {
    let mut bus = PioBytes::new(I8042::new(RecordingIrq::new(), RecordingIrq::new()));
    bus.write(4, &[0x20]);
    let mut v = [0u8];
    bus.read(0, &mut v);
    assert_eq!(v, [CTR_DEFAULT]);
    bus.read(5, &mut v); // beyond 0x64
    assert_eq!(bus.stats().invalid_offset, 1);
}

#[test]
fn test_output_empty_event_after_last_byte_read() {
    #[derive(Debug, Default)]
    struct Empty(std::cell::Cell<u32>);
    impl superio_i8042::I8042Events for Empty {
        fn output_empty(&self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let mut dev = I8042::with_config(
        RecordingIrq::new(),
        RecordingIrq::new(),
        Empty::default(),
        I8042Config::raw(),
    );
    dev.tap(Key::A).unwrap();
    dev.read(DATA);
    dev.read(DATA);
    assert_eq!(dev.events().0.get(), 0);
    dev.read(DATA);
    assert_eq!(dev.events().0.get(), 1);
}

#[test]
fn test_second_controller_reply_before_read_replaces_first_and_is_counted() {
    let mut r = rig();
    r.dev.press(Key::A).unwrap(); // occupies the output buffer
    r.command(0x20); // CTR reply waits behind the key
    r.command(0xAB); // its reply takes the single reply latch
    assert_eq!(r.counters.output_dropped(), 1);
    assert_eq!(r.drain(), [0x1E, 0x00]);
}

#[test]
fn test_reset_restores_power_on_state_and_lowers_irq() {
    let mut r = rig();
    r.command_data(0x60, 0x00);
    r.kbd(&[0xED, 0x07, 0xF0, 0x01]);
    r.command_data(0x60, CTR_DEFAULT);
    r.dev.press(Key::A).unwrap();
    assert!(r.irq1.level());
    r.dev.reset();
    assert!(!r.irq1.level());
    assert_eq!(r.status(), KEYLOCK | SYS);
    assert_eq!(r.read_ctr(), CTR_DEFAULT);
    assert_eq!(r.dev.leds(), 0);
    assert_eq!(r.dev.scan_code_set().number(), 2);
}

#[test]
fn test_failing_irq_sink_is_retried_on_next_access() {
    let mut r = rig();
    r.irq1.fail_next(1);
    r.dev.press(Key::A).unwrap();
    assert!(!r.irq1.level());
    assert_eq!(r.counters.interrupt_errors(), 1);
    r.status(); // a status read does not publish
    r.command(0xAE); // any write does
    assert!(r.irq1.level());
}

#[test]
fn test_failing_reset_sink_is_counted() {
    let mut r = rig();
    r.reset.fail_next(1);
    r.command(0xFE);
    assert_eq!(r.counters.reset_errors(), 1);
    r.command(0xFE);
    assert_eq!(r.reset.raises(), 1);
}

#[test]
fn test_xlate_off_keeps_ctr_bit_and_status() {
    let mut r = raw_rig();
    assert_eq!(r.read_ctr() & XLATE, 0);
}

#[test]
fn test_pulse_command_keeps_output_and_irq_but_cancels_pending_command() {
    // 0xF0-0xFF only pulse output lines: a byte waiting for the guest and
    // its IRQ1 stay, the command/data flag is set, and a command still
    // waiting for its data byte (0x60, write CTR) is cancelled.
    let mut r = rig();
    r.dev.press(Key::A).unwrap();
    assert!(r.irq1.level());
    r.dev.write(CMD, 0x60);
    r.command(0xFF); // pulses no line (bits 0-3 set)
    assert_eq!(r.status(), KEYLOCK | SYS | CMDDAT | OBF);
    assert!(r.irq1.level());
    assert_eq!(r.reset.raises(), 0);
    // The next data byte goes to the keyboard, not to the CTR.
    assert_eq!(r.drain(), vec![0x1E]);
    r.dev.write(DATA, 0xF4);
    assert_eq!(r.drain(), vec![0xFA], "the keyboard ACKs 0xF4");
    assert_eq!(r.read_ctr(), CTR_DEFAULT);
    r.command(0xFE);
    assert_eq!(r.reset.raises(), 1);
}
