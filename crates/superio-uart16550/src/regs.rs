//! Register offsets, bits and reset values of the 16550A, named after the
//! National Semiconductor PC16550D datasheet (section 8, "Registers") and the
//! names Linux uses in `include/uapi/linux/serial_reg.h`.
//!
//! Offsets are register numbers (0–7); on MMIO the bus adapter multiplies them
//! by the register stride (`reg-shift`).

// ---- Offsets (datasheet table II). Offsets 0 and 1 depend on LCR.DLAB. ----

/// Receiver Buffer Register (read, DLAB=0): pops the RX FIFO.
pub const RBR: u8 = 0;
/// Transmitter Holding Register (write, DLAB=0): one byte to send.
pub const THR: u8 = 0;
/// Divisor Latch LSB (read/write, DLAB=1).
pub const DLL: u8 = 0;
/// Interrupt Enable Register (read/write, DLAB=0).
pub const IER: u8 = 1;
/// Divisor Latch MSB (read/write, DLAB=1).
pub const DLM: u8 = 1;
/// Interrupt Identification Register (read; DLAB does not matter).
pub const IIR: u8 = 2;
/// FIFO Control Register (write; DLAB does not matter).
pub const FCR: u8 = 2;
/// Line Control Register.
pub const LCR: u8 = 3;
/// Modem Control Register.
pub const MCR: u8 = 4;
/// Line Status Register (read only; writes are ignored).
pub const LSR: u8 = 5;
/// Modem Status Register (read only; writes are ignored).
pub const MSR: u8 = 6;
/// Scratch Register: 8 bits of storage with no effect.
pub const SCR: u8 = 7;
/// Number of byte registers the UART decodes (offsets 0–7).
pub const REGISTER_COUNT: u8 = 8;

// ---- IER: Interrupt Enable Register. ----

/// Enable Received Data available Interrupt (ERBFI); also covers the character timeout.
pub const IER_RDI: u8 = 0x01;
/// Enable Transmitter Holding Register empty Interrupt (ETBEI).
pub const IER_THRI: u8 = 0x02;
/// Enable Receiver Line Status Interrupt (ELSI): OE/PE/FE/BI.
pub const IER_RLSI: u8 = 0x04;
/// Enable Modem Status Interrupt (EDSSI): MSR delta bits.
pub const IER_MSI: u8 = 0x08;
/// The bits a 16550A implements; bits 4–7 read 0 (Linux's XScale/UUE test).
pub const IER_VALID: u8 = 0x0F;

// ---- IIR: Interrupt Identification Register (datasheet table IV). ----

/// bit 0 = 1: no interrupt pending.
pub const IIR_NO_INT: u8 = 0x01;
/// Bits 3:1 hold the ID of the highest-priority pending interrupt.
pub const IIR_ID_MASK: u8 = 0x0E;
/// ID, priority 4 (lowest): modem status changed (a MSR delta bit is set).
pub const IIR_MSI: u8 = 0x00;
/// ID, priority 3: transmitter holding register (TX FIFO) empty.
pub const IIR_THRI: u8 = 0x02;
/// ID, priority 2: received data reached the FIFO trigger level.
pub const IIR_RDI: u8 = 0x04;
/// ID, priority 1 (highest): receiver line status (OE/PE/FE/BI).
pub const IIR_RLSI: u8 = 0x06;
/// ID, priority 2: character timeout (data below the trigger level is waiting).
pub const IIR_CTI: u8 = 0x0C;
/// Bits 7:6 = 11 while the FIFOs are enabled (FCR bit 0): what makes Linux say "16550A".
pub const IIR_FIFO_ENABLED: u8 = 0xC0;

// ---- FCR: FIFO Control Register (write only). ----

/// Enable the RX and TX FIFOs. Changing it clears both FIFOs.
pub const FCR_ENABLE_FIFO: u8 = 0x01;
/// Clear the RX FIFO (self-clearing).
pub const FCR_CLEAR_RCVR: u8 = 0x02;
/// Clear the TX FIFO (self-clearing).
pub const FCR_CLEAR_XMIT: u8 = 0x04;
/// DMA mode select (RXRDY/TXRDY pins); no effect in a VM.
pub const FCR_DMA_SELECT: u8 = 0x08;
/// Bits 7:6: RX FIFO trigger level.
pub const FCR_TRIGGER_MASK: u8 = 0xC0;
/// RX trigger level: 1 byte.
pub const FCR_TRIGGER_1: u8 = 0x00;
/// RX trigger level: 4 bytes of 16 (scaled to the configured FIFO depth).
pub const FCR_TRIGGER_4: u8 = 0x40;
/// RX trigger level: 8 bytes of 16 (scaled to the configured FIFO depth).
pub const FCR_TRIGGER_8: u8 = 0x80;
/// RX trigger level: 14 bytes of 16 (scaled to the configured FIFO depth).
pub const FCR_TRIGGER_14: u8 = 0xC0;

// ---- LCR: Line Control Register. All 8 bits read back. ----

/// Bits 1:0: word length (00 = 5 bits … 11 = 8 bits).
pub const LCR_WLEN_MASK: u8 = 0x03;
/// Word length 8 bits.
pub const LCR_WLEN8: u8 = 0x03;
/// Number of stop bits (0 = 1, 1 = 1.5 or 2).
pub const LCR_STOP: u8 = 0x04;
/// Parity enable.
pub const LCR_PARITY: u8 = 0x08;
/// Even parity select.
pub const LCR_EPAR: u8 = 0x10;
/// Stick parity.
pub const LCR_SPAR: u8 = 0x20;
/// Set break control: the transmitter sends a break (stored; not emulated).
pub const LCR_SBC: u8 = 0x40;
/// Divisor Latch Access Bit: offsets 0/1 become DLL/DLM.
pub const LCR_DLAB: u8 = 0x80;

// ---- MCR: Modem Control Register. ----

/// Data Terminal Ready (looped back to MSR.DSR).
pub const MCR_DTR: u8 = 0x01;
/// Request To Send (looped back to MSR.CTS).
pub const MCR_RTS: u8 = 0x02;
/// Auxiliary output 1 (looped back to MSR.RI).
pub const MCR_OUT1: u8 = 0x04;
/// Auxiliary output 2: on PCs it gates the interrupt pin onto the ISA bus
/// (looped back to MSR.DCD).
pub const MCR_OUT2: u8 = 0x08;
/// Loopback mode: THR feeds RBR, MCR outputs feed the MSR inputs.
pub const MCR_LOOP: u8 = 0x10;
/// The bits a 16550A implements; bits 5–7 read 0.
pub const MCR_VALID: u8 = 0x1F;

// ---- LSR: Line Status Register. ----

/// Data Ready: the RX FIFO holds at least one byte.
pub const LSR_DR: u8 = 0x01;
/// Overrun Error: a byte arrived at a full RX FIFO and was lost (clears on read).
pub const LSR_OE: u8 = 0x02;
/// Parity Error (clears on read; never set by this model).
pub const LSR_PE: u8 = 0x04;
/// Framing Error (clears on read; never set by this model).
pub const LSR_FE: u8 = 0x08;
/// Break Interrupt: the byte at the top of the RX FIFO is a break (clears on read).
pub const LSR_BI: u8 = 0x10;
/// Transmitter Holding Register Empty: the TX FIFO is empty.
pub const LSR_THRE: u8 = 0x20;
/// Transmitter Empty: TX FIFO and shift register are empty.
pub const LSR_TEMT: u8 = 0x40;
/// Error in RX FIFO (FIFO mode): a PE/FE/BI byte is in the FIFO.
pub const LSR_FIFOE: u8 = 0x80;
/// The error bits that clear on an LSR read and raise RLSI.
pub const LSR_ERROR_BITS: u8 = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

// ---- MSR: Modem Status Register. ----

/// Delta Clear To Send: CTS changed since the last MSR read.
pub const MSR_DCTS: u8 = 0x01;
/// Delta Data Set Ready: DSR changed since the last MSR read.
pub const MSR_DDSR: u8 = 0x02;
/// Trailing Edge Ring Indicator: RI went from 1 to 0.
pub const MSR_TERI: u8 = 0x04;
/// Delta Data Carrier Detect: DCD changed since the last MSR read.
pub const MSR_DDCD: u8 = 0x08;
/// The four delta bits; they clear on an MSR read and raise MSI.
pub const MSR_DELTA_MASK: u8 = 0x0F;
/// Clear To Send input.
pub const MSR_CTS: u8 = 0x10;
/// Data Set Ready input.
pub const MSR_DSR: u8 = 0x20;
/// Ring Indicator input.
pub const MSR_RI: u8 = 0x40;
/// Data Carrier Detect input.
pub const MSR_DCD: u8 = 0x80;
/// The four modem input lines.
pub const MSR_STATUS_MASK: u8 = 0xF0;

// ---- Reset values. ----

/// Reset divisor: 12 = 9600 baud with the PC's 1.8432 MHz clock. The datasheet
/// leaves it undefined, but Linux's `probe_baud()` divides by it, so it must
/// not be 0 (CONFORMANCE U6).
pub const RESET_DIVISOR: u16 = 0x000C;
/// Modem inputs a connected, ready peer presents: DCD, DSR and CTS, no ring.
pub const RESET_MODEM_LINES: u8 = MSR_DCD | MSR_DSR | MSR_CTS;
/// RX/TX FIFO depth of a real 16550A.
pub const HW_FIFO_SIZE: usize = 16;
