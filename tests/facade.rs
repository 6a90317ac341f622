//! Facade-level tests: every device is reachable through `superio`, and the
//! devices share one interrupt and bus vocabulary (`superio::core`).

use superio::core::test_utils::{RecordingIrq, TestSink};
use superio::core::{BusDevice, Mmio32, MmioBytes, PioBytes};

/// 16550 register offsets and bits, from the datasheet (not from the crate).
const THR: u64 = 0;
const IER: u64 = 1;
const IIR: u64 = 2;
const FCR: u64 = 2;
const MCR: u64 = 4;
const LSR: u64 = 5;
const IER_THRI: u8 = 0x02;
const MCR_OUT2: u8 = 0x08;
const LSR_THRE_TEMT: u8 = 0x60;

fn read(bus: &mut dyn BusDevice, offset: u64) -> u8 {
    let mut d = [0u8];
    bus.read(offset, &mut d);
    d[0]
}

#[test]
fn test_facade_uart_on_pio_transmits_and_raises_thri() {
    let irq = RecordingIrq::new();
    let sink = TestSink::new();
    let mut com1 = PioBytes::new(superio::uart16550::Uart16550::new(
        irq.clone(),
        sink.clone(),
    ));
    com1.write(MCR, &[MCR_OUT2]);
    com1.write(FCR, &[0x01]);
    com1.write(IER, &[IER_THRI]);
    assert!(irq.level(), "enabling THRI with THR empty raises the line");
    assert_eq!(read(&mut com1, IIR), 0xC2, "FIFO bits + THRI");
    for b in *b"hi" {
        com1.write(THR, &[b]);
    }
    assert_eq!(read(&mut com1, LSR) & LSR_THRE_TEMT, LSR_THRE_TEMT);
    assert_eq!(sink.data(), b"hi");
}

#[test]
fn test_facade_uart_on_mmio_shift2_width4() {
    let sink = TestSink::new();
    let uart = superio::uart16550::Uart16550::new(RecordingIrq::new(), sink.clone());
    let mut bus = MmioBytes::new(uart, 2, 4).unwrap();
    bus.write(THR * 4, &u32::from(b'Z').to_le_bytes());
    let mut lsr = [0u8; 4];
    bus.read(LSR * 4, &mut lsr);
    assert_eq!(lsr[0] & LSR_THRE_TEMT, LSR_THRE_TEMT);
    assert_eq!(&lsr[1..], &[0, 0, 0]);
    assert_eq!(sink.data(), b"Z");
}

#[test]
fn test_facade_i8042_self_test_answers_0x55_through_the_bus() {
    let kbd = RecordingIrq::new();
    let reset = RecordingIrq::new();
    let mut kbc = PioBytes::new(superio::i8042::I8042::new(kbd, reset.clone()));
    kbc.write(4, &[0xAA]); // controller self-test, port 0x64
    assert_eq!(read(&mut kbc, 4) & 0x01, 0x01, "OBF set");
    assert_eq!(read(&mut kbc, 0), 0x55);
    kbc.write(4, &[0xFE]); // pulse reset
    assert_eq!(reset.raises(), 1);
}

#[test]
fn test_facade_pl031_ids_through_mmio32() {
    let clock = superio::pl031::ManualClock::from_secs(1_700_000_000);
    let rtc = superio::pl031::Pl031::with_clock(RecordingIrq::new(), clock);
    let mut bus = Mmio32::new(rtc);
    // PL031 TRM: PeriphID0..3 = 31 10 x4 00, PCellID0..3 = 0D F0 05 B1.
    let ids: Vec<u8> = (0xFE0u64..0x1000)
        .step_by(4)
        .map(|off| {
            let mut d = [0u8; 4];
            bus.read(off, &mut d);
            d[0]
        })
        .collect();
    assert_eq!(ids[0], 0x31);
    assert_eq!(ids[1], 0x10);
    assert_eq!(ids[2] & 0x0F, 0x04);
    assert_eq!(&ids[4..], &[0x0D, 0xF0, 0x05, 0xB1]);
    let mut dr = [0u8; 4];
    bus.read(0, &mut dr);
    assert_eq!(u32::from_le_bytes(dr), 1_700_000_000);
}

#[test]
fn test_facade_devices_share_one_bus_trait_object_type() {
    let mut bus: Vec<Box<dyn BusDevice>> = vec![
        Box::new(PioBytes::new(superio::uart16550::Uart16550::new(
            RecordingIrq::new(),
            TestSink::new(),
        ))),
        Box::new(PioBytes::new(superio::i8042::I8042::new(
            RecordingIrq::new(),
            RecordingIrq::new(),
        ))),
    ];
    // An access at an offset no device decodes reads as a floating bus.
    for dev in &mut bus {
        assert_eq!(read(dev.as_mut(), 0x1000), 0xFF);
    }
}
