//! The bus side: how a VMM's PIO or MMIO dispatch reaches a device's registers.
//!
//! A VMM bus hands a device an offset inside its window and a byte buffer whose
//! length is the access width. Devices do not deal with that: they expose
//! registers ([`ByteRegisters`] or [`WordRegisters`]), and one adapter per bus
//! layout validates the access once:
//!
//! | adapter | layout | valid access |
//! |---|---|---|
//! | [`PioBytes`] | byte registers at consecutive I/O ports (PC COM ports, 0x60/0x64) | 1 byte at `0..REGISTER_COUNT` |
//! | [`MmioBytes`] | byte registers spaced `1 << reg_shift` apart (DT `reg-shift`, `reg-io-width`) | `io_width` bytes at a multiple of the stride |
//! | [`Mmio32`] | 32-bit little-endian registers (AMBA PrimeCells such as the PL031) | 4 bytes, 4-aligned, inside the window |
//!
//! Anything else is counted in [`BusStats`] and ignored: a write does nothing,
//! a read returns the adapter's floating-bus value. Nothing here panics, whatever
//! the offset (up to `u64::MAX`) or the buffer length (including 0). Bad accesses
//! are logged at `debug` level only, and only when their count reaches a power
//! of two, so a guest cannot flood the host log.

use std::sync::{Arc, Mutex, PoisonError};

/// Register-level access as a VMM bus performs it.
///
/// `offset` is relative to the start of the device's window; `data.len()` is the
/// access width. Implementations must accept any offset and any length without
/// panicking.
///
/// Blanket implementations let `&mut D`, `Box<D>`, `Mutex<D>` and
/// `Arc<Mutex<D>>` sit on a bus directly (a poisoned mutex is recovered, not
/// propagated: device state stays consistent between accesses).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use superio_core::{BusDevice, ByteRegisters, PioBytes};
///
/// #[derive(Debug, Default)]
/// struct Latch(u8);
/// impl ByteRegisters for Latch {
///     const REGISTER_COUNT: u8 = 1;
///     fn read_register(&mut self, _: u8) -> u8 { self.0 }
///     fn write_register(&mut self, _: u8, v: u8) { self.0 = v; }
/// }
///
/// // The VMM keeps one handle, the bus another.
/// let shared = Arc::new(Mutex::new(PioBytes::new(Latch::default())));
/// let mut on_bus: Box<dyn BusDevice> = Box::new(Arc::clone(&shared));
/// on_bus.write(0, &[7]);
/// assert_eq!(shared.lock().unwrap().inner().0, 7);
/// ```
pub trait BusDevice {
    /// A read of `data.len()` bytes at `offset`; fills `data`.
    fn read(&mut self, offset: u64, data: &mut [u8]);
    /// A write of `data` at `offset`.
    fn write(&mut self, offset: u64, data: &[u8]);
}

impl<D: BusDevice + ?Sized> BusDevice for &mut D {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        (**self).read(offset, data);
    }
    fn write(&mut self, offset: u64, data: &[u8]) {
        (**self).write(offset, data);
    }
}

impl<D: BusDevice + ?Sized> BusDevice for Box<D> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        (**self).read(offset, data);
    }
    fn write(&mut self, offset: u64, data: &[u8]) {
        (**self).write(offset, data);
    }
}

impl<D: BusDevice + ?Sized> BusDevice for Mutex<D> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        self.get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .read(offset, data);
    }
    fn write(&mut self, offset: u64, data: &[u8]) {
        self.get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .write(offset, data);
    }
}

impl<D: BusDevice + ?Sized> BusDevice for Arc<Mutex<D>> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        self.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .read(offset, data);
    }
    fn write(&mut self, offset: u64, data: &[u8]) {
        self.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(offset, data);
    }
}

/// A device made of byte-wide registers numbered `0..REGISTER_COUNT`
/// (16550 UART: 8; i8042: 5, data at 0 and status/command at 4).
///
/// Adapters call these only with `reg < REGISTER_COUNT`. A device with holes in
/// its register range handles (and counts) them itself.
pub trait ByteRegisters {
    /// How many consecutive register numbers the device decodes.
    const REGISTER_COUNT: u8;
    /// Reads register `reg`, with its side effects (e.g. popping a FIFO).
    fn read_register(&mut self, reg: u8) -> u8;
    /// Writes `value` to register `reg`.
    fn write_register(&mut self, reg: u8, value: u8);
}

/// A device made of 32-bit registers at 4-aligned offsets in a window of
/// `WINDOW_SIZE` bytes (PL031: 0x1000).
///
/// Adapters call these only with `offset % 4 == 0 && offset < WINDOW_SIZE`.
pub trait WordRegisters {
    /// Size of the register window in bytes; a multiple of 4.
    const WINDOW_SIZE: u32;
    /// Reads the register at `offset`.
    fn read_word(&mut self, offset: u32) -> u32;
    /// Writes the register at `offset`.
    fn write_word(&mut self, offset: u32, value: u32);
}

/// Counts of accesses an adapter refused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BusStats {
    /// Accesses outside the device's registers (or between them, misaligned).
    pub invalid_offset: u64,
    /// Accesses of a width the layout does not allow.
    pub invalid_width: u64,
}

impl BusStats {
    fn count(counter: &mut u64, what: &str, offset: u64, len: usize) {
        *counter = counter.saturating_add(1);
        if counter.is_power_of_two() {
            log::debug!("superio: ignored {what} access at offset {offset:#x}, {len} bytes (seen {counter} times)");
        }
    }
    fn bad_offset(&mut self, offset: u64, len: usize) {
        Self::count(&mut self.invalid_offset, "out-of-range", offset, len);
    }
    fn bad_width(&mut self, offset: u64, len: usize) {
        Self::count(&mut self.invalid_width, "wrong-width", offset, len);
    }
}

/// The adapter settings were not a layout a bus can have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusConfigError {
    /// `reg_shift` above 3: registers more than 8 bytes apart. Use the
    /// shift from the device tree's `reg-shift` (0, 1 or 2 in practice).
    #[error("reg_shift {0} is too large: registers can be at most 8 bytes apart (shift 3)")]
    RegShift(u8),
    /// `io_width` not 1, 2, 4 or 8, or wider than the register stride. Use the
    /// device tree's `reg-io-width`, at most `1 << reg_shift`.
    #[error(
        "io_width {io_width} is not 1, 2, 4 or 8 bytes fitting the {stride}-byte register stride"
    )]
    IoWidth {
        /// The requested access width.
        io_width: u8,
        /// `1 << reg_shift`.
        stride: u8,
    },
}

fn fill(data: &mut [u8], value: u8) {
    data.iter_mut().for_each(|b| *b = value);
}

/// Byte registers at consecutive I/O ports: the PC layout of COM ports and the
/// i8042. Only 1-byte accesses are valid; refused reads return 0xFF, as a
/// floating ISA bus does (Linux treats 0xFF as "no device", CONFORMANCE U16).
#[derive(Debug)]
pub struct PioBytes<D> {
    dev: D,
    stats: BusStats,
}

impl<D: ByteRegisters> PioBytes<D> {
    /// Puts `dev` on a port-I/O bus.
    pub fn new(dev: D) -> Self {
        Self {
            dev,
            stats: BusStats::default(),
        }
    }

    /// Refused accesses so far.
    pub fn stats(&self) -> BusStats {
        self.stats
    }
    /// The device.
    pub fn inner(&self) -> &D {
        &self.dev
    }
    /// The device, mutably (host-side calls such as input injection).
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.dev
    }
    /// Takes the device back off the bus.
    pub fn into_inner(self) -> D {
        self.dev
    }

    fn register(&mut self, offset: u64, len: usize) -> Option<u8> {
        if len != 1 {
            self.stats.bad_width(offset, len);
            return None;
        }
        match u8::try_from(offset) {
            Ok(reg) if reg < D::REGISTER_COUNT => Some(reg),
            _ => {
                self.stats.bad_offset(offset, len);
                None
            }
        }
    }
}

impl<D: ByteRegisters> BusDevice for PioBytes<D> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        match (self.register(offset, data.len()), data.first_mut()) {
            (Some(reg), Some(out)) => *out = self.dev.read_register(reg),
            _ => fill(data, 0xff),
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if let (Some(reg), Some(&value)) = (self.register(offset, data.len()), data.first()) {
            self.dev.write_register(reg, value);
        }
    }
}

/// Byte registers on MMIO, `1 << reg_shift` bytes apart, accessed `io_width`
/// bytes at a time: the device-tree `ns16550a` layout with `reg-shift` and
/// `reg-io-width` (e.g. shift 2, width 4: registers at 0, 4, 8, … read with
/// 32-bit loads).
///
/// A valid access starts at a multiple of the stride and is `io_width` bytes
/// wide. The register value sits in the lowest-addressed byte (little-endian);
/// the other bytes of a read are 0 and those of a write are ignored. Refused
/// reads return zeros.
///
/// ```
/// use superio_core::{BusDevice, ByteRegisters, MmioBytes};
///
/// #[derive(Debug, Default)]
/// struct Regs([u8; 8]);
/// impl ByteRegisters for Regs {
///     const REGISTER_COUNT: u8 = 8;
///     fn read_register(&mut self, r: u8) -> u8 { self.0.get(usize::from(r)).copied().unwrap_or(0) }
///     fn write_register(&mut self, r: u8, v: u8) {
///         if let Some(slot) = self.0.get_mut(usize::from(r)) { *slot = v; }
///     }
/// }
///
/// // reg-shift = <2>, reg-io-width = <4>
/// let mut bus = MmioBytes::new(Regs::default(), 2, 4).unwrap();
/// bus.write(7 * 4, &0x5au32.to_le_bytes()); // register 7
/// let mut word = [0xffu8; 4];
/// bus.read(7 * 4, &mut word);
/// assert_eq!(u32::from_le_bytes(word), 0x5a);
/// assert_eq!(bus.inner().0[7], 0x5a);
/// ```
#[derive(Debug)]
pub struct MmioBytes<D> {
    dev: D,
    reg_shift: u8,
    io_width: u8,
    stats: BusStats,
}

impl<D: ByteRegisters> MmioBytes<D> {
    /// Puts `dev` on an MMIO bus with the given register shift and access width.
    ///
    /// # Errors
    /// [`BusConfigError`] when `reg_shift > 3`, or `io_width` is not 1, 2, 4 or
    /// 8, or is wider than the stride `1 << reg_shift`.
    pub fn new(dev: D, reg_shift: u8, io_width: u8) -> Result<Self, BusConfigError> {
        if reg_shift > 3 {
            return Err(BusConfigError::RegShift(reg_shift));
        }
        let stride = 1u8 << reg_shift;
        if !io_width.is_power_of_two() || io_width > stride {
            return Err(BusConfigError::IoWidth { io_width, stride });
        }
        Ok(Self {
            dev,
            reg_shift,
            io_width,
            stats: BusStats::default(),
        })
    }

    /// Size of the window the device decodes: `REGISTER_COUNT << reg_shift`.
    pub fn window_size(&self) -> u64 {
        u64::from(D::REGISTER_COUNT) << self.reg_shift
    }
    /// Refused accesses so far.
    pub fn stats(&self) -> BusStats {
        self.stats
    }
    /// The device.
    pub fn inner(&self) -> &D {
        &self.dev
    }
    /// The device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.dev
    }
    /// Takes the device back off the bus.
    pub fn into_inner(self) -> D {
        self.dev
    }

    fn register(&mut self, offset: u64, len: usize) -> Option<u8> {
        if len != usize::from(self.io_width) {
            self.stats.bad_width(offset, len);
            return None;
        }
        let stride_mask = (1u64 << self.reg_shift) - 1;
        if offset & stride_mask != 0 {
            self.stats.bad_offset(offset, len);
            return None;
        }
        match u8::try_from(offset >> self.reg_shift) {
            Ok(reg) if reg < D::REGISTER_COUNT => Some(reg),
            _ => {
                self.stats.bad_offset(offset, len);
                None
            }
        }
    }
}

impl<D: ByteRegisters> BusDevice for MmioBytes<D> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let reg = self.register(offset, data.len());
        fill(data, 0);
        if let (Some(reg), Some(out)) = (reg, data.first_mut()) {
            *out = self.dev.read_register(reg);
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if let (Some(reg), Some(&value)) = (self.register(offset, data.len()), data.first()) {
            self.dev.write_register(reg, value);
        }
    }
}

/// 32-bit little-endian registers on MMIO, as AMBA PrimeCells (PL031) have.
/// Only 4-byte, 4-aligned accesses inside `WINDOW_SIZE` are valid; refused
/// reads return zeros.
///
/// ```
/// use superio_core::{BusDevice, Mmio32, WordRegisters};
///
/// #[derive(Debug, Default)]
/// struct Id;
/// impl WordRegisters for Id {
///     const WINDOW_SIZE: u32 = 0x1000;
///     fn read_word(&mut self, offset: u32) -> u32 { if offset == 0xff0 { 0x0d } else { 0 } }
///     fn write_word(&mut self, _: u32, _: u32) {}
/// }
///
/// let mut bus = Mmio32::new(Id);
/// let mut data = [0u8; 4];
/// bus.read(0xff0, &mut data);
/// assert_eq!(u32::from_le_bytes(data), 0x0d);
/// bus.read(0xff1, &mut data); // misaligned: refused, reads 0
/// assert_eq!(data, [0; 4]);
/// assert_eq!(bus.stats().invalid_offset, 1);
/// ```
#[derive(Debug)]
pub struct Mmio32<D> {
    dev: D,
    stats: BusStats,
}

impl<D: WordRegisters> Mmio32<D> {
    /// Puts `dev` on an MMIO bus.
    pub fn new(dev: D) -> Self {
        Self {
            dev,
            stats: BusStats::default(),
        }
    }
    /// Refused accesses so far.
    pub fn stats(&self) -> BusStats {
        self.stats
    }
    /// The device.
    pub fn inner(&self) -> &D {
        &self.dev
    }
    /// The device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.dev
    }
    /// Takes the device back off the bus.
    pub fn into_inner(self) -> D {
        self.dev
    }

    #[inline]
    fn register(&mut self, offset: u64, len: usize) -> Option<u32> {
        if len != 4 {
            self.stats.bad_width(offset, len);
            return None;
        }
        // For a power-of-two window (every device in this workspace) the
        // range and alignment checks are one mask test: any bit set at or
        // above the window size, or in the low two, refuses the access. With
        // a runtime offset that is two instructions instead of nine.
        let window = u64::from(D::WINDOW_SIZE);
        let valid = if window.is_power_of_two() {
            offset & (!(window - 1) | 3) == 0
        } else {
            offset % 4 == 0 && offset < window
        };
        match u32::try_from(offset) {
            Ok(off) if valid => Some(off),
            _ => {
                self.stats.bad_offset(offset, len);
                None
            }
        }
    }
}

impl<D: WordRegisters> BusDevice for Mmio32<D> {
    #[inline]
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let value = match self.register(offset, data.len()) {
            Some(off) => self.dev.read_word(off),
            None => 0,
        };
        if let Ok(word) = <&mut [u8; 4]>::try_from(&mut *data) {
            *word = value.to_le_bytes();
        } else {
            fill(data, 0);
        }
    }

    #[inline(always)]
    fn write(&mut self, offset: u64, data: &[u8]) {
        if let (Some(off), Ok(word)) =
            (self.register(offset, data.len()), <[u8; 4]>::try_from(data))
        {
            self.dev.write_word(off, u32::from_le_bytes(word));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight byte registers that log every access.
    #[derive(Debug, Default)]
    struct Regs {
        values: [u8; 8],
        log: Vec<(char, u8, u8)>,
    }
    impl ByteRegisters for Regs {
        const REGISTER_COUNT: u8 = 8;
        fn read_register(&mut self, reg: u8) -> u8 {
            let v = self.values[usize::from(reg)];
            self.log.push(('r', reg, v));
            v
        }
        fn write_register(&mut self, reg: u8, value: u8) {
            self.values[usize::from(reg)] = value;
            self.log.push(('w', reg, value));
        }
    }

    #[derive(Debug, Default)]
    struct Words {
        log: Vec<(char, u32, u32)>,
    }
    impl WordRegisters for Words {
        const WINDOW_SIZE: u32 = 0x1000;
        fn read_word(&mut self, offset: u32) -> u32 {
            self.log.push(('r', offset, 0));
            0xb105_f00d
        }
        fn write_word(&mut self, offset: u32, value: u32) {
            self.log.push(('w', offset, value));
        }
    }

    const HOSTILE_OFFSETS: [u64; 6] = [8, 0xff, 0x100, 0x1_0000_0000, u64::MAX - 3, u64::MAX];

    #[test]
    fn test_pio_valid_byte_access_reaches_register() {
        let mut bus = PioBytes::new(Regs::default());
        bus.write(7, &[0xa5]);
        let mut d = [0];
        bus.read(7, &mut d);
        assert_eq!(d, [0xa5]);
        assert_eq!(bus.inner().log, [('w', 7, 0xa5), ('r', 7, 0xa5)]);
        assert_eq!(bus.stats(), BusStats::default());
    }

    #[test]
    fn test_pio_hostile_offsets_read_ff_and_are_counted() {
        let mut bus = PioBytes::new(Regs::default());
        for off in HOSTILE_OFFSETS {
            let mut d = [0];
            bus.read(off, &mut d);
            assert_eq!(d, [0xff]);
            bus.write(off, &[1]);
        }
        assert!(bus.inner().log.is_empty());
        assert_eq!(bus.stats().invalid_offset, 12);
    }

    #[test]
    fn test_pio_wrong_widths_are_ignored_and_counted() {
        let mut bus = PioBytes::new(Regs::default());
        for len in [0usize, 2, 3, 4, 8, 4096] {
            let mut d = vec![0u8; len];
            bus.read(0, &mut d);
            assert!(d.iter().all(|&b| b == 0xff));
            bus.write(0, &d);
        }
        assert!(bus.inner().log.is_empty());
        assert_eq!(bus.stats().invalid_width, 12);
    }

    #[test]
    fn test_mmio_bytes_shift2_width4_maps_registers() {
        let mut bus = MmioBytes::new(Regs::default(), 2, 4).unwrap();
        assert_eq!(bus.window_size(), 32);
        bus.write(12, &[0x83, 0xaa, 0xbb, 0xcc]);
        let mut d = [0xee; 4];
        bus.read(12, &mut d);
        assert_eq!(d, [0x83, 0, 0, 0]);
        assert_eq!(bus.inner().values[3], 0x83);
    }

    #[test]
    fn test_mmio_bytes_rejects_misaligned_narrow_and_outside() {
        let mut bus = MmioBytes::new(Regs::default(), 2, 4).unwrap();
        let mut d = [0xee; 4];
        bus.read(13, &mut d); // misaligned
        assert_eq!(d, [0; 4]);
        bus.write(32, &[1, 0, 0, 0]); // one past the last register
        let mut b = [0xee];
        bus.read(12, &mut b); // too narrow for io_width 4
        assert_eq!(b, [0]);
        for off in HOSTILE_OFFSETS {
            bus.write(off.wrapping_mul(4), &[1, 0, 0, 0]);
        }
        assert!(bus.inner().log.is_empty());
        assert_eq!(bus.stats().invalid_width, 1);
        assert_eq!(bus.stats().invalid_offset, 2 + HOSTILE_OFFSETS.len() as u64);
    }

    #[test]
    fn test_mmio_bytes_shift0_is_a_byte_bus() {
        let mut bus = MmioBytes::new(Regs::default(), 0, 1).unwrap();
        bus.write(5, &[9]);
        assert_eq!(bus.inner().values[5], 9);
    }

    #[test]
    fn test_mmio_bytes_rejects_impossible_layouts() {
        assert_eq!(
            MmioBytes::new(Regs::default(), 4, 1).unwrap_err(),
            BusConfigError::RegShift(4)
        );
        assert_eq!(
            MmioBytes::new(Regs::default(), 0, 4).unwrap_err(),
            BusConfigError::IoWidth {
                io_width: 4,
                stride: 1
            }
        );
        assert!(MmioBytes::new(Regs::default(), 2, 3).is_err());
        assert!(MmioBytes::new(Regs::default(), 2, 0).is_err());
    }

    #[test]
    fn test_mmio32_valid_word_access_is_little_endian() {
        let mut bus = Mmio32::new(Words::default());
        bus.write(0x8, &0x1234_5678u32.to_le_bytes());
        let mut d = [0; 4];
        bus.read(0xffc, &mut d);
        assert_eq!(d, [0x0d, 0xf0, 0x05, 0xb1]);
        assert_eq!(bus.inner().log, [('w', 8, 0x1234_5678), ('r', 0xffc, 0)]);
    }

    /// A window that is not a power of two takes the general range check
    /// instead of the mask test; both must accept and refuse the same words.
    #[test]
    fn test_mmio32_odd_sized_window_bounds() {
        #[derive(Debug, Default)]
        struct Odd(Vec<u32>);
        impl WordRegisters for Odd {
            const WINDOW_SIZE: u32 = 0x0c;
            fn read_word(&mut self, offset: u32) -> u32 {
                self.0.push(offset);
                offset
            }
            fn write_word(&mut self, _: u32, _: u32) {}
        }
        let mut bus = Mmio32::new(Odd::default());
        for off in [0u64, 4, 8, 0x0c, 0x0a, 0x10, 1 << 32, u64::MAX - 3] {
            let mut d = [0xee; 4];
            bus.read(off, &mut d);
        }
        assert_eq!(bus.inner().0, [0, 4, 8]);
        assert_eq!(bus.stats().invalid_offset, 5);
    }

    #[test]
    fn test_mmio32_hostile_accesses_never_reach_device() {
        let mut bus = Mmio32::new(Words::default());
        for off in [0x1000, 0x1002, 2, 0xfff, u64::from(u32::MAX), u64::MAX] {
            let mut d = [0xee; 4];
            bus.read(off, &mut d);
            assert_eq!(d, [0; 4]);
            bus.write(off, &d);
        }
        for len in [0usize, 1, 2, 3, 5, 8] {
            let mut d = vec![0xee; len];
            bus.read(0, &mut d);
            assert!(d.iter().all(|&b| b == 0));
            bus.write(0, &d);
        }
        assert!(bus.inner().log.is_empty());
        assert_eq!(bus.stats().invalid_offset, 12);
        assert_eq!(bus.stats().invalid_width, 12);
    }

    #[test]
    fn test_shared_handles_reach_the_same_device() {
        let shared = Arc::new(Mutex::new(PioBytes::new(Regs::default())));
        let mut handle = Arc::clone(&shared);
        handle.write(1, &[3]);
        let mut m = Mutex::new(PioBytes::new(Regs::default()));
        m.write(2, &[4]);
        let mut direct = PioBytes::new(Regs::default());
        {
            let mut r: &mut PioBytes<Regs> = &mut direct;
            BusDevice::write(&mut r, 3, &[5]);
        }
        let mut boxed: Box<dyn BusDevice> = Box::new(PioBytes::new(Regs::default()));
        boxed.write(0, &[1]);
        let mut d = [0];
        boxed.read(0, &mut d);
        assert_eq!(d, [1]);
        assert_eq!(shared.lock().unwrap().inner().values[1], 3);
        assert_eq!(m.get_mut().unwrap().inner().values[2], 4);
        assert_eq!(direct.inner().values[3], 5);
    }

    #[test]
    fn test_poisoned_mutex_is_recovered_not_propagated() {
        let shared = Arc::new(Mutex::new(PioBytes::new(Regs::default())));
        let poisoner = Arc::clone(&shared);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.lock().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(shared.is_poisoned());
        let mut handle = Arc::clone(&shared);
        handle.write(0, &[0x42]);
        let mut d = [0];
        handle.read(0, &mut d);
        assert_eq!(d, [0x42]);
    }

    #[test]
    fn test_counters_saturate_instead_of_overflowing() {
        let mut stats = BusStats {
            invalid_offset: u64::MAX,
            invalid_width: 0,
        };
        stats.bad_offset(0, 1);
        assert_eq!(stats.invalid_offset, u64::MAX);
    }
}
