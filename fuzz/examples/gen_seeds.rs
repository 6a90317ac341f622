//! Writes the seed corpora under `seeds/`: the register sequences of the
//! Linux drivers (the crates' transcript tests, CONFORMANCE.md) encoded in the
//! interpreters' operation format, plus saved states taken after them.
//!
//! `cargo run --example gen_seeds` (from `fuzz/`) regenerates them; the
//! `seeds` test replays them through the interpreters.

use std::fs;
use std::path::Path;

use superio_core::test_utils::{RecordingIrq, TestSink};

/// UART operations (see `src/uart.rs`): PIO, 64-byte FIFOs, OUT2 gate, re-arm.
#[derive(Default)]
struct Uart(Vec<u8>);

impl Uart {
    fn new() -> Self {
        Self(vec![6, 0x0D])
    }
    fn w(&mut self, reg: u8, v: u8) -> &mut Self {
        self.0.extend([0, reg, v]);
        self
    }
    fn r(&mut self, reg: u8) -> &mut Self {
        self.0.extend([5, reg]);
        self
    }
    fn input(&mut self, s: &[u8]) -> &mut Self {
        self.0.extend([7, s.len() as u8]);
        self.0.extend(s);
        self
    }
    fn op(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend(bytes);
        self
    }
}

/// i8042 operations (see `src/i8042.rs`): PIO with an aux line.
struct Kbd(Vec<u8>);

impl Kbd {
    fn new() -> Self {
        Self(vec![0x86])
    }
    fn cmd(&mut self, v: u8) -> &mut Self {
        self.0.extend([0, 2, 4, v]);
        self
    }
    fn data(&mut self, v: u8) -> &mut Self {
        self.0.extend([0, 2, 0, v]);
        self
    }
    fn read(&mut self) -> &mut Self {
        self.0.extend([4, 0]);
        self
    }
    fn status(&mut self) -> &mut Self {
        self.0.extend([4, 1, 4]);
        self
    }
    fn op(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend(bytes);
        self
    }
}

/// PL031 operations (see `src/pl031.rs`): clock at 1.7e9 s.
struct Rtc(Vec<u8>);

impl Rtc {
    fn new() -> Self {
        Self(vec![1])
    }
    /// `reg` is an index into the interpreter's offset table (0 = RTCDR ...
    /// 7 = RTCICR, 8..=15 = the ID registers).
    fn w(&mut self, reg: u8, v: u32) -> &mut Self {
        self.0.extend([0, reg, 2]);
        self.0.extend(v.to_le_bytes());
        self
    }
    fn r(&mut self, reg: u8) -> &mut Self {
        self.0.extend([2, reg]);
        self
    }
    fn op(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend(bytes);
        self
    }
}

fn uart_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    // serial8250 autoconfig (CONFORMANCE §1.3): IER probe, loopback MSR test,
    // FIFO detection through IIR, divisor latch save/restore.
    let mut u = Uart::new();
    u.r(1).w(1, 0).r(1).w(1, 0x0F).r(1).w(1, 0);
    u.r(4).w(4, 0x10).r(6).w(4, 0x1A).r(6).w(4, 0).w(1, 0);
    u.r(3).w(3, 0xBF).w(2, 0).w(3, 0).w(2, 0x01).r(2).w(2, 0);
    u.w(3, 0x80).r(0).r(1).w(0, 0x0C).w(1, 0).w(3, 0x03);
    seeds.push(("autoconfig", u.0));
    // serial8250_startup: clear FIFOs, LSR/RBR/IIR/MSR reads, THRE test with
    // IER toggles, then an 8N1 setup and a line of console output.
    let mut u = Uart::new();
    u.w(2, 0x07)
        .w(2, 0)
        .r(5)
        .r(0)
        .r(2)
        .r(6)
        .w(3, 0x03)
        .w(4, 0x0B);
    u.w(1, 0x02)
        .r(2)
        .w(1, 0)
        .w(1, 0x02)
        .r(2)
        .w(1, 0)
        .r(5)
        .r(0)
        .r(2)
        .r(6);
    u.w(2, 0xC7).w(1, 0x05);
    for b in *b"Linux version 6.1\r\n" {
        u.w(0, b);
    }
    u.op(&[12]).r(5).w(1, 0x07).r(2).r(5);
    seeds.push(("startup_console", u.0));
    // Interrupt-driven receive: input, IIR, LSR/RBR loop; a break (SysRq).
    let mut u = Uart::new();
    u.w(3, 0x03).w(2, 0xC7).w(4, 0x0B).w(1, 0x05);
    u.input(b"root\n")
        .r(2)
        .r(5)
        .r(0)
        .r(5)
        .r(0)
        .r(5)
        .r(0)
        .r(5)
        .r(0)
        .r(5)
        .r(0)
        .r(5)
        .r(2);
    u.op(&[8]).r(2).r(5).r(0).r(5);
    seeds.push(("receive_break", u.0));
    // Back-pressured console: the sink blocks, the guest keeps polling LSR,
    // the sink drains, then a snapshot mid-stream.
    let mut u = Uart::new();
    u.w(3, 0x03).w(2, 0x07).w(4, 0x0B).w(1, 0x02);
    u.op(&[10, 4, 0]); // sink budget 4
    u.op(&[4, 40, b'a']); // a 40-byte THR burst
    u.r(5).r(2).op(&[14, 6]).op(&[10, 0, 1]).op(&[11]).r(5).r(2);
    seeds.push(("backpressure_snapshot", u.0));
    // Loopback self test (serial8250 "ttyS3" style) and a reset.
    let mut u = Uart::new();
    u.w(4, 0x1F)
        .w(2, 0x01)
        .w(0, 0x55)
        .w(0, 0xAA)
        .r(5)
        .r(0)
        .r(0)
        .r(6)
        .w(4, 0)
        .op(&[13]);
    seeds.push(("loopback_reset", u.0));
    seeds
}

fn kbd_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    // i8042_controller_check/init: flush, read CTR, self test, write CTR.
    let mut k = Kbd::new();
    k.status()
        .read()
        .cmd(0x20)
        .status()
        .read()
        .cmd(0xAA)
        .status()
        .read();
    k.cmd(0x60).data(0x65).cmd(0x20).read();
    seeds.push(("controller_init", k.0));
    // i8042_check_aux: the 0xD3 loopback (IRQ12), 0xA9 aux test, 0xA7/0xA8.
    let mut k = Kbd::new();
    k.cmd(0x60)
        .data(0x47)
        .cmd(0xD3)
        .data(0x5A)
        .status()
        .read()
        .cmd(0xA9)
        .read();
    k.cmd(0xA7)
        .cmd(0x20)
        .read()
        .cmd(0xA8)
        .cmd(0x20)
        .read()
        .cmd(0xD4)
        .data(0xF2)
        .read();
    seeds.push(("aux_probe", k.0));
    // atkbd_probe/atkbd_activate: GET ID, reset, set LEDs, scan code set, enable.
    let mut k = Kbd::new();
    k.data(0xF2).read().read().read().data(0xFF).read().read();
    k.data(0xED)
        .read()
        .data(0x07)
        .read()
        .data(0xF0)
        .read()
        .data(0x00)
        .read()
        .read();
    k.data(0xF0)
        .read()
        .data(0x02)
        .read()
        .data(0xF3)
        .read()
        .data(0x2B)
        .read()
        .data(0xF4)
        .read();
    seeds.push(("atkbd_probe", k.0));
    // Typing with translation, Ctrl-Alt-Del, a flood until the queue is full,
    // then the reset pulse and a snapshot.
    let mut k = Kbd::new();
    k.op(&[6, 20, 2]).read().read().read().read().op(&[7, 0, 3]);
    for _ in 0..8 {
        k.op(&[6, 30, 0]);
    }
    k.op(&[10, 6]).read().read().cmd(0xFE).op(&[9]);
    seeds.push(("typing_flood_reset", k.0));
    seeds
}

fn rtc_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    // AMBA probe (IDs), pl031_probe (CR), read_time, set_time.
    let mut r = Rtc::new();
    for id in 8..16 {
        r.r(id);
    }
    r.r(3).w(3, 1).r(0).w(2, 1_800_000_000).r(0);
    seeds.push(("probe_set_time", r.0));
    // set_alarm two seconds ahead, the timer fires, the handler clears it.
    let mut r = Rtc::new();
    r.r(0).op(&[0, 1, 0, 2]).w(4, 1).op(&[8]).r(6).w(7, 1).r(5);
    r.op(&[4, 3, 5, 0]).op(&[11, 1, 0]).op(&[5, 3, 9, 0]);
    seeds.push(("alarm_fire_clear", r.0));
    // Alarm churn with clock jumps both ways, an offset change, reset.
    let mut r = Rtc::new();
    for k in 1..6u8 {
        r.op(&[0, 1, 0, k])
            .w(4, 1)
            .op(&[4, 3, k, 0])
            .op(&[5, 2, k, 0])
            .w(7, 1);
    }
    r.op(&[10, 0, 0, 0, 0, 1, 0, 0, 0, 3])
        .op(&[9])
        .op(&[11, 1, 1]);
    seeds.push(("alarm_churn", r.0));
    seeds
}

fn state_seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    use superio_uart16550::Uart16550;
    let mut out = Vec::new();

    let sink = TestSink::with_budget(0);
    let mut u = Uart16550::new(RecordingIrq::new(), sink);
    for (r, v) in [(3, 0x03), (2, 0xC7), (4, 0x0B), (1, 0x07)] {
        u.write(r, v);
    }
    u.enqueue_raw_bytes(b"ls\n").unwrap();
    u.send_break().unwrap();
    u.write(0, b'x');
    let mut seed = vec![0, 0x0D];
    seed.extend(serde_json::to_vec(&u.state()).unwrap());
    seed.extend([0, 6, 5, 2, 5, 5, 5, 0, 11]);
    out.push(("uart_state", "console_rx_tx", seed));

    let mut k = superio_i8042::I8042::new(RecordingIrq::new(), RecordingIrq::new());
    k.write(4, 0x20);
    k.write(0, 0xED);
    k.press(superio_i8042::Key::A).unwrap();
    let mut seed = vec![0];
    seed.extend(serde_json::to_vec(&k.state()).unwrap());
    seed.extend([0, 6, 4, 0, 4, 0, 0, 2, 0, 0x07]);
    out.push(("i8042_state", "reply_and_key", seed));

    let clock = superio_pl031::ManualClock::from_secs(1_700_000_000);
    let mut r = superio_pl031::Pl031::with_clock(RecordingIrq::new(), clock);
    let now = r.read(superio_pl031::RTCDR);
    r.write(superio_pl031::RTCMR, now + 3);
    r.write(superio_pl031::RTCIMSC, 1);
    let mut seed = vec![2];
    seed.extend(serde_json::to_vec(&r.state()).unwrap());
    seed.push(0);
    seed.extend(1_700_000_010_000_000_000u64.to_le_bytes());
    seed.extend([8, 2, 6, 0, 7, 2, 1, 0, 0, 0]);
    out.push(("pl031_state", "armed_alarm_follow_clock", seed));
    out
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

fn main() {
    for (name, data) in uart_seeds() {
        write("uart_ops", name, &data);
    }
    for (name, data) in kbd_seeds() {
        write("i8042_ops", name, &data);
    }
    for (name, data) in rtc_seeds() {
        write("pl031_ops", name, &data);
    }
    for (target, name, data) in state_seeds() {
        write(target, name, &data);
    }
    println!("seeds written");
}
