//! Linux 6.1's i8042/atkbd/psmouse probe replayed against the controller,
//! for the default command line and the i8042.* / atkbd.* variants
//! (CONFORMANCE.md §2.3, §2.4, K8–K10). Each test asserts what Linux
//! concludes and that no driver timeout was hit.

mod common;

use common::*;
use superio_i8042::I8042Config;

const TRANSLATED: &str = "AT Translated Set 2 keyboard";
const RAW: &str = "AT Raw Set 2 keyboard";
/// GETID answer of an MF2 keyboard behind a translating controller: AB 83
/// with 83 translated to 41.
const ID_TRANSLATED: u16 = 0xab41;
const ID_RAW: u16 = 0xab83;

fn boot(p: Params) -> Linux {
    boot_linux(I8042Config::default(), true, p)
}

fn assert_clean(l: &Linux) {
    assert_eq!(l.out.wasted_ms, 0, "timeouts hit; log: {:?}", l.out.log);
    assert_eq!(l.out.spurious_irqs, 0, "interrupts without data");
    assert!(
        !l.out.log.iter().any(|s| s.contains("Keylock")
            || s.contains("Can't")
            || s.contains("Failed")
            || s.contains("No controller")),
        "{:?}",
        l.out.log
    );
}

#[test]
fn test_linux_default_cmdline_finds_translated_at_keyboard_without_timeouts() {
    let l = boot(Params::default());
    assert!(l.out.controller_found);
    assert!(l.out.kbd_port);
    assert!(l.out.translated);
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    assert_eq!(l.out.keyboard_id, ID_TRANSLATED);
    assert_clean(&l);
}

#[test]
fn test_linux_default_cmdline_registers_aux_port_without_mux() {
    let l = boot(Params::default());
    assert!(l.out.aux_port, "AUX loopback + IRQ12 test passed");
    assert!(!l.out.mux, "a plain echo of 0xA4 means no MUX");
    assert!(l
        .out
        .log
        .iter()
        .any(|s| s == "serio: i8042 AUX port at 0x60,0x64 irq 12"));
}

#[test]
fn test_linux_default_cmdline_psmouse_gives_up_at_once_without_mouse() {
    let l = boot(Params::default());
    assert!(!l.out.mouse);
    // One GETID sent through 0xD4, answered 0xFE with TIMEOUT: no wait.
    assert_eq!(l.m.counters.aux_no_device(), 1);
    assert_eq!(l.out.wasted_ms, 0);
}

#[test]
fn test_linux_default_cmdline_keeps_bios_ctr_as_initial() {
    let l = boot(Params::default());
    // KBDINT | SYS | AUXDIS | XLATE, what the controller was configured with.
    assert_eq!(l.out.initial_ctr, 0x65);
}

#[test]
fn test_linux_default_cmdline_ends_with_kbd_and_aux_enabled_translated() {
    let l = boot(Params::default());
    let ctr = l.m.dev.ctr();
    assert_eq!(ctr & (CTR_KBDDIS | CTR_AUXDIS), 0);
    assert_eq!(ctr & (CTR_KBDINT | CTR_AUXINT), CTR_KBDINT | CTR_AUXINT);
    assert_ne!(ctr & CTR_XLATE, 0);
}

#[test]
fn test_linux_default_cmdline_probe_sequence_matches_driver() {
    let l = boot(Params::default());
    let t = l.m.trace.join(" ");
    // i8042_controller_init: two CTR reads, then CTR written with KBDDIS set
    // and KBDINT clear (0x65 -> 0x74).
    assert!(
        t.contains("64<-20 64->1d 60->65 64->1c 64<-20 64->1d 60->65"),
        "{t}"
    );
    assert!(t.contains("64<-60 64->1c 60<-74"), "{t}");
    // AUX loopback probe: D3 5A echoed with AUXDATA (status 0x35 =
    // OBF | SYS | KEYLOCK | AUXDATA).
    assert!(
        t.contains("64<-d3 64->1c 60<-5a 64->35 64->35 60->5a"),
        "{t}"
    );
    // MUX probe: F0, 56, A4 all echoed.
    assert!(t.contains("60<-a4 64->35 64->35 60->a4"), "{t}");
    // atkbd: GETID answered FA AB 41 (translated), one byte per IRQ1.
    assert!(
        t.contains("60<-f2 64->15 60->fa 64->15 60->ab 64->15 60->41"),
        "{t}"
    );
}

#[test]
fn test_linux_nopnp_finds_translated_at_keyboard() {
    let l = boot(Params {
        nopnp: true,
        ..Params::default()
    });
    assert!(l.out.log.iter().any(|s| s == "PNP detection disabled"));
    assert!(l.out.kbd_port && l.out.aux_port);
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    assert_clean(&l);
}

#[test]
fn test_linux_noaux_skips_aux_and_finds_keyboard() {
    let l = boot(Params {
        noaux: true,
        ..Params::default()
    });
    assert!(!l.out.aux_port);
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    assert!(!l.m.trace.iter().any(|s| s == "64<-d3"), "no AUX traffic");
    assert_clean(&l);
}

#[test]
fn test_linux_nomux_registers_plain_aux_port() {
    let l = boot(Params {
        nomux: true,
        ..Params::default()
    });
    assert!(l.out.aux_port);
    assert!(!l.out.mux);
    assert!(!l.m.trace.iter().any(|s| s == "60<-a4"), "no MUX probe");
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    assert_clean(&l);
}

#[test]
fn test_linux_dumbkbd_registers_keyboard_without_commands() {
    let l = boot(Params {
        dumbkbd: true,
        ..Params::default()
    });
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    assert_eq!(l.out.keyboard_id, 0xab00);
    assert!(
        !l.m.trace.iter().any(|s| s == "60<-f5" || s == "60<-f4"),
        "no keyboard command sent"
    );
    assert_clean(&l);
}

#[test]
fn test_linux_direct_clears_xlate_and_finds_raw_keyboard() {
    let l = boot(Params {
        direct: true,
        ..Params::default()
    });
    assert!(!l.out.translated);
    assert_eq!(l.out.keyboard.as_deref(), Some(RAW));
    assert_eq!(l.out.keyboard_id, ID_RAW);
    assert_eq!(l.m.dev.ctr() & CTR_XLATE, 0);
    assert_clean(&l);
}

#[test]
fn test_linux_reset_self_test_passes_and_keyboard_stays_translated() {
    let l = boot(Params {
        reset: true,
        ..Params::default()
    });
    assert!(l
        .m
        .trace
        .windows(3)
        .any(|w| w == ["64<-aa", "64->1d", "60->55"]));
    assert!(l.out.controller_found);
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    assert_clean(&l);
}

#[test]
fn test_linux_atkbd_reset_gets_bat_and_costs_only_the_second_byte_wait() {
    let l = boot(Params {
        atkbd_reset: true,
        ..Params::default()
    });
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    // FF -> FA AA. libps2 then waits its shortened 100 ms for a mouse's
    // second byte, exactly as with a real keyboard.
    assert_eq!(l.out.wasted_ms, 100);
}

#[test]
fn test_linux_firecracker_cmdline_finds_keyboard() {
    let l = boot_linux(
        I8042Config::default(),
        false,
        Params {
            noaux: true,
            nomux: true,
            nopnp: true,
            dumbkbd: true,
            ..Params::default()
        },
    );
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    assert_clean(&l);
}

#[test]
fn test_linux_raw_config_finds_raw_set2_keyboard() {
    let l = boot_linux(I8042Config::raw(), true, Params::default());
    assert!(!l.out.translated);
    assert_eq!(l.out.keyboard.as_deref(), Some(RAW));
    assert_eq!(l.out.keyboard_id, ID_RAW);
    assert_clean(&l);
}

#[test]
fn test_linux_without_irq12_sink_waits_aux_irq_test_then_drops_aux() {
    // Documented cost of not wiring IRQ12: the 250 ms IRQ delivery test.
    let l = boot_linux(I8042Config::default(), false, Params::default());
    assert!(!l.out.aux_port);
    assert_eq!(l.out.keyboard.as_deref(), Some(TRANSLATED));
    assert_eq!(l.out.wasted_ms, 250);
}

#[test]
fn test_linux_ctrl_alt_del_reaches_atkbd_as_translated_set1() {
    let mut l = boot(Params::default());
    l.m.dev.ctrl_alt_del().unwrap();
    // CONFORMANCE.md §2.5, translated row.
    assert_eq!(
        l.take_keyboard_bytes(),
        [0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]
    );
}

#[test]
fn test_linux_direct_ctrl_alt_del_reaches_atkbd_as_raw_set2() {
    let mut l = boot(Params {
        direct: true,
        ..Params::default()
    });
    l.m.dev.ctrl_alt_del().unwrap();
    // CONFORMANCE.md §2.5, raw row.
    assert_eq!(
        l.take_keyboard_bytes(),
        [0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14]
    );
}

#[test]
fn test_linux_reboot_k_after_shutdown_requests_reset() {
    let mut l = boot(Params::default());
    l.shutdown_and_reboot();
    assert_eq!(l.m.reset.raises(), 10, "one request per 0xFE");
    assert_eq!(l.m.counters.resets_requested(), 10);
    // i8042_controller_reset restored the initial CTR.
    assert_eq!(l.m.dev.ctr(), 0x65);
}

#[test]
fn test_linux_led_update_is_acked_and_recorded() {
    let mut l = boot(Params::default());
    // The VT turns Caps Lock on: ED 04.
    let mut p = [0x04];
    l.ps2_command(Port::Kbd, &mut p, ATKBD_CMD_SETLEDS).unwrap();
    assert_eq!(l.m.dev.leds(), 0x04);
    assert_eq!(l.out.wasted_ms, 0);
}
