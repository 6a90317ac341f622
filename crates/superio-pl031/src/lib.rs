//! ARM PL031 real-time clock emulation for VMMs: every register, the PrimeCell
//! IDs, a match alarm that really fires, and an injected clock.
//!
//! The reference is the ARM *PrimeCell Real Time Clock (PL031) Technical
//! Reference Manual*, DDI 0224C ("the TRM"): §2.1 describes the behaviour,
//! §3.2 Table 3.1 lists every register with its offset, access, width and
//! reset value. What Linux's `rtc-pl031` driver needs from it is in the
//! project's CONFORMANCE.md §3 (items R1–R10).
//!
//! # Model
//! The counter (RTCDR) is `guest offset + clock time`, in seconds modulo 2³²
//! (TRM: a free-running 32-bit counter; it wraps in 2106). The [`Clock`] is
//! injected; the device never reads time on its own and owns no timer.
//! Instead it offers:
//! - [`Pl031::next_deadline`]: the clock time at which the match interrupt
//!   will fire (if it is armed), for the VMM to program a timer;
//! - [`Pl031::poll`]: called when that timer fires (or whenever the VMM likes);
//!   every register access also brings the state up to date, so a VMM without
//!   timers still gets correct registers, only a late interrupt.
//!
//! ## Sub-second phase
//! The counter keeps nanosecond phase. Writing RTCLR restarts the phase: the
//! counter reads the loaded value immediately and increments exactly one
//! second after the write, then every second. That is what Linux's RTC core
//! assumes of RTCs by default (`rtc_allocate_device` sets `set_offset_nsec`
//! to one second plus transport time, "increment seconds exactly one second
//! after the write happened"), so the kernel's NTP sync (`CONFIG_RTC_SYSTOHC`)
//! stores the time exactly. Before any write the phase is the clock's own, so
//! a fresh RTC ticks with the host's second boundaries. Alarms fire at the
//! exact boundary where the counter becomes equal to RTCMR, which is why the
//! clock is in nanoseconds and [`Pl031::next_deadline`] is too.
//!
//! ## Match semantics
//! The TRM (§2.1) asserts RTCINTR when the counter and the match value are
//! equal. Here RTCRIS is set when the counter *advances onto* RTCMR. Edge cases, chosen
//! deliberately (CONFORMANCE R7) and tested:
//! - RTCMR written equal to the current RTCDR does not fire now; it fires when
//!   the counter next reaches it, after a full 2³²-second wrap.
//! - RTCMR written in the past likewise fires only after the wrap, i.e.
//!   never in practice. Linux never does either: it refuses alarms ≤ now.
//! - Loading RTCLR with the value of RTCMR does not fire (a load is not a
//!   count).
//! - A clock jump forward across RTCMR fires (the counter passed it); a jump
//!   backward never fires for the replayed stretch.
//!
//! ## Interrupt
//! RTCINTR = RTCRIS & RTCIMSC, published as a level through
//! [`superio_core::IrqLine`]: raised once when it rises, lowered once when the
//! guest writes RTCICR or masks it.
//!
//! ```
//! use superio_core::test_utils::RecordingIrq;
//! use superio_pl031::{ManualClock, Pl031, NANOS_PER_SEC, RTCDR, RTCICR, RTCIMSC, RTCMR, RTCMIS};
//!
//! let clock = ManualClock::from_secs(1_700_000_000);
//! let irq = RecordingIrq::new();
//! let mut rtc = Pl031::with_clock(irq.clone(), clock.clone());
//!
//! // The guest arms an alarm two seconds ahead.
//! let now = rtc.read(RTCDR);
//! rtc.write(RTCMR, now + 2);
//! rtc.write(RTCIMSC, 1);
//! // The VMM programs a timer for the deadline and polls when it fires.
//! let deadline = rtc.next_deadline().unwrap();
//! assert_eq!(deadline, (1_700_000_000 + 2) * NANOS_PER_SEC);
//! clock.set_ns(deadline);
//! rtc.poll();
//! assert!(irq.level());
//! // The guest's handler: check MIS, clear with ICR.
//! assert_eq!(rtc.read(RTCMIS), 1);
//! rtc.write(RTCICR, 1);
//! assert!(!irq.level());
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod clock;
mod device;
mod events;
pub mod fdt;

pub use clock::{Clock, ManualClock, RealtimeClock, SteadyClock, NANOS_PER_SEC};
pub use device::{Pl031, Pl031State, RestorePolicy, StateError, INTERRUPT_RETRY_NS};
pub use events::{NoEvents, Pl031Counters, Pl031Events, TimeSet};

// Register map: TRM DDI0224C §3.2, Table 3.1 (offset, type, width, reset value).

/// Data Register: the current counter value (RO, 32 bits, reset 0).
pub const RTCDR: u32 = 0x000;
/// Match Register: the counter value that raises the interrupt (RW, 32 bits, reset 0).
pub const RTCMR: u32 = 0x004;
/// Load Register: loads the counter; reads back the last value loaded (RW, 32 bits, reset 0).
pub const RTCLR: u32 = 0x008;
/// Control Register: bit 0 starts the RTC (RW, 1 bit, reset 0).
pub const RTCCR: u32 = 0x00C;
/// Interrupt Mask Set or Clear register: bit 0 = 1 enables RTCINTR (RW, 1 bit, reset 0).
pub const RTCIMSC: u32 = 0x010;
/// Raw Interrupt Status: bit 0 = match happened (RO, 1 bit, reset 0).
pub const RTCRIS: u32 = 0x014;
/// Masked Interrupt Status: RTCRIS & RTCIMSC (RO, 1 bit, reset 0).
pub const RTCMIS: u32 = 0x018;
/// Interrupt Clear Register: writing bit 0 = 1 clears RTCRIS (WO, 1 bit).
///
/// The TRM's overview (§2.1) says "writing any data value" clears the
/// interrupt, while Table 3.1 gives RTCICR a single bit. We decode that bit
/// (as QEMU does), so a write of 0 clears nothing; Linux always writes
/// `RTC_BIT_AI` (1), where both readings agree.
pub const RTCICR: u32 = 0x01C;
/// Peripheral ID register bits \[7:0\] (RO, 8 bits).
pub const RTCPERIPHID0: u32 = 0xFE0;
/// Peripheral ID register bits \[15:8\] (RO, 8 bits).
pub const RTCPERIPHID1: u32 = 0xFE4;
/// Peripheral ID register bits \[23:16\] (RO, 8 bits).
pub const RTCPERIPHID2: u32 = 0xFE8;
/// Peripheral ID register bits \[31:24\] (RO, 8 bits).
pub const RTCPERIPHID3: u32 = 0xFEC;
/// PrimeCell ID register bits \[7:0\] (RO, 8 bits).
pub const RTCPCELLID0: u32 = 0xFF0;
/// PrimeCell ID register bits \[15:8\] (RO, 8 bits).
pub const RTCPCELLID1: u32 = 0xFF4;
/// PrimeCell ID register bits \[23:16\] (RO, 8 bits).
pub const RTCPCELLID2: u32 = 0xFF8;
/// PrimeCell ID register bits \[31:24\] (RO, 8 bits).
pub const RTCPCELLID3: u32 = 0xFFC;
/// Size of the register window: 0x000–0xFFC (Table 3.1), one 4 KiB page.
pub const WINDOW_SIZE: u32 = 0x1000;

/// RTCCR bit 0, "RTC start": once set, the counter runs and further writes
/// have no effect until reset (TRM Table 3.1; CONFORMANCE §3.3).
pub const RTCCR_START: u32 = 1 << 0;
/// Bit 0 of RTCIMSC, RTCRIS, RTCMIS and RTCICR: the one interrupt, RTCINTR
/// (the registers are 1 bit wide, Table 3.1). Linux calls it `RTC_BIT_AI`.
pub const RTC_INT_ALARM: u32 = 1 << 0;

/// RTCPeriphID0–3 (0xFE0–0xFEC), as Table 3.1 gives their reset values:
/// part number 0x031 (ID0 = 0x31, ID1 bits 3:0 = 0x0), designer 0x41 = ARM
/// (ID1 bits 7:4 = 0x1, ID2 bits 3:0 = 0x4), revision (ID2 bits 7:4) and
/// configuration (ID3) 0.
///
/// The 0xFE8 byte is 0x04, deliberately: revision 0 is the reset value Table
/// 3.1 documents. Linux's `pl031_ids` match with mask 0x000FFFFF, so the
/// revision nibble does not affect probing (QEMU's 0x14 probes too); we keep
/// the documented value, which is also what vm-superio presents, so replacing
/// vm-superio with this crate changes nothing a guest can see in the IDs. Never
/// present designer 0x80 (ST): Linux would select the ST variant and touch
/// registers 0x20–0x38 that this device does not have.
pub const PERIPH_ID: [u8; 4] = [0x31, 0x10, 0x04, 0x00];
/// RTCPCellID0–3 (0xFF0–0xFFC): 0x0D, 0xF0, 0x05, 0xB1 (Table 3.1), the
/// PrimeCell signature 0xB105F00D every AMBA PrimeCell carries. Linux's AMBA
/// bus refuses a device without it.
pub const PCELL_ID: [u8; 4] = [0x0D, 0xF0, 0x05, 0xB1];
