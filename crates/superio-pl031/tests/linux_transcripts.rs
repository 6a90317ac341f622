//! Replays of what Linux 6.1 (`drivers/amba/bus.c`, `drivers/rtc/rtc-pl031.c`,
//! `drivers/rtc/interface.c`) and util-linux (`hwclock`, `rtcwake`) do to the
//! RTC, access by access (CONFORMANCE.md §3.3–3.5), with the VMM's timer loop
//! standing in for real time.

mod common;

use std::time::Duration;

use common::*;

/// `RTC_BIT_AI`, bit 0 of IMSC/RIS/MIS/ICR in rtc-pl031.c.
const RTC_BIT_AI: u32 = 1;
/// `RTC_CR_EN` in rtc-pl031.c.
const RTC_CR_EN: u32 = 1;

/// `amba_read_periphid` + `pl031_probe` + the alarm read of
/// `__devm_rtc_register_device`.
/// Returns (periphid, cellid).
fn linux_probe(rig: &mut Rig) -> (u32, u32) {
    let size = 0x1000u64;
    let mut pid = 0;
    let mut cid = 0;
    for i in 0..4u64 {
        pid |= (rig.rd(size - 0x20 + 4 * i) & 0xFF) << (8 * i);
        cid |= (rig.rd(size - 0x10 + 4 * i) & 0xFF) << (8 * i);
    }
    // pl031_probe: enable the RTC.
    let cr = rig.rd(CR);
    rig.wr(CR, cr | RTC_CR_EN);
    // rtc registration reads the alarm: pl031_read_alarm.
    let _mr = rig.rd(MR);
    let _pending = rig.rd(RIS) & RTC_BIT_AI;
    let _enabled = rig.rd(IMSC) & RTC_BIT_AI;
    (pid, cid)
}

/// `pl031_read_time`.
fn linux_read_time(rig: &mut Rig) -> u32 {
    rig.rd(DR)
}

/// `pl031_set_time`.
fn linux_set_time(rig: &mut Rig, secs: u32) {
    rig.wr(LR, secs);
}

/// `pl031_alarm_irq_enable`.
fn linux_alarm_irq_enable(rig: &mut Rig, enable: bool) {
    rig.wr(ICR, RTC_BIT_AI);
    let imsc = rig.rd(IMSC);
    if enable {
        rig.wr(IMSC, imsc | RTC_BIT_AI);
    } else {
        rig.wr(IMSC, imsc & !RTC_BIT_AI);
    }
}

/// `pl031_set_alarm`.
fn linux_set_alarm(rig: &mut Rig, secs: u32, enabled: bool) {
    rig.wr(MR, secs);
    linux_alarm_irq_enable(rig, enabled);
}

/// `pl031_interrupt`: returns true for `IRQ_HANDLED`.
fn linux_interrupt(rig: &mut Rig) -> bool {
    let mis = rig.rd(MIS);
    if mis & RTC_BIT_AI != 0 {
        rig.wr(ICR, RTC_BIT_AI);
        true
    } else {
        false
    }
}

#[test]
fn test_linux_probe_finds_arm_pl031_and_keeps_time() {
    let mut rig = Rig::at_secs(T0);
    let (pid, cid) = linux_probe(&mut rig);
    assert_eq!(cid, 0xB105_F00D);
    assert_eq!(pid & 0x000F_FFFF, 0x0004_1031);
    assert_eq!(rig.rd(CR) & RTC_CR_EN, RTC_CR_EN);
    assert_eq!(linux_read_time(&mut rig), T0 as u32);
    assert!(!rig.irq.level());
    assert_eq!(
        rig.counters.invalid_reads() + rig.counters.invalid_writes(),
        0
    );
}

#[test]
fn test_linux_reprobe_after_set_time_keeps_guest_time() {
    // A module reload or kexec re-runs pl031_probe after the guest set the time.
    let mut rig = Rig::at_secs(T0);
    linux_probe(&mut rig);
    linux_set_time(&mut rig, 1_234_567_890);
    rig.advance(Duration::from_secs(10));
    linux_probe(&mut rig);
    assert_eq!(linux_read_time(&mut rig), 1_234_567_900);
}

#[test]
fn test_linux_hctosys_reads_host_utc() {
    let mut rig = Rig::at_ns(T0 * NS + 123_000_000);
    linux_probe(&mut rig);
    // "rtc-pl031 9010000.pl031: setting system clock to 2023-11-14T22:13:20 UTC (1700000000)"
    assert_eq!(linux_read_time(&mut rig), 1_700_000_000);
}

#[test]
fn test_linux_set_time_reads_back_and_reports_event() {
    let mut rig = Rig::at_secs(T0);
    linux_probe(&mut rig);
    linux_set_time(&mut rig, 1_600_000_000);
    assert_eq!(linux_read_time(&mut rig), 1_600_000_000);
    assert_eq!(rig.counters.time_sets(), 1);
    // The control plane can persist guest - host = -100_000_000 s.
    assert_eq!(
        rig.counters.last_offset_ns(),
        Some(-100_000_000_000_000_000)
    );
}

#[test]
fn test_linux_set_alarm_fires_irq_and_handler_clears_it() {
    let mut rig = Rig::at_secs(T0);
    linux_probe(&mut rig);
    let now = linux_read_time(&mut rig);
    linux_set_alarm(&mut rig, now + 30, true);
    // The guest idles; only the VMM's timer runs.
    let polls = rig.run_timers_until(T0 * NS + 40 * NS);
    assert_eq!(polls, vec![T0 * NS + 30 * NS]);
    assert_eq!(rig.irq.raises(), 1);
    // The guest takes the interrupt.
    assert!(linux_interrupt(&mut rig));
    assert!(!rig.irq.level());
    // rtc_timer_do_work: the timer is expired (DR >= MR), none remain.
    assert!(linux_read_time(&mut rig) >= now + 30);
    linux_alarm_irq_enable(&mut rig, false);
    assert_eq!(rig.dev().next_deadline(), None);
    // The line stays quiet: a second call is IRQ_NONE.
    assert!(!linux_interrupt(&mut rig));
    assert_eq!(
        (rig.irq.raises(), rig.irq.lowers(), rig.irq.redundant()),
        (1, 1, 0)
    );
}

#[test]
fn test_linux_read_alarm_reports_pending_and_enabled() {
    let mut rig = Rig::at_secs(T0);
    linux_probe(&mut rig);
    linux_set_alarm(&mut rig, T0 as u32 + 5, true);
    assert_eq!(rig.rd(MR), T0 as u32 + 5);
    assert_eq!(rig.rd(IMSC) & RTC_BIT_AI, 1); // enabled
    assert_eq!(rig.rd(RIS) & RTC_BIT_AI, 0); // not pending
    rig.advance(Duration::from_secs(5));
    assert_eq!(rig.rd(RIS) & RTC_BIT_AI, 1); // pending
}

#[test]
fn test_linux_hwclock_uie_fires_after_one_simulated_second() {
    // hwclock --show: RTC_UIE_ON -> rtc_update_irq_enable -> alarm at now + 1.
    let mut rig = Rig::at_secs(T0);
    linux_probe(&mut rig);
    let now = linux_read_time(&mut rig);
    linux_set_alarm(&mut rig, now + 1, true);
    let deadline = rig.dev().next_deadline().unwrap();
    assert_eq!(deadline - T0 * NS, NS); // exactly one second
                                        // hwclock select()s for up to 10 s; the VMM's timer fires at the deadline.
    let polls = rig.run_timers_until(T0 * NS + 10 * NS);
    assert_eq!(polls, vec![T0 * NS + NS]);
    assert!(linux_interrupt(&mut rig));
    // RTC_RD_TIME, RTC_UIE_OFF, RTC_SET_TIME.
    let tick = linux_read_time(&mut rig);
    assert_eq!(tick, now + 10); // the rig ran the clock to the 10 s limit
    linux_alarm_irq_enable(&mut rig, false);
    linux_set_time(&mut rig, tick);
    assert!(!rig.irq.level());
}

#[test]
fn test_linux_hwclock_uie_mid_second_fires_at_next_counter_tick() {
    // Time set at X.0 (phase restarted), UIE requested 0.6 s later: the
    // counter ticks to X+1 0.4 s after the request, and the alarm fires then.
    let mut rig = Rig::at_ns(T0 * NS + 200_000_000);
    linux_probe(&mut rig);
    linux_set_time(&mut rig, 2_000_000_000);
    rig.advance(Duration::from_millis(600));
    let now = linux_read_time(&mut rig);
    assert_eq!(now, 2_000_000_000);
    linux_set_alarm(&mut rig, now + 1, true);
    let t_request = rig.clock_ns();
    let polls = rig.run_timers_until(t_request + 10 * NS);
    assert_eq!(polls, vec![t_request + 400_000_000]);
    assert!(linux_interrupt(&mut rig));
}

#[test]
fn test_linux_rtcwake_alarm_wakes_idle_guest_at_mr() {
    // rtcwake -m freeze -s 60: read time, RTC_WKALM_SET, guest idles.
    let mut rig = Rig::at_ns(T0 * NS + 500_000_000);
    linux_probe(&mut rig);
    let now = linux_read_time(&mut rig);
    linux_set_alarm(&mut rig, now + 60, true);
    // No guest access at all while suspended: only the VMM timer.
    let polls = rig.run_timers_until(T0 * NS + 120 * NS);
    assert_eq!(polls, vec![(T0 + 60) * NS]);
    assert_eq!(rig.irq.raises(), 1);
    assert_eq!(rig.counters.alarms_fired(), 1);
    // Resume: the interrupt handler, then rtcwake -m show reads the alarm.
    assert!(linux_interrupt(&mut rig));
    assert_eq!(rig.rd(MR), now + 60);
}

#[test]
fn test_linux_rtcwake_disable_disarms_alarm() {
    let mut rig = Rig::at_secs(T0);
    linux_probe(&mut rig);
    linux_set_alarm(&mut rig, T0 as u32 + 60, true);
    assert!(rig.dev().next_deadline().is_some());
    // rtcwake -m disable.
    linux_alarm_irq_enable(&mut rig, false);
    assert_eq!(rig.dev().next_deadline(), None);
    rig.advance(Duration::from_secs(120));
    rig.dev().poll();
    assert!(!rig.irq.level());
    assert_eq!(rig.irq.raises(), 0);
}

#[test]
fn test_linux_alarm_replaced_before_firing_uses_new_mr() {
    let mut rig = Rig::at_secs(T0);
    linux_probe(&mut rig);
    linux_set_alarm(&mut rig, T0 as u32 + 100, true);
    rig.advance(Duration::from_secs(10));
    linux_set_alarm(&mut rig, T0 as u32 + 20, true);
    let polls = rig.run_timers_until((T0 + 200) * NS);
    assert_eq!(polls, vec![(T0 + 20) * NS]);
}
