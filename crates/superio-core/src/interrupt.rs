//! Interrupt outputs: the [`Trigger`] sink trait, the [`IrqLine`] level tracker
//! every device publishes through, and ready `EventFd` sinks.
//!
//! # Why levels
//! A real UART, keyboard controller or RTC drives a *level*: the pin is high
//! while an enabled condition is pending. Models that instead fire an edge per
//! event lose interrupts: an edge sent while the guest's interrupt controller
//! still sees the line high is swallowed, and nothing re-sends it. So a superio
//! device computes its level after every guest access and host call and tells
//! the sink only about *changes*:
//!
//! | sink kind | on 0→1 | on 1→0 |
//! |---|---|---|
//! | edge (irqfd, ISA line on an edge-triggered PIC/IOAPIC pin) | `trigger()` | nothing (default `lower`) |
//! | level (GIC SPI, `KVM_IRQ_LINE`, irqfd + resample) | `trigger()` | `lower()` |

use std::fmt;
use std::io;
use std::rc::Rc;
use std::sync::Arc;

use vmm_sys_util::eventfd::EventFd;

/// An interrupt sink: told when a device's interrupt output rises and falls.
///
/// The trait keeps the shape of vm-superio's `Trigger` (`type E` and
/// `fn trigger(&self)`), so a sink written for vm-superio compiles unchanged
/// here and behaves as an edge sink. The lowering half, [`Trigger::lower`],
/// defaults to doing nothing; level-triggered sinks override it.
///
/// Devices call `trigger` only on a 0→1 change of their output and `lower` only
/// on a 1→0 change (see [`IrqLine`]), never twice in a row for the same level.
///
/// ```
/// use std::cell::Cell;
/// use superio_core::Trigger;
///
/// /// A level sink that mirrors the line into a flag, e.g. for a GIC model.
/// #[derive(Debug, Default)]
/// struct Pin(Cell<bool>);
/// impl Trigger for Pin {
///     type E = std::convert::Infallible;
///     fn trigger(&self) -> Result<(), Self::E> { self.0.set(true); Ok(()) }
///     fn lower(&self) -> Result<(), Self::E> { self.0.set(false); Ok(()) }
/// }
///
/// let pin = Pin::default();
/// pin.trigger().unwrap();
/// assert!(pin.0.get());
/// pin.lower().unwrap();
/// assert!(!pin.0.get());
/// ```
pub trait Trigger {
    /// The error a sink can report (an `io::Error` for an `EventFd`).
    type E: fmt::Debug;

    /// The device's interrupt output went from low to high.
    ///
    /// # Errors
    /// Whatever the sink reports; the device keeps its line low and retries the
    /// rise on its next state update.
    fn trigger(&self) -> Result<(), Self::E>;

    /// The device's interrupt output went from high to low. Edge sinks ignore it.
    ///
    /// # Errors
    /// Whatever the sink reports; the device keeps its line high and retries the
    /// fall on its next state update.
    fn lower(&self) -> Result<(), Self::E> {
        Ok(())
    }
}

/// An `EventFd` registered as a KVM irqfd (or watched by a VMM thread) is an
/// edge sink: each write of 1 injects one edge.
///
/// ```
/// use superio_core::Trigger;
/// use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
///
/// let irq = EventFd::new(EFD_NONBLOCK).unwrap();
/// irq.trigger().unwrap();
/// irq.trigger().unwrap();
/// assert_eq!(irq.read().unwrap(), 2);
/// ```
impl Trigger for EventFd {
    type E = io::Error;

    fn trigger(&self) -> io::Result<()> {
        self.write(1)
    }
}

macro_rules! forward_trigger {
    ($($ptr:ty),*) => {$(
        impl<T: Trigger + ?Sized> Trigger for $ptr {
            type E = T::E;
            fn trigger(&self) -> Result<(), Self::E> {
                (**self).trigger()
            }
            fn lower(&self) -> Result<(), Self::E> {
                (**self).lower()
            }
        }
    )*};
}
forward_trigger!(&T, Box<T>, Rc<T>, Arc<T>);

/// A level-triggered line built from a KVM irqfd with `KVM_IRQFD_FLAG_RESAMPLE`.
///
/// KVM asserts the guest's line when `trigger_fd` is written and de-asserts it
/// by itself when the guest acknowledges the interrupt (EOI), signalling
/// `resample_fd`. The VMM then asks the device whether its output is still high
/// and, if so, asserts it again: call [`ResampleIrqFd::resample`] from the
/// handler of `resample_fd` with the device's current level. A device's `lower`
/// therefore needs no action here.
///
/// ```
/// use superio_core::{ResampleIrqFd, Trigger};
/// use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
///
/// let line = ResampleIrqFd::new(
///     EventFd::new(EFD_NONBLOCK).unwrap(),
///     EventFd::new(EFD_NONBLOCK).unwrap(),
/// );
/// // VMM setup (not run here): vm.register_irqfd_with_resample(&line.trigger_fd, &line.resample_fd, gsi)
/// line.trigger().unwrap();
/// assert_eq!(line.trigger_fd.read().unwrap(), 1);
/// // The guest EOIs; KVM writes resample_fd. The device is still high: re-assert.
/// line.resample_fd.write(1).unwrap();
/// line.resample(true).unwrap();
/// assert_eq!(line.trigger_fd.read().unwrap(), 1);
/// ```
#[derive(Debug)]
pub struct ResampleIrqFd {
    /// Written to assert the line (`KVM_IRQFD` `fd`).
    pub trigger_fd: EventFd,
    /// Signalled by KVM on EOI (`KVM_IRQFD` `resamplefd`); should be non-blocking.
    pub resample_fd: EventFd,
}

impl ResampleIrqFd {
    /// Pairs a trigger and a resample `EventFd`.
    pub fn new(trigger_fd: EventFd, resample_fd: EventFd) -> Self {
        Self {
            trigger_fd,
            resample_fd,
        }
    }

    /// Handles a resample event: consumes `resample_fd` and re-asserts the line
    /// when the device's output (`line_high`) is still high.
    ///
    /// # Errors
    /// An error writing `trigger_fd`. An empty `resample_fd` (`WouldBlock`) is
    /// not an error.
    pub fn resample(&self, line_high: bool) -> io::Result<()> {
        match self.resample_fd.read() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if line_high {
            self.trigger_fd.write(1)?;
        }
        Ok(())
    }
}

impl Trigger for ResampleIrqFd {
    type E = io::Error;

    fn trigger(&self) -> io::Result<()> {
        self.trigger_fd.write(1)
    }
}

/// What [`IrqLine::set_level`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineChange {
    /// The level did not change; the sink was not called.
    Unchanged,
    /// The line rose; the sink's `trigger` was called and succeeded.
    Raised,
    /// The line fell; the sink's `lower` was called and succeeded.
    Lowered,
}

/// The published level of a device's interrupt output, and its sink.
///
/// A device computes `level = any(pending & enabled)` at the end of each guest
/// access and host call and hands it to [`IrqLine::set_level`], which calls the
/// sink only when the level differs from the last one published. If the sink
/// fails, the published level is left unchanged so that the next update tries
/// again: a transient irqfd error delays an interrupt instead of losing it.
///
/// ```
/// use superio_core::{IrqLine, LineChange};
/// use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
///
/// let mut line = IrqLine::new(EventFd::new(EFD_NONBLOCK).unwrap());
/// assert_eq!(line.set_level(true).unwrap(), LineChange::Raised);
/// assert_eq!(line.set_level(true).unwrap(), LineChange::Unchanged);
/// assert_eq!(line.set_level(false).unwrap(), LineChange::Lowered);
/// assert_eq!(line.sink().read().unwrap(), 1); // one edge for one rise
/// ```
#[derive(Debug)]
pub struct IrqLine<T: Trigger> {
    sink: T,
    level: bool,
}

impl<T: Trigger> IrqLine<T> {
    /// A line that starts low.
    pub fn new(sink: T) -> Self {
        Self { sink, level: false }
    }

    /// The last level published to the sink.
    pub fn level(&self) -> bool {
        self.level
    }

    /// Publishes `level`, calling the sink only on a change.
    ///
    /// # Errors
    /// The sink's error; the published level is not changed, so the same
    /// change is attempted again on the next call.
    pub fn set_level(&mut self, level: bool) -> Result<LineChange, T::E> {
        if level == self.level {
            return Ok(LineChange::Unchanged);
        }
        if level {
            self.sink.trigger()?;
            self.level = true;
            Ok(LineChange::Raised)
        } else {
            self.sink.lower()?;
            self.level = false;
            Ok(LineChange::Lowered)
        }
    }

    /// Forgets the published level without telling the sink, so the next
    /// [`IrqLine::set_level`]`(true)` raises again. Used after a snapshot
    /// restore, where the sink (a fresh irqfd) has never seen the old level.
    pub fn reset_published(&mut self) {
        self.level = false;
    }

    /// The sink.
    pub fn sink(&self) -> &T {
        &self.sink
    }

    /// The sink, mutably.
    pub fn sink_mut(&mut self) -> &mut T {
        &mut self.sink
    }

    /// Gives the sink back.
    pub fn into_inner(self) -> T {
        self.sink
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use vmm_sys_util::eventfd::EFD_NONBLOCK;

    /// Records calls and can be told to fail.
    #[derive(Debug, Default)]
    struct Probe {
        calls: RefCell<Vec<&'static str>>,
        fail: Cell<bool>,
    }
    impl Trigger for Probe {
        type E = &'static str;
        fn trigger(&self) -> Result<(), Self::E> {
            if self.fail.get() {
                return Err("refused");
            }
            self.calls.borrow_mut().push("raise");
            Ok(())
        }
        fn lower(&self) -> Result<(), Self::E> {
            if self.fail.get() {
                return Err("refused");
            }
            self.calls.borrow_mut().push("lower");
            Ok(())
        }
    }

    /// A sink written for vm-superio: only `trigger`.
    #[derive(Debug, Default)]
    struct EdgeOnly(Cell<u32>);
    impl Trigger for EdgeOnly {
        type E = ();
        fn trigger(&self) -> Result<(), ()> {
            self.0.set(self.0.get() + 1);
            Ok(())
        }
    }

    #[test]
    fn test_irq_line_level_sink_gets_rise_and_fall_once_each() {
        let mut line = IrqLine::new(Probe::default());
        for level in [true, true, false, false, true, false] {
            line.set_level(level).unwrap();
        }
        assert_eq!(
            *line.sink().calls.borrow(),
            ["raise", "lower", "raise", "lower"]
        );
    }

    #[test]
    fn test_irq_line_edge_sink_counts_only_rises() {
        let mut line = IrqLine::new(EdgeOnly::default());
        for level in [true, false, true, true, false] {
            line.set_level(level).unwrap();
        }
        assert_eq!(line.sink().0.get(), 2);
        assert!(!line.level());
    }

    #[test]
    fn test_irq_line_failed_rise_is_retried_on_next_update() {
        let mut line = IrqLine::new(Probe::default());
        line.sink().fail.set(true);
        assert_eq!(line.set_level(true), Err("refused"));
        assert!(!line.level());
        line.sink().fail.set(false);
        assert_eq!(line.set_level(true), Ok(LineChange::Raised));
        assert_eq!(*line.sink().calls.borrow(), ["raise"]);
    }

    #[test]
    fn test_irq_line_failed_fall_is_retried_on_next_update() {
        let mut line = IrqLine::new(Probe::default());
        line.set_level(true).unwrap();
        line.sink().fail.set(true);
        assert!(line.set_level(false).is_err());
        assert!(line.level());
        line.sink().fail.set(false);
        assert_eq!(line.set_level(false), Ok(LineChange::Lowered));
    }

    #[test]
    fn test_irq_line_reset_published_raises_again() {
        let mut line = IrqLine::new(EdgeOnly::default());
        line.set_level(true).unwrap();
        line.reset_published();
        assert_eq!(line.set_level(true), Ok(LineChange::Raised));
        assert_eq!(line.sink().0.get(), 2);
    }

    #[test]
    fn test_eventfd_trigger_writes_one_edge_per_rise_and_ignores_lower() {
        let mut line = IrqLine::new(EventFd::new(EFD_NONBLOCK).unwrap());
        for level in [true, false, true, false] {
            line.set_level(level).unwrap();
        }
        assert_eq!(line.sink().read().unwrap(), 2);
        assert_eq!(
            line.sink().read().unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn test_pointer_forwarding_reaches_lower() {
        let probe = Rc::new(Probe::default());
        let mut line = IrqLine::new(Rc::clone(&probe));
        line.set_level(true).unwrap();
        line.set_level(false).unwrap();
        let by_ref: &Probe = &probe;
        by_ref.lower().unwrap();
        let boxed: Box<dyn Trigger<E = &'static str>> = Box::new(Probe::default());
        boxed.trigger().unwrap();
        assert_eq!(*probe.calls.borrow(), ["raise", "lower", "lower"]);
    }

    #[test]
    fn test_resample_retriggers_only_while_high() {
        let line = ResampleIrqFd::new(
            EventFd::new(EFD_NONBLOCK).unwrap(),
            EventFd::new(EFD_NONBLOCK).unwrap(),
        );
        line.resample_fd.write(1).unwrap();
        line.resample(false).unwrap();
        assert!(
            line.trigger_fd.read().is_err(),
            "low line must not re-assert"
        );
        // An empty resample fd is fine too.
        line.resample(true).unwrap();
        assert_eq!(line.trigger_fd.read().unwrap(), 1);
        line.lower().unwrap();
        assert!(line.trigger_fd.read().is_err(), "lower is KVM's job");
    }
}
