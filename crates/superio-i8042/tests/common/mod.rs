//! A small model of the guest side, for transcript tests: a PC with an
//! edge-triggered PIC in front of the controller, and the parts of Linux 6.1's
//! i8042, libps2, atkbd and psmouse drivers (and of SeaBIOS's ps2port.c) that
//! talk to it. It follows the drivers' logic step by step (CONFORMANCE.md
//! §2.3–2.4) and charges the timeouts the real drivers would wait, so a test
//! can assert both what the driver concludes and that it never waited.
// The loops over `param` mirror the C drivers' `for (i = 0; i < send; i++)`.
#![allow(dead_code, unreachable_pub, clippy::needless_range_loop)]

use std::collections::VecDeque;
use std::sync::Arc;

use superio_core::test_utils::RecordingIrq;
use superio_i8042::{I8042Config, I8042Counters, I8042};

pub type Dev = I8042<RecordingIrq, RecordingIrq, Arc<I8042Counters>>;

// Values from include/linux/i8042.h and libps2, written here as the oracle.
pub const STR_OBF: u8 = 0x01;
pub const STR_IBF: u8 = 0x02;
pub const STR_KEYLOCK: u8 = 0x10;
pub const STR_AUXDATA: u8 = 0x20;
pub const STR_TIMEOUT: u8 = 0x40;
pub const CTR_KBDINT: u8 = 0x01;
pub const CTR_AUXINT: u8 = 0x02;
pub const CTR_KBDDIS: u8 = 0x10;
pub const CTR_AUXDIS: u8 = 0x20;
pub const CTR_XLATE: u8 = 0x40;
pub const I8042_CMD_CTL_RCTR: u16 = 0x0120;
pub const I8042_CMD_CTL_WCTR: u16 = 0x1060;
pub const I8042_CMD_CTL_TEST: u16 = 0x01aa;
pub const I8042_CMD_KBD_TEST: u16 = 0x01ab;
pub const I8042_CMD_AUX_DISABLE: u16 = 0x00a7;
pub const I8042_CMD_AUX_ENABLE: u16 = 0x00a8;
pub const I8042_CMD_AUX_TEST: u16 = 0x01a9;
pub const I8042_CMD_AUX_SEND: u16 = 0x10d4;
pub const I8042_CMD_AUX_LOOP: u16 = 0x11d3;
pub const PS2_RET_ACK: u8 = 0xfa;
pub const PS2_RET_NAK: u8 = 0xfe;
pub const ATKBD_CMD_RESET_BAT: u16 = 0x02ff;
pub const ATKBD_CMD_GETID: u16 = 0x02f2;
pub const ATKBD_CMD_SETLEDS: u16 = 0x10ed;
pub const ATKBD_CMD_SETREP: u16 = 0x10f3;
pub const ATKBD_CMD_RESET_DIS: u16 = 0x00f5;
pub const ATKBD_CMD_RESET_DEF: u16 = 0x00f6;
pub const ATKBD_CMD_ENABLE: u16 = 0x00f4;
pub const ATKBD_CMD_SSCANSET: u16 = 0x10f0;
pub const PSMOUSE_CMD_GETID: u16 = 0x02f2;

/// The PC around the controller: port I/O and an edge-triggered PIC that
/// turns every rise of IRQ1/IRQ12 into one interrupt.
pub struct Machine {
    pub dev: Dev,
    pub irq1: RecordingIrq,
    pub irq12: RecordingIrq,
    pub reset: RecordingIrq,
    pub counters: Arc<I8042Counters>,
    irq1_seen: u64,
    irq12_seen: u64,
    /// Every port access, e.g. `"64<-20"`, `"60->65"`.
    pub trace: Vec<String>,
}

impl Machine {
    pub fn new(config: I8042Config, wire_irq12: bool) -> Self {
        let irq1 = RecordingIrq::new();
        let irq12 = RecordingIrq::new();
        let reset = RecordingIrq::new();
        let counters = Arc::new(I8042Counters::default());
        let mut dev =
            I8042::with_config(irq1.clone(), reset.clone(), Arc::clone(&counters), config);
        if wire_irq12 {
            dev = dev.with_aux_interrupt(irq12.clone());
        }
        Self {
            dev,
            irq1,
            irq12,
            reset,
            counters,
            irq1_seen: 0,
            irq12_seen: 0,
            trace: Vec::new(),
        }
    }

    fn reg(port: u16) -> u8 {
        match port {
            0x60 => 0,
            0x64 => 4,
            _ => panic!("not an i8042 port: {port:#x}"),
        }
    }

    pub fn inb(&mut self, port: u16) -> u8 {
        let v = self.dev.read(Self::reg(port));
        self.trace.push(format!("{:02x}->{v:02x}", port & 0xff));
        v
    }

    pub fn outb(&mut self, port: u16, v: u8) {
        self.trace.push(format!("{:02x}<-{v:02x}", port & 0xff));
        self.dev.write(Self::reg(port), v);
    }

    /// Takes one pending IRQ1 edge, if any.
    pub fn take_irq1(&mut self) -> bool {
        if self.irq1.raises() > self.irq1_seen {
            self.irq1_seen += 1;
            true
        } else {
            false
        }
    }

    /// Takes one pending IRQ12 edge, if any.
    pub fn take_irq12(&mut self) -> bool {
        if self.irq12.raises() > self.irq12_seen {
            self.irq12_seen += 1;
            true
        } else {
            false
        }
    }
}

/// Guest command-line options that change the drivers' path (CONFORMANCE K10).
#[derive(Debug, Clone, Copy, Default)]
pub struct Params {
    pub nopnp: bool,
    pub noaux: bool,
    pub nomux: bool,
    pub dumbkbd: bool,
    pub direct: bool,
    /// `i8042.reset`: self-test at probe.
    pub reset: bool,
    /// `atkbd.reset`: 0xFF at keyboard probe.
    pub atkbd_reset: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Irq12Handler {
    None,
    AuxTest,
    I8042,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ps2Error {
    /// No ACK / response within the timeout (the time was charged).
    Timeout,
    /// Refused (0xFE) twice.
    Nak,
    /// The controller flagged a timeout (`SERIO_TIMEOUT`): aborted at once.
    Aborted,
    /// GETID answered a non-keyboard first byte.
    NotKeyboard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Kbd,
    Aux,
}

/// What Linux concluded.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub controller_found: bool,
    pub kbd_port: bool,
    pub aux_port: bool,
    pub mux: bool,
    pub translated: bool,
    pub keyboard: Option<String>,
    pub keyboard_id: u16,
    pub mouse: bool,
    pub initial_ctr: u8,
    /// Milliseconds the drivers spent waiting in timeouts.
    pub wasted_ms: u64,
    /// Interrupts that found no data ("Interrupt without any data").
    pub spurious_irqs: u32,
    /// Interrupt edges while no handler was registered (the PIC line is
    /// masked then). Controller replies raise IRQ1 while CTR.KBDINT is set, as
    /// on real hardware, so the CTR reads before Linux clears KBDINT land here.
    pub masked_irqs: u32,
    /// Kernel log lines (`pr_info`, `pr_warn`, `pr_err`).
    pub log: Vec<String>,
}

/// Linux's i8042 + libps2 + atkbd + psmouse, driving a [`Machine`].
pub struct Linux {
    pub m: Machine,
    pub p: Params,
    pub out: Outcome,
    ctr: u8,
    irq1_registered: bool,
    irq12: Irq12Handler,
    aux_irq_delivered: bool,
    kbd_rx: VecDeque<(u8, bool)>,
    aux_rx: VecDeque<(u8, bool)>,
    kbd_bound: bool,
    aux_bound: bool,
}

impl Linux {
    pub fn new(m: Machine, p: Params) -> Self {
        Self {
            m,
            p,
            out: Outcome::default(),
            ctr: 0,
            irq1_registered: false,
            irq12: Irq12Handler::None,
            aux_irq_delivered: false,
            kbd_rx: VecDeque::new(),
            aux_rx: VecDeque::new(),
            kbd_bound: false,
            aux_bound: false,
        }
    }

    fn log(&mut self, s: &str) {
        self.out.log.push(s.to_string());
    }

    // ----- i8042.c low level -----

    fn wait_write(&mut self) -> Result<(), ()> {
        // 10000 x 50 us polls of IBF; our controller never sets it.
        if self.m.inb(0x64) & STR_IBF != 0 {
            self.out.wasted_ms += 500;
            return Err(());
        }
        Ok(())
    }

    fn wait_read(&mut self) -> Result<(), ()> {
        // Nothing changes while the driver spins with interrupts off: if OBF
        // is clear now, it stays clear for the whole 500 ms.
        if self.m.inb(0x64) & STR_OBF == 0 {
            self.out.wasted_ms += 500;
            return Err(());
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), ()> {
        let mut count = 0;
        while self.m.inb(0x64) & STR_OBF != 0 {
            if count < 16 {
                count += 1;
                self.m.inb(0x60);
            } else {
                return Err(());
            }
        }
        Ok(())
    }

    pub fn command(&mut self, param: &mut [u8], command: u16) -> Result<(), ()> {
        let send = usize::from((command >> 12) & 0xf);
        let receive = usize::from((command >> 8) & 0xf);
        self.wait_write()?;
        self.m.outb(0x64, command as u8);
        for i in 0..send {
            self.wait_write()?;
            self.m.outb(0x60, param[i]);
        }
        for i in 0..receive {
            self.wait_read()?;
            if command == I8042_CMD_AUX_LOOP && self.m.inb(0x64) & STR_AUXDATA == 0 {
                return Err(());
            }
            param[i] = self.m.inb(0x60);
        }
        Ok(())
    }

    fn wctr(&mut self, ctr: u8) -> Result<(), ()> {
        let mut p = [ctr];
        self.command(&mut p, I8042_CMD_CTL_WCTR)
    }

    /// Edges that arrived while a line had no handler were masked at the PIC.
    fn mask_pending_irqs(&mut self) {
        if !self.irq1_registered {
            while self.m.take_irq1() {
                self.out.masked_irqs += 1;
            }
        }
        if self.irq12 == Irq12Handler::None {
            while self.m.take_irq12() {
                self.out.masked_irqs += 1;
            }
        }
    }

    /// Runs the interrupt handlers for every pending edge, as the CPU would
    /// once interrupts are enabled again.
    pub fn deliver_irqs(&mut self) {
        loop {
            if self.m.take_irq1() {
                if self.irq1_registered {
                    self.i8042_interrupt();
                } else {
                    self.out.masked_irqs += 1;
                }
                continue;
            }
            if self.m.take_irq12() {
                match self.irq12 {
                    Irq12Handler::None => self.out.masked_irqs += 1,
                    Irq12Handler::AuxTest => self.aux_test_irq(),
                    Irq12Handler::I8042 => self.i8042_interrupt(),
                }
                continue;
            }
            break;
        }
    }

    fn i8042_interrupt(&mut self) {
        let str = self.m.inb(0x64);
        if str & STR_OBF == 0 {
            self.out.spurious_irqs += 1;
            return;
        }
        let data = self.m.inb(0x60);
        let timeout = str & STR_TIMEOUT != 0;
        if str & STR_AUXDATA != 0 {
            if self.aux_bound {
                self.aux_rx.push_back((data, timeout));
            }
        } else if self.kbd_bound {
            self.kbd_rx.push_back((data, timeout));
        }
    }

    fn aux_test_irq(&mut self) {
        let str = self.m.inb(0x64);
        if str & STR_OBF != 0 {
            let data = self.m.inb(0x60);
            if data == 0xa5 && str & STR_AUXDATA != 0 {
                self.aux_irq_delivered = true;
            }
        }
    }

    // ----- i8042.c probe -----

    fn controller_selftest(&mut self) -> Result<(), ()> {
        for _ in 0..6 {
            let mut p = [0u8];
            if self.command(&mut p, I8042_CMD_CTL_TEST).is_err() {
                self.log("i8042 controller selftest timeout");
                return Err(());
            }
            if p[0] == 0x55 {
                return Ok(());
            }
            self.out.wasted_ms += 50;
        }
        self.log("i8042 controller selftest failed");
        Err(())
    }

    fn controller_init(&mut self) -> Result<(), ()> {
        let mut ctr = [0u8; 2];
        let mut n = 0;
        loop {
            if n >= 10 {
                self.log("Unable to get stable CTR read");
                return Err(());
            }
            let mut p = [0u8];
            if self.command(&mut p, I8042_CMD_CTL_RCTR).is_err() {
                self.log("Can't read CTR while initializing i8042");
                return Err(());
            }
            ctr[n % 2] = p[0];
            n += 1;
            if n >= 2 && ctr[0] == ctr[1] {
                break;
            }
        }
        self.out.initial_ctr = ctr[0];
        self.ctr = ctr[0];
        self.ctr |= CTR_KBDDIS;
        self.ctr &= !CTR_KBDINT;
        if self.m.inb(0x64) & STR_KEYLOCK == 0 {
            self.log("Warning: Keylock active");
        }
        let mut direct = self.p.direct;
        if self.ctr & CTR_XLATE == 0 {
            direct = true;
        }
        if direct {
            self.ctr &= !CTR_XLATE;
        }
        self.out.translated = !direct;
        if self.wctr(self.ctr).is_err() {
            self.log("Can't write CTR while initializing i8042");
            return Err(());
        }
        let _ = self.flush();
        Ok(())
    }

    fn toggle_aux(&mut self, on: bool) -> Result<(), ()> {
        let mut p = [0u8];
        self.command(
            &mut p,
            if on {
                I8042_CMD_AUX_ENABLE
            } else {
                I8042_CMD_AUX_DISABLE
            },
        )?;
        for _ in 0..100 {
            self.command(&mut p, I8042_CMD_CTL_RCTR)?;
            if (p[0] & CTR_AUXDIS == 0) == on {
                return Ok(());
            }
        }
        Err(())
    }

    fn check_aux(&mut self) -> Result<(), ()> {
        let _ = self.flush();
        let mut aux_loop_broken = false;
        let mut p = [0x5a];
        let r = self.command(&mut p, I8042_CMD_AUX_LOOP);
        if r.is_err() || p[0] != 0x5a {
            let mut t = [0u8];
            if self.command(&mut t, I8042_CMD_AUX_TEST).is_err()
                || (t[0] != 0 && t[0] != 0xfa && t[0] != 0xff)
            {
                return Err(());
            }
            if r.is_ok() {
                aux_loop_broken = true;
            }
        }
        if self.toggle_aux(false).is_err() {
            self.log("Failed to disable AUX port, but continuing anyway... Is this a SiS?");
        }
        if self.toggle_aux(true).is_err() {
            return Err(());
        }
        let mut retval = Ok(());
        if !aux_loop_broken {
            self.mask_pending_irqs();
            self.irq12 = Irq12Handler::AuxTest;
            self.ctr &= !CTR_AUXDIS;
            self.ctr |= CTR_AUXINT;
            if self.wctr(self.ctr).is_err() {
                retval = Err(());
            } else {
                self.aux_irq_delivered = false;
                let mut p = [0xa5];
                // __i8042_command(&param, I8042_CMD_AUX_LOOP & 0xf0ff): no polled reply.
                retval = self.command(&mut p, I8042_CMD_AUX_LOOP & 0xf0ff);
                if retval.is_ok() {
                    self.deliver_irqs();
                    if !self.aux_irq_delivered {
                        self.out.wasted_ms += 250;
                        let _ = self.flush();
                        retval = Err(());
                    }
                }
            }
        }
        self.ctr |= CTR_AUXDIS;
        self.ctr &= !CTR_AUXINT;
        if self.wctr(self.ctr).is_err() {
            retval = Err(());
        }
        self.irq12 = Irq12Handler::None;
        retval
    }

    fn set_mux_mode(&mut self, multiplex: bool) -> Result<u8, ()> {
        let _ = self.flush();
        let mut p = [0xf0];
        if self.command(&mut p, I8042_CMD_AUX_LOOP).is_err() || p[0] != 0xf0 {
            return Err(());
        }
        let v = if multiplex { 0x56 } else { 0xf6 };
        let mut p = [v];
        if self.command(&mut p, I8042_CMD_AUX_LOOP).is_err() || p[0] != v {
            return Err(());
        }
        let v = if multiplex { 0xa4 } else { 0xa5 };
        let mut p = [v];
        if self.command(&mut p, I8042_CMD_AUX_LOOP).is_err() || p[0] == v {
            return Err(());
        }
        Ok(p[0])
    }

    fn setup_aux(&mut self) {
        if self.check_aux().is_err() {
            return;
        }
        if !self.p.nomux && self.set_mux_mode(true).is_ok() {
            self.out.mux = true;
            return; // not modelled further: our controller never gets here
        }
        self.out.aux_port = true;
        self.mask_pending_irqs();
        self.irq12 = Irq12Handler::I8042;
        self.ctr &= !CTR_AUXDIS;
        self.ctr |= CTR_AUXINT;
        if self.wctr(self.ctr).is_err() {
            self.out.aux_port = false;
        }
    }

    fn setup_kbd(&mut self) {
        self.out.kbd_port = true;
        self.mask_pending_irqs();
        self.irq1_registered = true;
        self.ctr &= !CTR_KBDDIS;
        self.ctr |= CTR_KBDINT;
        if self.wctr(self.ctr).is_err() {
            self.out.kbd_port = false;
            self.log("Failed to enable KBD port");
        }
    }

    /// Boots: `i8042_init` → probe → serio drivers bind (psmouse, atkbd).
    pub fn boot(&mut self) {
        if self.p.nopnp {
            self.log("PNP detection disabled");
        }
        if self.flush().is_err() {
            self.log("No controller found");
            return;
        }
        self.out.controller_found = true;
        if self.p.reset && self.controller_selftest().is_err() {
            return;
        }
        if self.controller_init().is_err() {
            self.out.controller_found = false;
            return;
        }
        if !self.p.noaux {
            self.setup_aux();
        }
        self.setup_kbd();
        if self.out.kbd_port {
            self.log("serio: i8042 KBD port at 0x60,0x64 irq 1");
        }
        if self.out.aux_port {
            self.log("serio: i8042 AUX port at 0x60,0x64 irq 12");
            self.psmouse_connect();
        }
        if self.out.kbd_port {
            self.atkbd_connect();
        }
        self.deliver_irqs();
    }

    // ----- libps2 -----

    fn rx(&mut self, port: Port) -> &mut VecDeque<(u8, bool)> {
        match port {
            Port::Kbd => &mut self.kbd_rx,
            Port::Aux => &mut self.aux_rx,
        }
    }

    fn port_write(&mut self, port: Port, b: u8) -> Result<(), ()> {
        match port {
            Port::Kbd => {
                self.wait_write()?;
                self.m.outb(0x60, b);
                Ok(())
            }
            Port::Aux => {
                let mut p = [b];
                self.command(&mut p, I8042_CMD_AUX_SEND)
            }
        }
    }

    fn sendbyte(&mut self, port: Port, b: u8, timeout: u64) -> Result<(), Ps2Error> {
        for _attempt in 0..2 {
            if self.port_write(port, b).is_err() {
                return Err(Ps2Error::Timeout);
            }
            self.deliver_irqs();
            // Bytes before the ACK are ignored (device not quiesced yet); a NAK
            // makes libps2 send the byte once more.
            loop {
                match self.rx(port).pop_front() {
                    None => {
                        self.out.wasted_ms += timeout;
                        return Err(Ps2Error::Timeout);
                    }
                    Some((_, true)) => return Err(Ps2Error::Aborted),
                    Some((PS2_RET_ACK, false)) => return Ok(()),
                    Some((PS2_RET_NAK, false)) => break,
                    Some(_) => {}
                }
            }
        }
        Err(Ps2Error::Nak)
    }

    pub fn ps2_command(
        &mut self,
        port: Port,
        param: &mut [u8],
        command: u16,
    ) -> Result<(), Ps2Error> {
        let send = usize::from((command >> 12) & 0xf);
        let receive = usize::from((command >> 8) & 0xf);
        self.rx(port).clear();
        let ack_timeout = if command == ATKBD_CMD_RESET_BAT {
            1000
        } else {
            200
        };
        self.sendbyte(port, command as u8, ack_timeout)?;
        for i in 0..send {
            let b = param[i];
            self.sendbyte(port, b, 200)?;
        }
        self.deliver_irqs();
        for i in 0..receive {
            match self.rx(port).pop_front() {
                Some((_, true)) => return Err(Ps2Error::Aborted),
                Some((b, false)) => {
                    param[i] = b;
                    if command == ATKBD_CMD_GETID && i == 0 && !is_keyboard_id(b) {
                        return Err(Ps2Error::NotKeyboard);
                    }
                }
                None => {
                    if command == ATKBD_CMD_RESET_BAT && i == 1 {
                        // Keyboards send only AA: libps2 waits the shortened
                        // 100 ms for a mouse's second byte, then accepts.
                        self.out.wasted_ms += 100;
                        return Ok(());
                    }
                    self.out.wasted_ms += if command == ATKBD_CMD_RESET_BAT {
                        4000
                    } else {
                        500
                    };
                    return Err(Ps2Error::Timeout);
                }
            }
        }
        Ok(())
    }

    // ----- psmouse -----

    fn psmouse_connect(&mut self) {
        self.aux_bound = true;
        let mut p = [0xa5u8];
        if self
            .ps2_command(Port::Aux, &mut p, PSMOUSE_CMD_GETID)
            .is_err()
        {
            self.aux_bound = false;
            return;
        }
        self.out.mouse = true;
    }

    // ----- atkbd -----

    fn atkbd_connect(&mut self) {
        self.kbd_bound = true;
        let translated = self.out.translated;
        let set = 2;
        if self.p.dumbkbd {
            self.out.keyboard_id = 0xab00;
        } else {
            if self.p.atkbd_reset
                && self
                    .ps2_command(Port::Kbd, &mut [0u8; 2], ATKBD_CMD_RESET_BAT)
                    .is_err()
            {
                self.log("keyboard reset failed");
            }
            let mut p = [0xa5u8, 0xa5];
            if self
                .ps2_command(Port::Kbd, &mut p, ATKBD_CMD_GETID)
                .is_err()
            {
                let mut q = [0u8];
                if self
                    .ps2_command(Port::Kbd, &mut q, ATKBD_CMD_SETLEDS)
                    .is_err()
                {
                    self.kbd_bound = false;
                    return;
                }
                self.out.keyboard_id = 0xabba;
            } else {
                if !is_keyboard_id(p[0]) {
                    self.kbd_bound = false;
                    return;
                }
                self.out.keyboard_id = u16::from(p[0]) << 8 | u16::from(p[1]);
                if self.out.keyboard_id == 0xaca1 && translated {
                    self.kbd_bound = false;
                    return;
                }
            }
            if self
                .ps2_command(Port::Kbd, &mut [], ATKBD_CMD_RESET_DIS)
                .is_err()
            {
                self.log("Failed to deactivate keyboard");
            }
            // atkbd_select_set: translated, or raw with target set 2: no command.
            let _ = self.ps2_command(Port::Kbd, &mut [0], ATKBD_CMD_SETLEDS);
            let _ = self.ps2_command(Port::Kbd, &mut [0], ATKBD_CMD_SETREP);
            if self
                .ps2_command(Port::Kbd, &mut [], ATKBD_CMD_ENABLE)
                .is_err()
            {
                self.log("Failed to enable keyboard");
            }
        }
        let name = format!(
            "AT {} Set {set} keyboard",
            if translated { "Translated" } else { "Raw" }
        );
        self.log(&format!("input: {name} as isa0060/serio0/input0"));
        self.out.keyboard = Some(name);
    }

    /// Bytes atkbd's interrupt handler has received since the last call.
    pub fn take_keyboard_bytes(&mut self) -> Vec<u8> {
        self.deliver_irqs();
        self.kbd_rx.drain(..).map(|(b, _)| b).collect()
    }

    // ----- shutdown and reboot -----

    /// `atkbd_cleanup` + `i8042_controller_reset` + `reboot=k`.
    pub fn shutdown_and_reboot(&mut self) {
        if self.kbd_bound && !self.p.dumbkbd {
            let _ = self.ps2_command(Port::Kbd, &mut [], ATKBD_CMD_RESET_DEF);
        }
        let _ = self.flush();
        self.ctr |= CTR_KBDDIS | CTR_AUXDIS;
        self.ctr &= !(CTR_KBDINT | CTR_AUXINT);
        let _ = self.wctr(self.ctr);
        if self.p.reset {
            let _ = self.controller_selftest();
        }
        let _ = self.wctr(self.out.initial_ctr);
        for _ in 0..10 {
            // kb_wait(): poll IBF; then the pulse-reset command.
            let _ = self.wait_write();
            self.m.outb(0x64, 0xfe);
        }
    }
}

pub fn is_keyboard_id(b: u8) -> bool {
    [0xab, 0xac, 0x2b, 0x5d, 0x60, 0x47].contains(&b)
}

/// Boots Linux with `p` against a controller made with `config`.
pub fn boot_linux(config: I8042Config, wire_irq12: bool, p: Params) -> Linux {
    let mut linux = Linux::new(Machine::new(config, wire_irq12), p);
    linux.boot();
    linux
}
