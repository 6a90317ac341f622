//! One or more tests per CONFORMANCE.md §3.6 item (R1–R10), named after it.
//! Expected values are the TRM's (DDI 0224C, Table 3.1) and Linux's
//! (`drivers/amba/bus.c`, `drivers/rtc/rtc-pl031.c`), written out here.

mod common;

use std::time::Duration;

use common::*;
use superio_core::test_utils::RecordingIrq;
use superio_core::BusDevice;
use superio_pl031::fdt::{pl031_node, Pl031NodeConfig, PropValue};
use superio_pl031::{NoEvents, Pl031, RestorePolicy};

// ---- R1: 32-bit MMIO window, IDs, undefined offsets ----

#[test]
fn test_r1_id_registers_read_trm_reset_values() {
    let mut rig = Rig::at_secs(T0);
    // Table 3.1: RTCPeriphID0-3 then RTCPCellID0-3.
    let expected: [(u64, u32); 8] = [
        (0xFE0, 0x31),
        (0xFE4, 0x10),
        (0xFE8, 0x04),
        (0xFEC, 0x00),
        (0xFF0, 0x0D),
        (0xFF4, 0xF0),
        (0xFF8, 0x05),
        (0xFFC, 0xB1),
    ];
    for (offset, value) in expected {
        assert_eq!(rig.rd(offset), value, "offset {offset:#x}");
    }
}

#[test]
fn test_r1_ids_satisfy_linux_amba_match() {
    let mut rig = Rig::at_secs(T0);
    // amba_read_periphid: size - 0x20 + 4i and size - 0x10 + 4i, bits 7:0 each.
    let size = 0x1000u64;
    let mut pid = 0u32;
    let mut cid = 0u32;
    for i in 0..4u64 {
        pid |= (rig.rd(size - 0x20 + 4 * i) & 0xFF) << (8 * i);
        cid |= (rig.rd(size - 0x10 + 4 * i) & 0xFF) << (8 * i);
    }
    assert_eq!(cid, 0xB105_F00D); // AMBA_CID
    assert_eq!(pid & 0x000F_FFFF, 0x0004_1031); // pl031_ids, ARM variant
    assert_ne!((pid >> 12) & 0xFF, 0x80); // never the ST designer
}

#[test]
fn test_r1_undefined_offsets_read_zero_and_ignore_writes() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, 0x1234);
    // Reserved space, the ST-only registers, and the gap before the IDs.
    let reserved = [
        0x020u64, 0x024, 0x028, 0x030, 0x034, 0x038, 0x080, 0x400, 0xFDC,
    ];
    for offset in reserved {
        rig.wr(offset, 0xFFFF_FFFF);
        assert_eq!(rig.rd(offset), 0, "offset {offset:#x}");
    }
    assert_eq!(rig.rd(MR), 0x1234);
    assert_eq!(rig.rd(IMSC), 0);
    assert_eq!(rig.rd(DR), T0 as u32);
    assert_eq!(rig.counters.invalid_reads(), reserved.len() as u64);
    assert_eq!(rig.counters.invalid_writes(), reserved.len() as u64);
}

#[test]
fn test_r1_writes_to_read_only_registers_are_ignored() {
    let mut rig = Rig::at_secs(T0);
    for offset in [DR, RIS, MIS, 0xFE0, 0xFF0] {
        rig.wr(offset, 0xFFFF_FFFF);
    }
    assert_eq!(rig.rd(DR), T0 as u32);
    assert_eq!(rig.rd(RIS), 0);
    assert_eq!(rig.rd(MIS), 0);
    assert_eq!(rig.rd(0xFE0), 0x31);
    assert_eq!(rig.rd(0xFF0), 0x0D);
    assert_eq!(rig.counters.invalid_writes(), 5);
}

#[test]
fn test_r1_icr_is_write_only_and_reads_zero() {
    let mut rig = Rig::at_secs(T0);
    assert_eq!(rig.rd(ICR), 0);
    assert_eq!(rig.counters.invalid_reads(), 1);
}

#[test]
fn test_r1_narrow_and_misaligned_accesses_are_refused() {
    let mut rig = Rig::at_secs(T0);
    let mut byte = [0xEEu8; 1];
    rig.bus.read(0xFF0, &mut byte);
    assert_eq!(byte, [0]);
    let mut half = [0xEEu8; 2];
    rig.bus.read(DR, &mut half);
    assert_eq!(half, [0, 0]);
    rig.bus.write(LR, &[1, 2]);
    let mut word = [0xEEu8; 4];
    rig.bus.read(DR + 1, &mut word);
    assert_eq!(word, [0; 4]);
    assert_eq!(rig.bus.stats().invalid_width, 3);
    assert_eq!(rig.bus.stats().invalid_offset, 1);
    assert_eq!(rig.rd(DR), T0 as u32); // the 2-byte LR write did not load
}

#[test]
fn test_r1_whole_window_decodes_without_panic() {
    let mut rig = Rig::at_secs(T0);
    for offset in (0..0x1000u64).step_by(4) {
        rig.rd(offset);
        rig.wr(offset, 0xFFFF_FFFF);
    }
    // The writes included RTCLR (load 0xFFFFFFFF) and RTCIMSC (enable).
    assert_eq!(rig.rd(LR), 0xFFFF_FFFF);
    assert_eq!(rig.rd(IMSC), 1);
}

// ---- R2: DR = host UTC at creation, 1 Hz, wraps at u32 ----

#[test]
fn test_r2_dr_starts_at_clock_utc_seconds() {
    let mut rig = Rig::at_ns(T0 * NS + 700_000_000);
    assert_eq!(rig.rd(DR), 1_700_000_000);
}

#[test]
fn test_r2_dr_advances_once_per_second() {
    let mut rig = Rig::at_secs(T0);
    rig.advance(Duration::from_millis(999));
    assert_eq!(rig.rd(DR), 1_700_000_000);
    rig.advance(Duration::from_millis(1));
    assert_eq!(rig.rd(DR), 1_700_000_001);
    rig.advance(Duration::from_secs(59));
    assert_eq!(rig.rd(DR), 1_700_000_060);
}

#[test]
fn test_r2_dr_wraps_from_u32_max_to_zero() {
    let mut rig = Rig::at_secs(0xFFFF_FFFF);
    assert_eq!(rig.rd(DR), 0xFFFF_FFFF);
    rig.advance(Duration::from_secs(1));
    assert_eq!(rig.rd(DR), 0);
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.rd(DR), 5);
}

#[test]
fn test_r2_default_device_reads_host_utc() {
    let host_before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut rtc = Pl031::new(RecordingIrq::new());
    let dr = u64::from(rtc.read(0x000));
    let host_after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((host_before..=host_after).contains(&dr));
}

// ---- R3: LR loads the counter, reads back, persists ----

#[test]
fn test_r3_lr_write_sets_dr_immediately_and_reads_back() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(LR, 1_000);
    assert_eq!(rig.rd(DR), 1_000);
    assert_eq!(rig.rd(LR), 1_000);
    rig.advance(Duration::from_secs(7));
    assert_eq!(rig.rd(DR), 1_007);
    assert_eq!(rig.rd(LR), 1_000);
}

#[test]
fn test_r3_lr_write_mid_second_restarts_the_second() {
    // Linux's RTC core assumes "increment seconds exactly one second after the write".
    let mut rig = Rig::at_ns(T0 * NS + 700_000_000);
    rig.wr(LR, 500);
    rig.advance_ns(NS - 1);
    assert_eq!(rig.rd(DR), 500);
    rig.advance_ns(1);
    assert_eq!(rig.rd(DR), 501);
}

#[test]
fn test_r3_lr_offset_persists_across_cr_writes() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(LR, 42);
    rig.wr(CR, 1);
    rig.advance(Duration::from_secs(3));
    rig.wr(CR, 1);
    assert_eq!(rig.rd(DR), 45);
}

// ---- R4: CR reads 1; CR writes never move time ----

#[test]
fn test_r4_cr_reads_enabled() {
    let mut rig = Rig::at_secs(T0);
    assert_eq!(rig.rd(CR) & 1, 1);
    let probed = rig.rd(CR) | 1; // pl031_probe: writel(readl(CR) | RTC_CR_EN)
    rig.wr(CR, probed);
    assert_eq!(rig.rd(CR), 1);
}

#[test]
fn test_r4_cr_writes_never_change_dr() {
    // Regression: vm-superio reset the counter to 0 on CR <- 1.
    let mut rig = Rig::at_secs(T0);
    rig.wr(LR, 123_456);
    for value in [1u32, 0, 0xFFFF_FFFF, 2] {
        rig.wr(CR, value);
        assert_eq!(rig.rd(DR), 123_456, "CR <- {value:#x}");
    }
    assert_eq!(rig.rd(CR), 1);
}

// ---- R5: match after k seconds, MIS, ICR ----

#[test]
fn test_r5_match_after_k_seconds_raises_then_icr_lowers() {
    let mut rig = Rig::at_secs(T0);
    let now = rig.rd(DR);
    rig.wr(MR, now + 5);
    rig.wr(IMSC, 1);
    rig.advance_ns(5 * NS - 1);
    assert_eq!(rig.rd(RIS), 0);
    assert!(!rig.irq.level());
    rig.advance_ns(1);
    assert_eq!(rig.rd(RIS), 1);
    assert_eq!(rig.rd(MIS), 1);
    assert!(rig.irq.level());
    assert_eq!(rig.rd(DR), now + 5);
    rig.wr(ICR, 1);
    assert_eq!(rig.rd(RIS), 0);
    assert_eq!(rig.rd(MIS), 0);
    assert!(!rig.irq.level());
    assert_eq!(
        (rig.irq.raises(), rig.irq.lowers(), rig.irq.redundant()),
        (1, 1, 0)
    );
}

#[test]
fn test_r5_ris_stays_set_until_icr() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, T0 as u32 + 1);
    rig.wr(IMSC, 1);
    rig.advance(Duration::from_secs(10));
    assert_eq!(rig.rd(RIS), 1);
    rig.wr(ICR, 0); // bit 0 clear: no effect
    assert_eq!(rig.rd(RIS), 1);
    assert!(rig.irq.level());
    rig.wr(ICR, 1);
    assert_eq!(rig.rd(RIS), 0);
}

// ---- R6: masked match ----

#[test]
fn test_r6_masked_match_sets_ris_but_not_mis_or_irq() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, T0 as u32 + 2);
    rig.advance(Duration::from_secs(2));
    assert_eq!(rig.rd(RIS), 1);
    assert_eq!(rig.rd(MIS), 0);
    assert!(!rig.irq.level());
    assert_eq!(rig.irq.raises(), 0);
}

#[test]
fn test_r6_unmasking_pending_match_asserts_immediately() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, T0 as u32 + 2);
    rig.advance(Duration::from_secs(3));
    rig.wr(IMSC, 1);
    assert_eq!(rig.rd(MIS), 1);
    assert!(rig.irq.level());
    rig.wr(IMSC, 0);
    assert!(!rig.irq.level());
    assert_eq!(rig.rd(RIS), 1);
}

// ---- R7: never early; MR <= DR does not fire now ----

#[test]
fn test_r7_irq_never_fires_before_dr_reaches_mr() {
    let mut rig = Rig::at_ns(T0 * NS + 300_000_000);
    let mr = T0 as u32 + 3;
    rig.wr(MR, mr);
    rig.wr(IMSC, 1);
    for _ in 0..40 {
        rig.advance(Duration::from_millis(100));
        let dr = rig.rd(DR);
        let ris = rig.rd(RIS);
        assert_eq!(ris == 1, dr >= mr, "DR {dr} MR {mr}");
        assert_eq!(rig.irq.level(), dr >= mr);
    }
}

#[test]
fn test_r7_mr_equal_to_dr_does_not_fire_immediately() {
    let mut rig = Rig::at_secs(T0);
    let now = rig.rd(DR);
    rig.wr(MR, now);
    rig.wr(IMSC, 1);
    assert_eq!(rig.rd(RIS), 0);
    rig.advance(Duration::from_secs(100));
    assert_eq!(rig.rd(RIS), 0);
    assert!(!rig.irq.level());
}

#[test]
fn test_r7_mr_in_the_past_does_not_fire() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, T0 as u32 - 10);
    rig.wr(IMSC, 1);
    rig.advance(Duration::from_secs(3600));
    assert_eq!(rig.rd(RIS), 0);
    assert_eq!(rig.counters.alarms_fired(), 0);
}

#[test]
fn test_r7_loading_lr_onto_mr_does_not_fire() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, 5_000);
    rig.wr(IMSC, 1);
    rig.wr(LR, 5_000);
    assert_eq!(rig.rd(DR), 5_000);
    assert_eq!(rig.rd(RIS), 0);
}

#[test]
fn test_r7_mr_equal_to_dr_fires_after_full_counter_wrap() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, T0 as u32);
    rig.wr(IMSC, 1);
    rig.advance_ns((1u64 << 32) * NS - 1);
    assert_eq!(rig.rd(RIS), 0);
    rig.advance_ns(1);
    assert_eq!(rig.rd(RIS), 1);
    assert_eq!(rig.rd(DR), T0 as u32);
}

// ---- R8: reset values ----

#[test]
fn test_r8_new_device_has_trm_reset_values() {
    let mut rig = Rig::at_secs(T0);
    assert_eq!(rig.rd(MR), 0);
    assert_eq!(rig.rd(LR), 0);
    assert_eq!(rig.rd(IMSC), 0);
    assert_eq!(rig.rd(RIS), 0);
    assert_eq!(rig.rd(MIS), 0);
}

#[test]
fn test_r8_reset_clears_alarm_state_and_keeps_time() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(LR, 9_000);
    rig.wr(MR, 9_001);
    rig.wr(IMSC, 1);
    rig.advance(Duration::from_secs(1));
    rig.dev().poll(); // the VMM's timer
    assert!(rig.irq.level());
    rig.dev().reset();
    assert!(!rig.irq.level());
    assert_eq!(rig.rd(MR), 0);
    assert_eq!(rig.rd(LR), 0);
    assert_eq!(rig.rd(IMSC), 0);
    assert_eq!(rig.rd(RIS), 0);
    assert_eq!(rig.rd(DR), 9_001);
}

// ---- R9: snapshot / restore ----

fn restore(
    rig: &mut Rig,
    policy: RestorePolicy,
) -> (
    Pl031<RecordingIrq, superio_pl031::ManualClock>,
    RecordingIrq,
) {
    let state = rig.dev().state();
    let irq = RecordingIrq::new();
    let dev = Pl031::from_state(&state, policy, irq.clone(), rig.clock.clone(), NoEvents).unwrap();
    (dev, irq)
}

#[test]
fn test_r9_restore_keeps_offset_mr_imsc_ris_and_reasserts_irq() {
    let mut rig = Rig::at_ns(T0 * NS + 250_000_000);
    rig.wr(LR, 77_000);
    rig.wr(MR, 77_002);
    rig.wr(IMSC, 1);
    rig.advance(Duration::from_secs(2));
    rig.dev().poll(); // the VMM's timer
    assert!(rig.irq.level());
    for policy in [RestorePolicy::FollowClock, RestorePolicy::Resume] {
        let (mut dev, irq) = restore(&mut rig, policy);
        assert!(irq.level(), "{policy:?}: MIS set, line must be re-asserted");
        assert_eq!(irq.raises(), 1);
        assert_eq!(dev.read(0x000), 77_002);
        assert_eq!(dev.read(0x004), 77_002);
        assert_eq!(dev.read(0x008), 77_000);
        assert_eq!(dev.read(0x010), 1);
        assert_eq!(dev.read(0x014), 1);
    }
}

#[test]
fn test_r9_follow_clock_restore_adds_time_spent_saved() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(LR, 10_000);
    let state = rig.dev().state();
    rig.advance(Duration::from_secs(300));
    let mut dev = Pl031::from_state(
        &state,
        RestorePolicy::FollowClock,
        RecordingIrq::new(),
        rig.clock.clone(),
        NoEvents,
    )
    .unwrap();
    assert_eq!(dev.read(0x000), 10_300);
}

#[test]
fn test_r9_resume_restore_continues_from_saved_time_and_phase() {
    let mut rig = Rig::at_ns(T0 * NS + 400_000_000);
    rig.wr(LR, 10_000);
    rig.advance(Duration::from_millis(700)); // counter at 10_000.7
    let state = rig.dev().state();
    rig.advance(Duration::from_secs(300));
    let mut dev = Pl031::from_state(
        &state,
        RestorePolicy::Resume,
        RecordingIrq::new(),
        rig.clock.clone(),
        NoEvents,
    )
    .unwrap();
    assert_eq!(dev.read(0x000), 10_000);
    rig.advance(Duration::from_millis(299));
    assert_eq!(dev.read(0x000), 10_000);
    rig.advance(Duration::from_millis(1));
    assert_eq!(dev.read(0x000), 10_001);
}

#[test]
fn test_r9_alarm_due_while_saved_fires_on_follow_clock_restore() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, T0 as u32 + 60);
    rig.wr(IMSC, 1);
    let state = rig.dev().state();
    rig.advance(Duration::from_secs(3600));
    let irq = RecordingIrq::new();
    let mut dev = Pl031::from_state(
        &state,
        RestorePolicy::FollowClock,
        irq.clone(),
        rig.clock.clone(),
        NoEvents,
    )
    .unwrap();
    assert!(irq.level());
    assert_eq!(dev.read(0x014), 1);
}

#[test]
fn test_r9_resume_restore_keeps_pending_alarm_deadline() {
    let mut rig = Rig::at_secs(T0);
    rig.wr(MR, T0 as u32 + 60);
    rig.wr(IMSC, 1);
    rig.advance(Duration::from_secs(20));
    let state = rig.dev().state();
    rig.advance(Duration::from_secs(3600));
    let restored_at = rig.clock_ns();
    let dev = Pl031::from_state(
        &state,
        RestorePolicy::Resume,
        RecordingIrq::new(),
        rig.clock.clone(),
        NoEvents,
    )
    .unwrap();
    assert!(!dev.interrupt_level());
    assert_eq!(dev.next_deadline(), Some(restored_at + 40 * NS));
}

// ---- R10: device tree ----

#[test]
fn test_r10_dt_node_has_primecell_apb_pclk_interrupts_and_4k_reg() {
    let node = pl031_node(&Pl031NodeConfig {
        base: 0x0901_0000,
        spi: 2,
        apb_pclk_phandle: 0x8000,
    });
    let value = |name: &str| node.property(name).unwrap().value.clone();
    match value("compatible") {
        PropValue::Strings(s) => {
            assert!(s.contains(&"arm,primecell"));
            assert!(s.contains(&"arm,pl031"));
        }
        other => panic!("compatible is {other:?}"),
    }
    assert_eq!(value("reg"), PropValue::Cells64(vec![0x0901_0000, 0x1000]));
    // GIC_SPI = 0, IRQ_TYPE_LEVEL_HIGH = 4 (dt-bindings).
    assert_eq!(value("interrupts"), PropValue::Cells(vec![0, 2, 4]));
    assert_eq!(value("clocks"), PropValue::Cells(vec![0x8000]));
    assert_eq!(value("clock-names"), PropValue::Strings(vec!["apb_pclk"]));
    assert!(node.properties.iter().all(|p| !p.reason.is_empty()));
}

#[test]
fn test_r10_ids_sit_at_reg_size_minus_0x20_and_0x10() {
    let node = pl031_node(&Pl031NodeConfig {
        base: 0,
        spi: 0,
        apb_pclk_phandle: 1,
    });
    let PropValue::Cells64(reg) = node.property("reg").unwrap().value.clone() else {
        panic!("reg is not 64-bit cells");
    };
    let size = reg[1];
    let mut rig = Rig::at_secs(T0);
    assert_eq!(rig.rd(size - 0x20), 0x31);
    assert_eq!(rig.rd(size - 0x10), 0x0D);
}
