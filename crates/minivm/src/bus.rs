//! A port-I/O bus: routes each `in`/`out` exit to the device whose port range
//! holds the port, at an offset relative to the range's start.

use std::fmt;

use superio_core::BusDevice;

/// A device on the bus, shareable with the VMM's I/O thread (see
/// [`superio_core::BusDevice`]'s blanket impl for `Arc<Mutex<D>>`).
pub type SharedDevice = Box<dyn BusDevice + Send>;

struct Range {
    base: u16,
    len: u16,
    name: &'static str,
    device: SharedDevice,
}

/// Routes port accesses to devices. Unclaimed ports read as all ones (a
/// floating ISA bus) and ignore writes.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use minivm::bus::PioBus;
/// use superio_core::{ByteRegisters, PioBytes};
///
/// #[derive(Debug, Default)]
/// struct Latch(u8);
/// impl ByteRegisters for Latch {
///     const REGISTER_COUNT: u8 = 1;
///     fn read_register(&mut self, _: u8) -> u8 { self.0 }
///     fn write_register(&mut self, _: u8, v: u8) { self.0 = v; }
/// }
///
/// let latch = Arc::new(Mutex::new(PioBytes::new(Latch::default())));
/// let mut bus = PioBus::default();
/// bus.insert(0x80, 1, "post", Box::new(Arc::clone(&latch))).unwrap();
/// assert!(bus.write(0x80, &[0x42]));
/// let mut data = [0u8];
/// assert!(bus.read(0x80, &mut data));
/// assert_eq!(data, [0x42]);
/// assert!(!bus.read(0x81, &mut data)); // nobody there
/// assert_eq!(data, [0xff]);
/// ```
#[derive(Default)]
pub struct PioBus {
    ranges: Vec<Range>,
}

impl fmt::Debug for PioBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for r in &self.ranges {
            list.entry(&format_args!(
                "{:#x}..={:#x} {}",
                r.base,
                u32::from(r.base) + u32::from(r.len) - 1,
                r.name
            ));
        }
        list.finish()
    }
}

/// Why a device could not be put on the bus.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusError {
    /// The range is empty or runs past port 0xFFFF: pick a valid range.
    #[error("invalid port range {base:#x} + {len}")]
    InvalidRange {
        /// First port.
        base: u16,
        /// Number of ports.
        len: u16,
    },
    /// The range overlaps a device already on the bus: pick another range.
    #[error("port range {base:#x} + {len} overlaps {other}")]
    Overlap {
        /// First port.
        base: u16,
        /// Number of ports.
        len: u16,
        /// The device already there.
        other: &'static str,
    },
}

impl PioBus {
    /// Puts `device` on ports `base..base + len`.
    ///
    /// # Errors
    /// [`BusError`] if the range is empty, wraps, or overlaps another device.
    pub fn insert(
        &mut self,
        base: u16,
        len: u16,
        name: &'static str,
        device: SharedDevice,
    ) -> Result<(), BusError> {
        let end = u32::from(base) + u32::from(len);
        if len == 0 || end > 0x1_0000 {
            return Err(BusError::InvalidRange { base, len });
        }
        if let Some(other) = self.ranges.iter().find(|r| {
            u32::from(base) < u32::from(r.base) + u32::from(r.len) && u32::from(r.base) < end
        }) {
            return Err(BusError::Overlap {
                base,
                len,
                other: other.name,
            });
        }
        self.ranges.push(Range {
            base,
            len,
            name,
            device,
        });
        Ok(())
    }

    fn find(&mut self, port: u16) -> Option<(&mut Range, u64)> {
        self.ranges.iter_mut().find_map(|r| {
            let offset = port.checked_sub(r.base)?;
            (offset < r.len).then_some((r, u64::from(offset)))
        })
    }

    /// An `in` of `data.len()` bytes at `port`. Returns false (and fills
    /// `data` with 0xFF) when no device claims the port.
    pub fn read(&mut self, port: u16, data: &mut [u8]) -> bool {
        if let Some((range, offset)) = self.find(port) {
            range.device.read(offset, data);
            true
        } else {
            data.fill(0xff);
            false
        }
    }

    /// An `out` of `data` at `port`. Returns false when no device claims it.
    pub fn write(&mut self, port: u16, data: &[u8]) -> bool {
        if let Some((range, offset)) = self.find(port) {
            range.device.write(offset, data);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records the last access it saw: (offset, bytes).
    #[derive(Default)]
    struct Probe(Vec<(u64, Vec<u8>)>);
    impl BusDevice for Probe {
        fn read(&mut self, offset: u64, data: &mut [u8]) {
            data.fill(0x42);
            self.0.push((offset, data.to_vec()));
        }
        fn write(&mut self, offset: u64, data: &[u8]) {
            self.0.push((offset, data.to_vec()));
        }
    }

    fn bus_with_probe(base: u16, len: u16) -> (PioBus, Arc<Mutex<Probe>>) {
        let probe = Arc::new(Mutex::new(Probe::default()));
        let mut bus = PioBus::default();
        bus.insert(base, len, "probe", Box::new(Arc::clone(&probe)))
            .unwrap();
        (bus, probe)
    }

    #[test]
    fn test_write_inside_range_reaches_device_at_relative_offset() {
        let (mut bus, probe) = bus_with_probe(0x3f8, 8);
        assert!(bus.write(0x3fd, &[7]));
        assert_eq!(probe.lock().unwrap().0, [(5, vec![7])]);
    }

    #[test]
    fn test_read_outside_range_is_unclaimed_and_floats_high() {
        let (mut bus, probe) = bus_with_probe(0x3f8, 8);
        let mut data = [0u8; 2];
        assert!(!bus.read(0x400, &mut data));
        assert_eq!(data, [0xff, 0xff]);
        assert!(probe.lock().unwrap().0.is_empty());
    }

    #[test]
    fn test_last_port_of_range_is_claimed_and_next_is_not() {
        let (mut bus, _) = bus_with_probe(0x60, 5);
        let mut data = [0u8];
        assert!(bus.read(0x64, &mut data));
        assert!(!bus.read(0x65, &mut data));
    }

    #[test]
    fn test_overlapping_insert_is_refused() {
        let (mut bus, _) = bus_with_probe(0x60, 5);
        let err = bus
            .insert(0x64, 1, "other", Box::new(Probe::default()))
            .unwrap_err();
        assert_eq!(
            err,
            BusError::Overlap {
                base: 0x64,
                len: 1,
                other: "probe"
            }
        );
    }

    #[test]
    fn test_range_past_last_port_is_refused() {
        let mut bus = PioBus::default();
        let err = bus
            .insert(0xffff, 2, "wrap", Box::new(Probe::default()))
            .unwrap_err();
        assert_eq!(
            err,
            BusError::InvalidRange {
                base: 0xffff,
                len: 2
            }
        );
    }

    #[test]
    fn test_empty_range_is_refused() {
        let mut bus = PioBus::default();
        assert!(bus
            .insert(0x80, 0, "empty", Box::new(Probe::default()))
            .is_err());
    }
}
