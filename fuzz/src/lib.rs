//! Interpreters that turn fuzz bytes into device workloads, shared by the
//! libFuzzer targets (`fuzz_targets/`) and by `cargo test` here, which replays
//! the committed seeds (`seeds/<target>/`).
//!
//! Each `run_ops` decodes a stream of operations: guest register accesses (any
//! offset, any width, through the `superio-core` bus adapters a VMM uses) and
//! host calls (input, keys, clock jumps, sink back-pressure, drain, reset,
//! snapshot + restore). After every operation it checks the device's
//! invariants and panics on a violation, which libFuzzer reports as a crash.
//! Each `run_state` feeds arbitrary bytes to the state deserializer and
//! `from_state`, then drives an accepted state like `run_ops`.

pub mod i8042;
pub mod pl031;
pub mod uart;

use superio_core::{BusDevice, ByteRegisters, MmioBytes, PioBytes};

/// Reads the fuzz input front to back; past the end every read is 0, so an
/// interpreter never has to handle a short input specially.
#[derive(Debug)]
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// True once every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, or 0.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `N` bytes (zero-padded).
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.u8();
        }
        out
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// Everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Decodes one guest access: three times in four a valid register with the
/// bus's own width, otherwise a hostile one (any offset, any width from 0 to
/// 8 bytes), so that both the device logic and the adapters' refusal paths
/// get exercised.
pub fn decode_access(c: &mut Cursor<'_>, reg_count: u32, shift: u8, width: usize) -> (u64, usize) {
    let b = c.u8();
    if b & 0xC0 != 0xC0 {
        let reg = u64::from(u32::from(b & 0x3F) % reg_count);
        return (reg << shift, width);
    }
    let offset = match b & 0x3 {
        0 => u64::from(c.u8()),
        1 => u64::from(c.u16()),
        2 => c.u64(),
        _ => u64::MAX - u64::from(c.u8() & 7),
    };
    let len = usize::from(c.u8() % 9);
    (offset, len)
}

/// A byte-register device on one of the bus layouts a VMM uses for it: PC
/// port I/O, or MMIO with a register shift and I/O width.
#[derive(Debug)]
pub enum ByteBus<D: ByteRegisters> {
    /// `PioBytes`: 1-byte accesses at consecutive ports.
    Pio(PioBytes<D>),
    /// `MmioBytes` with the given shift and width.
    Mmio(MmioBytes<D>, u8, u8),
}

impl<D: ByteRegisters> ByteBus<D> {
    /// Picks a layout from `mode`: PIO, or one of the valid MMIO
    /// (`reg_shift`, `io_width`) pairs a device tree can describe.
    pub fn new(dev: D, mode: u8) -> Self {
        const LAYOUTS: [(u8, u8); 6] = [(0, 1), (1, 1), (1, 2), (2, 1), (2, 4), (3, 8)];
        match usize::from(mode) % (LAYOUTS.len() + 2) {
            i if i < LAYOUTS.len() => {
                let (shift, width) = LAYOUTS[i];
                let bus = MmioBytes::new(dev, shift, width).expect("a valid MMIO layout");
                ByteBus::Mmio(bus, shift, width)
            }
            _ => ByteBus::Pio(PioBytes::new(dev)),
        }
    }

    /// The layout selector that rebuilds this layout with [`ByteBus::new`].
    pub fn mode(&self) -> u8 {
        match self {
            ByteBus::Pio(_) => 6,
            ByteBus::Mmio(_, 0, 1) => 0,
            ByteBus::Mmio(_, 1, 1) => 1,
            ByteBus::Mmio(_, 1, _) => 2,
            ByteBus::Mmio(_, 2, 1) => 3,
            ByteBus::Mmio(_, 2, _) => 4,
            ByteBus::Mmio(..) => 5,
        }
    }

    /// (`reg_shift`, `io_width`) of the layout.
    pub fn geometry(&self) -> (u8, usize) {
        match self {
            ByteBus::Pio(_) => (0, 1),
            ByteBus::Mmio(_, shift, width) => (*shift, usize::from(*width)),
        }
    }

    /// The device.
    pub fn inner(&self) -> &D {
        match self {
            ByteBus::Pio(b) => b.inner(),
            ByteBus::Mmio(b, ..) => b.inner(),
        }
    }

    /// The device, mutably (host calls).
    pub fn inner_mut(&mut self) -> &mut D {
        match self {
            ByteBus::Pio(b) => b.inner_mut(),
            ByteBus::Mmio(b, ..) => b.inner_mut(),
        }
    }

    /// Takes the device off the bus.
    pub fn into_inner(self) -> D {
        match self {
            ByteBus::Pio(b) => b.into_inner(),
            ByteBus::Mmio(b, ..) => b.into_inner(),
        }
    }

    /// Whether the adapter must accept an access: the right width, on a
    /// register boundary, inside the register block. Computed here from the
    /// layout, independently of the adapter.
    pub fn accepts(&self, offset: u64, len: usize) -> bool {
        let (shift, width) = self.geometry();
        len == width
            && offset.is_multiple_of(1u64 << shift)
            && (offset >> shift) < u64::from(D::REGISTER_COUNT)
    }

    /// A guest read of `len` bytes at `offset`: `Some(register value)` if the
    /// adapter accepted it, `None` if it refused it. A refused read must fill
    /// the whole buffer with the bus's idle value (0xFF on PIO, 0 on MMIO),
    /// and an accepted MMIO read must zero the bytes above the register.
    pub fn read(&mut self, offset: u64, len: usize) -> Option<u8> {
        let accepted = self.accepts(offset, len);
        let mut buf = [0xA5u8; 8];
        let data = &mut buf[..len];
        let idle = match self {
            ByteBus::Pio(b) => {
                b.read(offset, data);
                0xFF
            }
            ByteBus::Mmio(b, ..) => {
                b.read(offset, data);
                0
            }
        };
        if accepted {
            assert!(
                data[1..].iter().all(|&b| b == 0),
                "upper bytes of an MMIO register read: {data:?}"
            );
            Some(data[0])
        } else {
            assert!(
                data.iter().all(|&b| b == idle),
                "refused read at {offset:#x}/{len} returned {data:?}"
            );
            None
        }
    }

    /// A guest write of `len` bytes of `value` (little-endian) at `offset`.
    pub fn write(&mut self, offset: u64, len: usize, value: u8) {
        let mut buf = [0u8; 8];
        buf[0] = value;
        let data = &buf[..len];
        match self {
            ByteBus::Pio(b) => b.write(offset, data),
            ByteBus::Mmio(b, ..) => b.write(offset, data),
        }
    }
}

/// True if `part` is a subsequence of `whole` (order kept, gaps allowed):
/// what a lossy but never reordering or inventing byte path delivers.
pub fn is_subsequence(part: &[u8], whole: &[u8]) -> bool {
    let mut it = whole.iter();
    part.iter().all(|p| it.any(|w| w == p))
}

/// Replays every seed under `seeds/<target>/` through `run`; used by the
/// tests so the seed corpus stays valid as the crates change.
pub fn replay_seeds(target: &str, run: fn(&[u8])) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable seed directory").path())
        .collect();
    entries.sort();
    for path in entries {
        let data = std::fs::read(&path).expect("readable seed");
        run(&data);
        n += 1;
    }
    n
}

/// Calls `step` until the input is used up or `max_steps` steps were taken
/// (the bound keeps one input's run short, so libFuzzer explores more inputs).
pub fn run_steps(c: &mut Cursor<'_>, max_steps: usize, mut step: impl FnMut(&mut Cursor<'_>)) {
    let mut steps = 0;
    while !c.is_empty() && steps < max_steps {
        step(c);
        steps += 1;
    }
}
