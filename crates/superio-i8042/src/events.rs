//! What the controller tells its VMM besides the interrupt and reset lines:
//! events for metrics, logs and the control plane.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Events the i8042 reports. Every method has a no-op default.
///
/// Methods take `&self` so one sink can be shared (`Arc`) between the device
/// and a metrics exporter.
///
/// ```
/// use std::cell::Cell;
/// use superio_i8042::I8042Events;
///
/// /// Mirrors the guest's keyboard LEDs, e.g. onto a host UI.
/// #[derive(Debug, Default)]
/// struct Leds(Cell<u8>);
/// impl I8042Events for Leds {
///     fn leds_changed(&self, leds: u8) { self.0.set(leds); }
/// }
///
/// let l = Leds::default();
/// l.leds_changed(0b100); // Caps Lock on
/// assert_eq!(l.0.get(), 4);
/// ```
pub trait I8042Events {
    /// The guest asked for a CPU reset (0xFE and the other pulse commands
    /// with bit 0 clear, or an output-port write with bit 0 clear). The reset
    /// trigger has been called too.
    fn reset_requested(&self) {}
    /// The reset trigger refused the request; the guest's next reset command
    /// tries again (Linux sends ten).
    fn reset_error(&self) {}
    /// A controller command the device does not implement; it was ignored.
    fn unknown_command(&self, _command: u8) {}
    /// A byte the keyboard did not understand; it answered 0xFE (resend).
    fn unknown_keyboard_command(&self, _byte: u8) {}
    /// An access to offsets 1..=3 (ports 0x61..=0x63 are not the i8042's).
    fn invalid_access(&self, _offset: u8) {}
    /// Output bytes lost because the guest let the 16-byte output queue fill
    /// (it sent commands without reading their answers) or sent a second
    /// controller command before reading the first one's reply.
    fn output_dropped(&self, _count: usize) {}
    /// Bytes the keyboard discarded because the guest asked it to (0xF4,
    /// 0xF5, 0xF6, 0xFF clear a real keyboard's buffer; 0xAA clears the
    /// controller's output buffer).
    fn output_flushed(&self, _count: usize) {}
    /// Host key input was refused (queue full, or the guest disabled
    /// scanning); nothing of it was queued.
    fn input_rejected(&self) {}
    /// The guest read the last queued byte: the VMM may inject more input.
    fn output_empty(&self) {}
    /// The guest changed the A20 gate through the output port.
    fn a20_changed(&self, _enabled: bool) {}
    /// The guest set the keyboard LEDs (bit 0 Scroll, 1 Num, 2 Caps Lock).
    fn leds_changed(&self, _leds: u8) {}
    /// A byte was sent to the auxiliary port, where no device is attached;
    /// the controller answered 0xFE with the TIMEOUT status bit.
    fn aux_no_device(&self) {}
    /// An interrupt sink refused a level change; it is retried on the next
    /// access.
    fn interrupt_error(&self) {}
}

/// Ignores every event.
///
/// ```
/// use superio_i8042::{I8042Events, NoEvents};
/// NoEvents.reset_requested(); // does nothing
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NoEvents;

impl I8042Events for NoEvents {}

macro_rules! forward_events {
    ($($ptr:ty),*) => {$(
        impl<E: I8042Events + ?Sized> I8042Events for $ptr {
            fn reset_requested(&self) { (**self).reset_requested(); }
            fn reset_error(&self) { (**self).reset_error(); }
            fn unknown_command(&self, command: u8) { (**self).unknown_command(command); }
            fn unknown_keyboard_command(&self, byte: u8) { (**self).unknown_keyboard_command(byte); }
            fn invalid_access(&self, offset: u8) { (**self).invalid_access(offset); }
            fn output_dropped(&self, count: usize) { (**self).output_dropped(count); }
            fn output_flushed(&self, count: usize) { (**self).output_flushed(count); }
            fn input_rejected(&self) { (**self).input_rejected(); }
            fn output_empty(&self) { (**self).output_empty(); }
            fn a20_changed(&self, enabled: bool) { (**self).a20_changed(enabled); }
            fn leds_changed(&self, leds: u8) { (**self).leds_changed(leds); }
            fn aux_no_device(&self) { (**self).aux_no_device(); }
            fn interrupt_error(&self) { (**self).interrupt_error(); }
        }
    )*};
}
forward_events!(&E, Arc<E>, Box<E>);

/// Ready-made metrics: an atomic counter per event. Share it as
/// `Arc<I8042Counters>` between the device and an exporter.
///
/// ```
/// use std::sync::Arc;
/// use superio_core::test_utils::RecordingIrq;
/// use superio_i8042::{I8042, I8042Config, I8042Counters, CMD_PULSE_RESET, STATUS_COMMAND_REG};
///
/// let counters = Arc::new(I8042Counters::default());
/// let reset = RecordingIrq::new();
/// let mut dev = I8042::with_config(
///     RecordingIrq::new(), reset.clone(), Arc::clone(&counters), I8042Config::default());
/// dev.write(STATUS_COMMAND_REG, CMD_PULSE_RESET);
/// assert_eq!(counters.resets_requested(), 1);
/// assert_eq!(reset.raises(), 1);
/// ```
#[derive(Debug, Default)]
pub struct I8042Counters {
    resets_requested: AtomicU64,
    reset_errors: AtomicU64,
    unknown_commands: AtomicU64,
    unknown_keyboard_commands: AtomicU64,
    invalid_accesses: AtomicU64,
    output_dropped: AtomicU64,
    output_flushed: AtomicU64,
    inputs_rejected: AtomicU64,
    a20_changes: AtomicU64,
    led_changes: AtomicU64,
    aux_no_device: AtomicU64,
    interrupt_errors: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    // Saturate rather than wrap: a counter that wraps to 0 would hide a flood.
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_add(n))
    });
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl I8042Counters {
    /// CPU resets the guest requested.
    pub fn resets_requested(&self) -> u64 {
        load(&self.resets_requested)
    }
    /// Reset requests the reset trigger refused.
    pub fn reset_errors(&self) -> u64 {
        load(&self.reset_errors)
    }
    /// Ignored controller commands.
    pub fn unknown_commands(&self) -> u64 {
        load(&self.unknown_commands)
    }
    /// Keyboard bytes answered with 0xFE.
    pub fn unknown_keyboard_commands(&self) -> u64 {
        load(&self.unknown_keyboard_commands)
    }
    /// Accesses to offsets 1..=3.
    pub fn invalid_accesses(&self) -> u64 {
        load(&self.invalid_accesses)
    }
    /// Output bytes lost to a full queue or an overwritten reply.
    pub fn output_dropped(&self) -> u64 {
        load(&self.output_dropped)
    }
    /// Output bytes discarded on the guest's request.
    pub fn output_flushed(&self) -> u64 {
        load(&self.output_flushed)
    }
    /// Refused host key injections.
    pub fn inputs_rejected(&self) -> u64 {
        load(&self.inputs_rejected)
    }
    /// A20 gate changes.
    pub fn a20_changes(&self) -> u64 {
        load(&self.a20_changes)
    }
    /// LED changes.
    pub fn led_changes(&self) -> u64 {
        load(&self.led_changes)
    }
    /// Bytes sent to the (absent) auxiliary device.
    pub fn aux_no_device(&self) -> u64 {
        load(&self.aux_no_device)
    }
    /// Refused interrupt level changes.
    pub fn interrupt_errors(&self) -> u64 {
        load(&self.interrupt_errors)
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl I8042Events for I8042Counters {
    fn reset_requested(&self) {
        add(&self.resets_requested, 1);
    }
    fn reset_error(&self) {
        add(&self.reset_errors, 1);
    }
    fn unknown_command(&self, _command: u8) {
        add(&self.unknown_commands, 1);
    }
    fn unknown_keyboard_command(&self, _byte: u8) {
        add(&self.unknown_keyboard_commands, 1);
    }
    fn invalid_access(&self, _offset: u8) {
        add(&self.invalid_accesses, 1);
    }
    fn output_dropped(&self, n: usize) {
        add(&self.output_dropped, count(n));
    }
    fn output_flushed(&self, n: usize) {
        add(&self.output_flushed, count(n));
    }
    fn input_rejected(&self) {
        add(&self.inputs_rejected, 1);
    }
    fn a20_changed(&self, _enabled: bool) {
        add(&self.a20_changes, 1);
    }
    fn leds_changed(&self, _leds: u8) {
        add(&self.led_changes, 1);
    }
    fn aux_no_device(&self) {
        add(&self.aux_no_device, 1);
    }
    fn interrupt_error(&self) {
        add(&self.interrupt_errors, 1);
    }
}
