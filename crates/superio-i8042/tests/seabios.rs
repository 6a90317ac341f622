//! SeaBIOS's `ps2_keyboard_setup` (src/hw/ps2port.c) replayed against the
//! controller: in the v86 harness it runs before Linux, polling with
//! interrupts off.

// The loops over `param` mirror SeaBIOS's C loops.
#![allow(clippy::needless_range_loop)]

mod common;

use common::*;
use superio_i8042::{I8042Config, Key};

const ATKBD_CMD_RESET_BAT_SB: u16 = 0x02ff;

/// SeaBIOS's polled PS/2 code, with the time its timeouts would cost.
struct SeaBios {
    m: Machine,
    ps2ctr: u8,
    wasted_ms: u64,
    discarded: Vec<u8>,
}

impl SeaBios {
    fn new(config: I8042Config) -> Self {
        Self {
            m: Machine::new(config, true),
            ps2ctr: 0,
            wasted_ms: 0,
            discarded: Vec::new(),
        }
    }

    fn wait_read(&mut self) -> Result<(), ()> {
        // SeaBIOS polls up to 10000 x 50 us, but nothing changes while it
        // spins: if OBF is clear now, the whole 500 ms passes.
        if self.m.inb(0x64) & STR_OBF == 0 {
            self.wasted_ms += 500;
            return Err(());
        }
        Ok(())
    }

    fn wait_write(&mut self) -> Result<(), ()> {
        if self.m.inb(0x64) & STR_IBF != 0 {
            self.wasted_ms += 500;
            return Err(());
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ()> {
        for _ in 0..16 {
            if self.m.inb(0x64) & STR_OBF == 0 {
                return Ok(());
            }
            self.m.inb(0x60);
        }
        Err(())
    }

    fn command(&mut self, command: u16, param: &mut [u8]) -> Result<(), ()> {
        let receive = usize::from((command >> 8) & 0xf);
        let send = usize::from((command >> 12) & 0xf);
        self.wait_write()?;
        self.m.outb(0x64, command as u8);
        for i in 0..send {
            self.wait_write()?;
            self.m.outb(0x60, param[i]);
        }
        for i in 0..receive {
            self.wait_read()?;
            param[i] = self.m.inb(0x60);
        }
        Ok(())
    }

    fn recvbyte(&mut self, needack: bool, timeout_ms: u64) -> Result<u8, ()> {
        loop {
            let status = self.m.inb(0x64);
            if status & STR_OBF == 0 {
                self.wasted_ms += timeout_ms;
                return Err(());
            }
            let data = self.m.inb(0x60);
            if status & STR_AUXDATA == 0 && (!needack || data == PS2_RET_ACK || data == PS2_RET_NAK)
            {
                return Ok(data);
            }
            self.discarded.push(data);
        }
    }

    fn sendbyte(&mut self, b: u8, timeout_ms: u64) -> Result<(), ()> {
        self.wait_write()?;
        self.m.outb(0x60, b);
        match self.recvbyte(true, timeout_ms)? {
            PS2_RET_ACK => Ok(()),
            _ => Err(()),
        }
    }

    /// `__ps2_command(aux = 0, ...)`.
    fn kbd_command(&mut self, command: u16, param: &mut [u8]) -> Result<(), ()> {
        let receive = usize::from((command >> 8) & 0xf);
        let send = usize::from((command >> 12) & 0xf);
        let saved = self.ps2ctr;
        let mut newctr = (saved | CTR_AUXDIS | CTR_KBDDIS) & !(CTR_KBDINT | CTR_AUXINT);
        self.command(I8042_CMD_CTL_WCTR, &mut [newctr])?;
        newctr &= !CTR_KBDDIS;
        let mut ret = self.command(I8042_CMD_CTL_WCTR, &mut [newctr]);
        if ret.is_ok() {
            ret = (|| {
                if command == ATKBD_CMD_RESET_BAT_SB {
                    self.sendbyte(command as u8, 1000)?;
                    param[0] = self.recvbyte(false, 4000)?;
                    // Keyboards send one byte; SeaBIOS waits 100 ms for a second.
                    param[1] = self.recvbyte(false, 100).unwrap_or(0);
                } else if command == ATKBD_CMD_GETID {
                    self.sendbyte(command as u8, 200)?;
                    param[0] = self.recvbyte(false, 500)?;
                    param[1] = if is_keyboard_id(param[0]) {
                        self.recvbyte(false, 500)?
                    } else {
                        0
                    };
                } else {
                    self.sendbyte(command as u8, 200)?;
                    for i in 0..send {
                        let b = param[i];
                        self.sendbyte(b, 200)?;
                    }
                    for i in 0..receive {
                        param[i] = self.recvbyte(false, 500)?;
                    }
                }
                Ok(())
            })();
        }
        self.command(I8042_CMD_CTL_WCTR, &mut [saved])?;
        ret
    }

    /// `ps2_keyboard_setup`; returns the point reached.
    fn keyboard_setup(&mut self) -> Result<&'static str, &'static str> {
        self.flush().map_err(|()| "flush")?;
        let mut p = [0u8; 2];
        self.command(I8042_CMD_CTL_TEST, &mut p)
            .map_err(|()| "self test timeout")?;
        if p[0] != 0x55 {
            return Err("self test failed");
        }
        self.command(I8042_CMD_KBD_TEST, &mut p)
            .map_err(|()| "kbd test timeout")?;
        if p[0] != 0x00 {
            return Err("keyboard test failed");
        }
        self.ps2ctr = CTR_KBDDIS | CTR_AUXDIS;
        self.kbd_command(ATKBD_CMD_RESET_BAT_SB, &mut p)
            .map_err(|()| "reset")?;
        if p[0] != 0xaa {
            return Err("keyboard self test failed");
        }
        self.kbd_command(ATKBD_CMD_RESET_DIS, &mut [])
            .map_err(|()| "disable")?;
        self.kbd_command(ATKBD_CMD_SSCANSET, &mut [0x02])
            .map_err(|()| "set scancode set")?;
        self.ps2ctr = CTR_AUXDIS | CTR_XLATE | CTR_KBDINT;
        self.kbd_command(ATKBD_CMD_ENABLE, &mut [])
            .map_err(|()| "enable")?;
        Ok("PS2 keyboard initialized")
    }
}

#[test]
fn test_seabios_keyboard_setup_initializes_keyboard() {
    let mut sb = SeaBios::new(I8042Config::default());
    assert_eq!(sb.keyboard_setup(), Ok("PS2 keyboard initialized"));
    assert!(sb.discarded.is_empty(), "{:02x?}", sb.discarded);
}

#[test]
fn test_seabios_keyboard_setup_costs_only_the_reset_second_byte_wait() {
    let mut sb = SeaBios::new(I8042Config::default());
    sb.keyboard_setup().unwrap();
    // A keyboard answers FF with FA AA only; SeaBIOS waits 100 ms for a
    // mouse's third byte, as with any real keyboard.
    assert_eq!(sb.wasted_ms, 100);
}

#[test]
fn test_seabios_keyboard_setup_leaves_ctr_0x61_and_set_2() {
    let mut sb = SeaBios::new(I8042Config::raw());
    sb.keyboard_setup().unwrap();
    assert_eq!(sb.m.dev.ctr(), 0x61);
    assert_eq!(sb.m.dev.scan_code_set().number(), 2);
    assert!(sb.m.dev.scanning());
}

#[test]
fn test_seabios_then_linux_finds_translated_keyboard() {
    // Whatever the VMM configured, SeaBIOS leaves XLATE on, and Linux keeps it.
    let mut sb = SeaBios::new(I8042Config::raw());
    sb.keyboard_setup().unwrap();
    let mut linux = Linux::new(sb.m, Params::default());
    linux.boot();
    assert_eq!(
        linux.out.keyboard.as_deref(),
        Some("AT Translated Set 2 keyboard")
    );
    assert_eq!(linux.out.wasted_ms, 0);
    assert_eq!(linux.out.initial_ctr, 0x61);
}

#[test]
fn test_seabios_int09_handler_reads_translated_key() {
    let mut sb = SeaBios::new(I8042Config::default());
    sb.keyboard_setup().unwrap();
    let raises = sb.m.irq1.raises();
    sb.m.dev.press(Key::A).unwrap();
    assert_eq!(sb.m.irq1.raises(), raises + 1, "IRQ1 with CTR.KBDINT");
    // handle_09: status (no AUXDATA), data, then 0xAE.
    assert_eq!(sb.m.inb(0x64) & STR_AUXDATA, 0);
    assert_eq!(sb.m.inb(0x60), 0x1e, "set-1 make code of A");
    sb.m.outb(0x64, 0xae);
    assert_eq!(sb.m.inb(0x64) & STR_OBF, 0);
}
