//! Test support shared by the device crates (feature `test-utils`):
//! a recording interrupt sink and an in-memory output sink with configurable
//! back-pressure. Both are cheap `Clone` handles onto shared state, so a test
//! keeps one handle while the device owns the other.
//!
//! ```
//! use std::io::Write;
//! use superio_core::test_utils::{RecordingIrq, TestSink};
//! use superio_core::{IrqLine, Trigger};
//!
//! let irq = RecordingIrq::new();
//! let mut line = IrqLine::new(irq.clone());
//! line.set_level(true).unwrap();
//! assert_eq!((irq.raises(), irq.lowers(), irq.level()), (1, 0, true));
//!
//! let sink = TestSink::with_budget(2);
//! let mut writer = sink.clone();
//! assert_eq!(writer.write(b"abc").unwrap(), 2); // short write: budget exhausted
//! assert_eq!(writer.write(b"c").unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
//! sink.add_budget(1);
//! writer.write_all(b"c").unwrap();
//! assert_eq!(sink.data(), b"abc");
//! ```

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::Trigger;

/// One call an interrupt sink received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqEvent {
    /// `trigger()`.
    Raise,
    /// `lower()`.
    Lower,
}

#[derive(Debug, Default)]
struct IrqState {
    level: bool,
    raises: u64,
    lowers: u64,
    /// Calls that did not change the level (raise while high, lower while low).
    redundant: u64,
    fail_next: u32,
    events: Vec<IrqEvent>,
}

/// How many events [`RecordingIrq`] keeps; the counters keep counting past it.
pub const IRQ_EVENT_LOG_LIMIT: usize = 4096;

/// A level sink that records every call. Clone it to keep a handle.
///
/// It also counts *redundant* calls (a raise while already high, a lower while
/// already low): a device that publishes levels correctly never makes one.
#[derive(Debug, Clone, Default)]
pub struct RecordingIrq(Arc<Mutex<IrqState>>);

/// The error [`RecordingIrq`] returns when told to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedIrqError;

impl RecordingIrq {
    /// A sink whose line starts low.
    pub fn new() -> Self {
        Self::default()
    }
    fn state(&self) -> MutexGuard<'_, IrqState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
    /// The current level as the sink sees it.
    pub fn level(&self) -> bool {
        self.state().level
    }
    /// Successful `trigger()` calls.
    pub fn raises(&self) -> u64 {
        self.state().raises
    }
    /// Successful `lower()` calls.
    pub fn lowers(&self) -> u64 {
        self.state().lowers
    }
    /// Calls that did not change the level.
    pub fn redundant(&self) -> u64 {
        self.state().redundant
    }
    /// The first [`IRQ_EVENT_LOG_LIMIT`] successful calls, in order.
    pub fn events(&self) -> Vec<IrqEvent> {
        self.state().events.clone()
    }
    /// Clears counters and the event log (the level stays).
    pub fn clear(&self) {
        let mut s = self.state();
        s.raises = 0;
        s.lowers = 0;
        s.redundant = 0;
        s.events.clear();
    }
    /// Makes the next `n` calls fail with [`InjectedIrqError`].
    pub fn fail_next(&self, n: u32) {
        self.state().fail_next = n;
    }

    fn record(&self, event: IrqEvent) -> Result<(), InjectedIrqError> {
        let mut s = self.state();
        if s.fail_next > 0 {
            s.fail_next -= 1;
            return Err(InjectedIrqError);
        }
        let high = event == IrqEvent::Raise;
        if s.level == high {
            s.redundant += 1;
        }
        s.level = high;
        if high {
            s.raises += 1;
        } else {
            s.lowers += 1;
        }
        if s.events.len() < IRQ_EVENT_LOG_LIMIT {
            s.events.push(event);
        }
        Ok(())
    }
}

impl Trigger for RecordingIrq {
    type E = InjectedIrqError;
    fn trigger(&self) -> Result<(), InjectedIrqError> {
        self.record(IrqEvent::Raise)
    }
    fn lower(&self) -> Result<(), InjectedIrqError> {
        self.record(IrqEvent::Lower)
    }
}

#[derive(Debug, Default)]
struct SinkState {
    data: Vec<u8>,
    /// Bytes still accepted before `WouldBlock`; `None` = unlimited.
    budget: Option<usize>,
    /// Largest number of bytes one `write` call accepts; `None` = unlimited.
    max_write: Option<usize>,
    /// An error every call returns while set (e.g. `BrokenPipe`).
    error: Option<io::ErrorKind>,
    write_calls: u64,
    flushes: u64,
}

/// An in-memory `io::Write` with configurable back-pressure. Clone it to keep a
/// handle on what was written.
///
/// - a *budget* of bytes it accepts before answering `WouldBlock` (a short
///   write when a call crosses it);
/// - a cap on bytes per call (short writes);
/// - an error kind every call returns while set.
#[derive(Debug, Clone, Default)]
pub struct TestSink(Arc<Mutex<SinkState>>);

impl TestSink {
    /// A sink that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }
    /// A sink that accepts `budget` bytes, then blocks.
    pub fn with_budget(budget: usize) -> Self {
        let s = Self::default();
        s.set_budget(Some(budget));
        s
    }
    fn state(&self) -> MutexGuard<'_, SinkState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
    /// Sets the remaining budget (`None`: unlimited).
    pub fn set_budget(&self, budget: Option<usize>) {
        self.state().budget = budget;
    }
    /// Lets `n` more bytes through (no effect while unlimited).
    pub fn add_budget(&self, n: usize) {
        if let Some(b) = self.state().budget.as_mut() {
            *b = b.saturating_add(n);
        }
    }
    /// Caps the bytes a single `write` call accepts (`None`: no cap).
    pub fn set_max_write(&self, max: Option<usize>) {
        self.state().max_write = max;
    }
    /// Makes every call fail with `kind` (`None`: stop failing).
    pub fn set_error(&self, kind: Option<io::ErrorKind>) {
        self.state().error = kind;
    }
    /// Everything accepted so far.
    pub fn data(&self) -> Vec<u8> {
        self.state().data.clone()
    }
    /// Takes everything accepted so far, leaving the sink empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.state().data)
    }
    /// Bytes accepted so far.
    pub fn len(&self) -> usize {
        self.state().data.len()
    }
    /// Whether nothing was accepted yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `write` calls so far, including refused ones.
    pub fn write_calls(&self) -> u64 {
        self.state().write_calls
    }
    /// `flush` calls so far.
    pub fn flushes(&self) -> u64 {
        self.state().flushes
    }
}

impl io::Write for TestSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.state();
        s.write_calls += 1;
        if let Some(kind) = s.error {
            return Err(kind.into());
        }
        let mut n = buf.len();
        if let Some(max) = s.max_write {
            n = n.min(max);
        }
        if let Some(budget) = s.budget {
            if budget == 0 && !buf.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            n = n.min(budget);
            s.budget = Some(budget - n);
        }
        s.data.extend_from_slice(buf.get(..n).unwrap_or(buf));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut s = self.state();
        s.flushes += 1;
        match s.error {
            Some(kind) => Err(kind.into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IrqLine;
    use std::io::Write;

    #[test]
    fn test_recording_irq_counts_and_logs() {
        let irq = RecordingIrq::new();
        let mut line = IrqLine::new(irq.clone());
        for l in [true, false, true] {
            line.set_level(l).unwrap();
        }
        assert_eq!(
            irq.events(),
            [IrqEvent::Raise, IrqEvent::Lower, IrqEvent::Raise]
        );
        assert_eq!((irq.raises(), irq.lowers(), irq.redundant()), (2, 1, 0));
        irq.clear();
        assert_eq!(irq.raises(), 0);
        assert!(irq.level());
    }

    #[test]
    fn test_recording_irq_flags_redundant_calls() {
        let irq = RecordingIrq::new();
        irq.trigger().unwrap();
        irq.trigger().unwrap();
        irq.lower().unwrap();
        irq.lower().unwrap();
        assert_eq!(irq.redundant(), 2);
    }

    #[test]
    fn test_recording_irq_injected_failure() {
        let irq = RecordingIrq::new();
        irq.fail_next(1);
        assert_eq!(irq.trigger(), Err(InjectedIrqError));
        assert!(!irq.level());
        assert_eq!(irq.trigger(), Ok(()));
        assert!(irq.level());
    }

    #[test]
    fn test_sink_short_writes_and_errors() {
        let sink = TestSink::new();
        let mut w = sink.clone();
        sink.set_max_write(Some(3));
        assert_eq!(w.write(b"hello").unwrap(), 3);
        sink.set_max_write(None);
        sink.set_error(Some(io::ErrorKind::BrokenPipe));
        assert_eq!(w.write(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert!(w.flush().is_err());
        sink.set_error(None);
        w.flush().unwrap();
        assert_eq!(sink.data(), b"hel");
        assert_eq!((sink.write_calls(), sink.flushes()), (2, 2));
        assert_eq!(sink.take(), b"hel");
        assert!(sink.is_empty());
    }

    #[test]
    fn test_sink_budget_blocks_then_resumes() {
        let sink = TestSink::with_budget(4);
        let mut w = sink.clone();
        assert_eq!(w.write(b"abcdef").unwrap(), 4);
        assert_eq!(
            w.write(b"ef").unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(w.write(b"").unwrap(), 0);
        sink.add_budget(2);
        assert_eq!(w.write(b"ef").unwrap(), 2);
        assert_eq!(sink.data(), b"abcdef");
    }
}

/// Counting log records, for tests that a guest cannot flood the host's log.
///
/// [`log_count::records`] installs a process-wide logger (once) that counts
/// every record by target, per thread, so tests running in parallel threads
/// each see only their own records.
///
/// ```
/// use superio_core::test_utils::log_count;
///
/// let before = log_count::records("my_crate");
/// log::warn!(target: "my_crate::device", "something odd");
/// log::warn!(target: "other_crate", "not counted");
/// assert_eq!(log_count::records("my_crate") - before, 1);
/// ```
pub mod log_count {
    use std::cell::RefCell;
    use std::collections::HashMap;

    thread_local! {
        static RECORDS: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    }

    struct Counter;

    impl log::Log for Counter {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            RECORDS.with(|r| {
                let mut r = r.borrow_mut();
                match r.get_mut(record.target()) {
                    Some(n) => *n += 1,
                    None => {
                        r.insert(record.target().to_owned(), 1);
                    }
                }
            });
        }
        fn flush(&self) {}
    }

    static COUNTER: Counter = Counter;

    /// Installs the counting logger (if no logger is installed yet) and
    /// returns how many records this thread has logged with a target that
    /// starts with `target_prefix` (e.g. a crate name such as
    /// `superio_uart16550`).
    pub fn records(target_prefix: &str) -> u64 {
        let _ = log::set_logger(&COUNTER);
        log::set_max_level(log::LevelFilter::Trace);
        RECORDS.with(|r| {
            r.borrow()
                .iter()
                .filter(|(target, _)| target.starts_with(target_prefix))
                .map(|(_, n)| *n)
                .sum()
        })
    }
}
