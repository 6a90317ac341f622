//! How a VMM drives the PL031 alarm with a host timer: the guest programs an
//! alarm, the VMM arms a `TimerFd` from `time_until_deadline`, polls the RTC
//! when it fires, and the interrupt arrives on the irqfd at the second the
//! counter reaches RTCMR. Runs for about two seconds of real time.
//!
//! `cargo run -p superio-pl031 --example alarm_timer`

use std::time::Instant;

use superio_core::{BusDevice, Mmio32};
use superio_pl031::{Pl031, RTCDR, RTCICR, RTCIMSC, RTCMIS, RTCMR};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use vmm_sys_util::timerfd::TimerFd;

fn readl(bus: &mut impl BusDevice, offset: u32) -> u32 {
    let mut data = [0u8; 4];
    bus.read(u64::from(offset), &mut data);
    u32::from_le_bytes(data)
}

fn writel(bus: &mut impl BusDevice, offset: u32, value: u32) {
    bus.write(u64::from(offset), &value.to_le_bytes());
}

fn main() -> std::io::Result<()> {
    let irq = EventFd::new(EFD_NONBLOCK)?;
    let mut rtc = Mmio32::new(Pl031::new(irq.try_clone()?));
    let mut timer = TimerFd::new()?;
    let start = Instant::now();

    // The guest (rtc-pl031's set_alarm): MR = now + 2, ICR, IMSC |= 1.
    let now = readl(&mut rtc, RTCDR);
    writel(&mut rtc, RTCMR, now + 2);
    writel(&mut rtc, RTCICR, 1);
    writel(&mut rtc, RTCIMSC, 1);
    println!("guest: DR = {now}, alarm at {}", now + 2);

    // The VMM's timer loop (normally an epoll source next to the vCPU exits).
    while let Some(wait) = rtc.inner().time_until_deadline() {
        timer.reset(wait.max(std::time::Duration::from_nanos(1)), None)?;
        timer.wait()?;
        rtc.inner_mut().poll();
    }

    // The interrupt arrived on the irqfd (KVM would inject it).
    assert_eq!(irq.read()?, 1);
    println!(
        "irq after {:.3} s: DR = {}, MIS = {}",
        start.elapsed().as_secs_f64(),
        readl(&mut rtc, RTCDR),
        readl(&mut rtc, RTCMIS)
    );
    // The guest's handler clears it.
    writel(&mut rtc, RTCICR, 1);
    Ok(())
}
