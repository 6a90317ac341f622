/*
 * minivm's built-in guest: a tiny real-mode "operating system" whose only job is
 * to drive a 16550A UART on COM1 (0x3F8, IRQ 4) and an i8042 keyboard controller
 * (0x60/0x64, IRQ 1) the way a real driver does, and to print what it found.
 *
 * Assembled by build.rs with the machine's `as`/`ld`/`objcopy` into a flat binary
 * loaded at LOAD_ADDR (0x1000); the vCPU starts in real mode at CS:IP = 0000:1000
 * with DS = ES = SS = 0, SP = 0x7000 and interrupts disabled.
 *
 * What it does, in order:
 *   1. installs an interrupt vector table and programs the 8259 PICs (IRQ 0-7 ->
 *      vectors 0x20-0x27, IRQ 8-15 -> 0x28-0x2F; only IRQ 1 and IRQ 4 unmasked);
 *   2. probes the UART like Linux's 8250 autoconfig (IER test, scratch register,
 *      loopback MSR check, FCR -> IIR[7:6] FIFO bits) and concludes its type;
 *   3. programs 115200 8N1 through the divisor latch and enables the FIFOs;
 *   4. probes the i8042 like Linux (flush, CTR read/write, self-test 0xAA -> 0x55,
 *      keyboard identify 0xF2 -> FA AB 83, enable scanning 0xF4 -> FA);
 *   5. checks whether interrupts reach it (enables THRI and waits a bounded number
 *      of polls for the IRQ 4 handler to run) and picks interrupt-driven or polled
 *      I/O; the VMM can force polling with CONFIG_POLL;
 *   6. writes POST code 0x01 to port 0x80 (the VMM's "guest ready"), then runs
 *      the echo loop: every received byte is sent back ('\r' as "\r\n");
 *      a line "reboot" or Ctrl+Alt+Del on the keyboard (set-1 scancodes, read from
 *      port 0x60) makes it finish the echo work in hand, print why, how many
 *      bytes it received (and their sum), its interrupt counts, and reset the
 *      machine with the i8042 pulse-reset command 0xFE.
 *   Benchmark workloads, chosen by the VMM before boot: with CONFIG_RX_ONLY the
 *   loop counts and checksums input instead of echoing it; with CONFIG_RX_VERIFY
 *   it checks that input byte i is i mod 251; with TX_COUNT != 0
 *   it also transmits TX_COUNT bytes of a pattern (lines of 63 characters
 *   '!' + column, then '\n') and resets once they are out.
 *
 * Driver structure: all device work happens in `service`, called with interrupts
 * disabled. It drains the UART RX FIFO into a 256-byte ring, refills the TX FIFO
 * in bursts of up to 16 bytes when LSR.THRE says it is empty (as Linux's ISR does),
 * drains the keyboard, and keeps IER consistent with the rings (RDA interrupt only
 * while the RX ring has room, THRE interrupt only while the TX ring has data), so
 * the UART's interrupt line is high only when there is work: when `service` finds
 * nothing to do the guest may `sti; hlt` safely. The interrupt handlers only read
 * IIR / note the keyboard, send EOI and return (and count any interrupt taken
 * with IF clear, which would be a hypervisor bug).
 *
 * Back-pressure: a full TX ring stops the echo, a full RX ring stops reading RBR
 * (and masks the RDA interrupt), so the UART's RX FIFO fills and the VMM stops
 * feeding input until the guest drains it. Nothing is ever dropped.
 */
    .code16
    .intel_syntax noprefix

/* ---- 16550A UART on COM1 (register offsets from the base, PC16550D datasheet) ---- */
    .set COM1,       0x3f8
    .set UART_RBR,   COM1 + 0   /* receiver buffer (read, DLAB=0) */
    .set UART_THR,   COM1 + 0   /* transmitter holding (write, DLAB=0) */
    .set UART_DLL,   COM1 + 0   /* divisor latch LSB (DLAB=1) */
    .set UART_IER,   COM1 + 1   /* interrupt enable (DLAB=0) */
    .set UART_DLM,   COM1 + 1   /* divisor latch MSB (DLAB=1) */
    .set UART_IIR,   COM1 + 2   /* interrupt identification (read) */
    .set UART_FCR,   COM1 + 2   /* FIFO control (write) */
    .set UART_LCR,   COM1 + 3   /* line control */
    .set UART_MCR,   COM1 + 4   /* modem control */
    .set UART_LSR,   COM1 + 5   /* line status */
    .set UART_MSR,   COM1 + 6   /* modem status */
    .set UART_SCR,   COM1 + 7   /* scratch */

    .set IER_ERBFI,  0x01       /* received data available interrupt */
    .set IER_ETBEI,  0x02       /* THR empty interrupt */
    .set FCR_ENABLE, 0x01       /* FIFO enable */
    .set FCR_CLEAR,  0x06       /* clear RX and TX FIFOs */
    .set LCR_DLAB,   0x80       /* divisor latch access */
    .set LCR_8N1,    0x03       /* 8 data bits, no parity, 1 stop bit */
    .set MCR_DTR,    0x01
    .set MCR_RTS,    0x02
    .set MCR_OUT2,   0x08       /* gates the interrupt line on PCs */
    .set MCR_LOOP,   0x10
    .set MSR_CTS,    0x10
    .set MSR_DCD,    0x80
    .set LSR_DR,     0x01       /* data ready */
    .set LSR_THRE,   0x20       /* THR (TX FIFO) empty */
    .set LSR_TEMT,   0x40       /* transmitter empty */
    .set TX_BURST,   16         /* bytes written per THRE, like Linux's tx_loadsz */

/* ---- i8042 keyboard controller ---- */
    .set KBC_DATA,   0x60
    .set KBC_STATUS, 0x64       /* read: status */
    .set KBC_CMD,    0x64       /* write: command */
    .set KBC_OBF,    0x01       /* status: output buffer full */
    .set KBC_IBF,    0x02       /* status: input buffer full */
    .set KBC_AUXB,   0x20       /* status: output byte is from the aux port */
    .set KBC_CMD_READ_CTR,  0x20
    .set KBC_CMD_WRITE_CTR, 0x60
    .set KBC_CMD_SELF_TEST, 0xaa    /* replies 0x55 */
    .set KBC_CMD_KBD_TEST,  0xab    /* replies 0x00 */
    .set KBC_CMD_KBD_ENABLE, 0xae
    .set KBC_CMD_RESET,     0xfe    /* pulse the CPU reset line */
    .set CTR_KBDINT, 0x01       /* keyboard interrupt enable */
    .set CTR_SYS,    0x04       /* system flag */
    .set CTR_AUXDIS, 0x20       /* aux port disabled */
    .set CTR_XLATE,  0x40       /* translate to scancode set 1 */
    .set KBD_IDENTIFY, 0xf2
    .set KBD_ENABLE,   0xf4
    .set KBD_ACK,      0xfa
    .set KBC_TIMEOUT,  10000    /* status polls before giving up */

/* ---- 8259 PICs ---- */
    .set PIC1_CMD, 0x20
    .set PIC1_DATA, 0x21
    .set PIC2_CMD, 0xa0
    .set PIC2_DATA, 0xa1
    .set PIC_EOI, 0x20
    .set VEC_BASE1, 0x20        /* IRQ 0-7 */
    .set VEC_BASE2, 0x28        /* IRQ 8-15 */

/* ---- POST code port: boot milestones for the VMM ---- */
    .set POST_PORT,  0x80
    .set POST_READY, 0x01       /* the echo loop runs and the keyboard is live */

/* ---- memory ---- */
    .set CONFIG,   0x0500       /* written by the VMM: CONFIG_* bits */
    .set CONFIG_POLL,    0x01   /* do not probe interrupts: poll */
    .set CONFIG_RX_ONLY, 0x02   /* count and checksum input, echo nothing */
    .set CONFIG_RX_VERIFY, 0x04 /* input byte i must be i mod 251: count mismatches */
    .set TX_COUNT, 0x0504       /* u32 from the VMM: bytes to transmit, then reset */
    .set TX_LINE,  64           /* TX workload line length, '\n' included */
    .set STACK_TOP, 0x7000
    .set RX_RING,  0x8000       /* 256-byte rings indexed by 8-bit counters */
    .set TX_RING,  0x8100
    .set RING_CAP, 255
    .set LINE_MAX, 16
    /* LSR reads (about 0.8 s) to wait for the IRQ 4 probe: KVM injects an
       irqfd on a PIC line from a kernel worker, which a loaded host runs late */
    .set IRQ_PROBE_POLLS, 60000

    .text
    .globl _start
_start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, STACK_TOP
    cld
    call setup_ivt
    call setup_pic
    call uart_probe
    call uart_setup
    call report_uart
    mov si, offset msg_banner
    call puts
    call tx_drain
    call kbc_probe
    call irq_probe
    mov si, offset msg_ready
    call puts
    mov byte ptr [echo_on], 1
    mov ax, [TX_COUNT]          /* a TX workload from the VMM? */
    mov [tx_left], ax
    mov dx, [TX_COUNT + 2]
    mov [tx_left + 2], dx
    or ax, dx
    jz 1f
    mov byte ptr [tx_active], 1
1:  mov al, POST_READY          /* tell the VMM the echo loop runs */
    out POST_PORT, al

main_loop:
    cli
    call tx_generate
    call service
    cmp byte ptr [reboot_pending], 0
    jne do_reboot
    test al, al
    jnz main_loop
    cmp byte ptr [irq_mode], 0
    je main_loop
    inc word ptr [sleeps]
    sti                         /* the STI shadow makes "sti; hlt" atomic */
    hlt
    jmp main_loop

/* Finish the echo work already received, say why, let the UART drain, then
   ask the i8042 to reset the CPU. */
do_reboot:
    call service
    test al, al
    jnz do_reboot
    cmp word ptr [rx_count], 0
    jne do_reboot
    mov si, offset msg_reboot_cmd
    cmp byte ptr [reboot_pending], 2
    jne 1f
    mov si, offset msg_reboot_cad
1:  cmp byte ptr [reboot_pending], 3
    jne 3f
    mov si, offset msg_reboot_tx
3:  call puts
    mov si, offset msg_rx_total
    call puts
    mov ax, [rx_total + 2]
    call put_hex16
    mov ax, [rx_total]
    call put_hex16
    mov si, offset msg_rx_sum
    call puts
    mov ax, [rx_sum]
    call put_hex16
    call put_crlf
    test byte ptr [CONFIG], CONFIG_RX_VERIFY
    jz 5f
    mov si, offset msg_verify
    call puts
    mov ax, [rx_bad]
    call put_hex16
    mov si, offset msg_verify_at
    call puts
    mov ax, [rx_bad_pos + 2]
    call put_hex16
    mov ax, [rx_bad_pos]
    call put_hex16
    mov al, ' '
    call putc
    mov al, [rx_bad_got]
    call put_hex8
    mov al, '/'
    call putc
    mov al, [rx_bad_want]
    call put_hex8
    call put_crlf
5:
    mov si, offset msg_irq_count4
    call puts
    mov ax, [irq4_count]
    call put_hex16
    mov si, offset msg_irq_count1
    call puts
    mov ax, [irq1_count]
    call put_hex16
    mov si, offset msg_sleeps
    call puts
    mov ax, [sleeps]
    call put_hex16
    mov si, offset msg_if0
    call puts
    mov ax, [irq_if0_count]
    call put_hex16
    call put_crlf
    call tx_drain
    call kbc_wait_write
    mov al, KBC_CMD_RESET
    out KBC_CMD, al
2:  cli
    hlt
    jmp 2b

/* ------------------------------------------------------------------------ */
/* Interrupt setup                                                          */
/* ------------------------------------------------------------------------ */

setup_ivt:
    xor di, di
    mov cx, 256
1:  mov word ptr [di], offset isr_ignore
    mov word ptr [di + 2], 0
    add di, 4
    loop 1b
    mov di, VEC_BASE1 * 4
    mov cx, 8
2:  mov word ptr [di], offset isr_eoi_master
    add di, 4
    loop 2b
    mov cx, 8
3:  mov word ptr [di], offset isr_eoi_slave
    add di, 4
    loop 3b
    /* spurious IRQ 7 / 15 must not be acknowledged */
    mov word ptr [(VEC_BASE1 + 7) * 4], offset isr_ignore
    mov word ptr [(VEC_BASE2 + 7) * 4], offset isr_ignore
    mov word ptr [(VEC_BASE1 + 1) * 4], offset isr_kbd
    mov word ptr [(VEC_BASE1 + 4) * 4], offset isr_com1
    ret

setup_pic:
    mov al, 0x11                /* ICW1: edge triggered, cascade, ICW4 follows */
    out PIC1_CMD, al
    out PIC2_CMD, al
    mov al, VEC_BASE1           /* ICW2: vector bases */
    out PIC1_DATA, al
    mov al, VEC_BASE2
    out PIC2_DATA, al
    mov al, 0x04                /* ICW3: slave on IRQ 2 */
    out PIC1_DATA, al
    mov al, 0x02
    out PIC2_DATA, al
    mov al, 0x01                /* ICW4: 8086 mode */
    out PIC1_DATA, al
    out PIC2_DATA, al
    mov al, 0xed                /* OCW1: unmask IRQ 1 and IRQ 4 only */
    out PIC1_DATA, al
    mov al, 0xff
    out PIC2_DATA, al
    ret

isr_com1:
    push ax
    push dx
    call check_if_was_set
    mov dx, UART_IIR            /* identify (and acknowledge THRI) like a driver */
    in al, dx
    inc word ptr [irq4_count]
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop dx
    pop ax
    iret

isr_kbd:
    push ax
    push dx
    call check_if_was_set
    pop dx
    mov byte ptr [kbd_pending], 1
    inc word ptr [irq1_count]
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop ax
    iret

/* Counts interrupts taken while the interrupted code had IF clear, which
   must never happen (a hypervisor bug if it does). Call from an ISR entry
   that pushed exactly AX and DX: FLAGS is then at BP + 12 (BP, return
   address, DX, AX, IP, CS). */
check_if_was_set:
    push bp
    mov bp, sp
    test word ptr [bp + 2 + 2 + 4 + 4], 0x0200
    jnz 1f
    inc word ptr [irq_if0_count]
1:  pop bp
    ret

isr_eoi_master:
    push ax
    mov al, PIC_EOI
    out PIC1_CMD, al
    pop ax
    iret

isr_eoi_slave:
    push ax
    mov al, PIC_EOI
    out PIC2_CMD, al
    out PIC1_CMD, al
    pop ax
    iret

isr_ignore:
    iret

/* ------------------------------------------------------------------------ */
/* UART probe and setup                                                     */
/* ------------------------------------------------------------------------ */

uart_probe:
    mov dx, UART_IER            /* IER: low nibble must read back */
    xor al, al
    out dx, al
    in al, dx
    and al, 0x0f
    mov [probe_ier0], al
    mov al, 0x0f
    out dx, al
    in al, dx
    and al, 0x0f
    mov [probe_ier1], al
    xor al, al
    out dx, al

    mov dx, UART_SCR            /* scratch register holds what is written */
    mov al, 0xa5
    out dx, al
    in al, dx
    mov [probe_scr0], al
    mov al, 0x5a
    out dx, al
    in al, dx
    mov [probe_scr1], al

    mov dx, UART_MCR            /* loopback: RTS -> CTS, OUT2 -> DCD */
    mov al, MCR_LOOP | MCR_OUT2 | MCR_RTS
    out dx, al
    mov dx, UART_MSR
    in al, dx
    and al, MSR_DCD | MSR_CTS
    mov [probe_msr], al
    mov dx, UART_MCR
    xor al, al
    out dx, al

    mov dx, UART_FCR            /* FIFO enable shows in IIR[7:6] on a 16550A */
    mov al, FCR_ENABLE
    out dx, al
    mov dx, UART_IIR
    in al, dx
    shr al, 6
    mov [probe_fifo], al
    mov dx, UART_FCR
    xor al, al
    out dx, al
    ret

uart_setup:
    mov dx, UART_LCR
    mov al, LCR_DLAB
    out dx, al
    mov dx, UART_DLL            /* divisor 1: 115200 baud */
    mov al, 1
    out dx, al
    mov dx, UART_DLM
    xor al, al
    out dx, al
    mov dx, UART_LCR
    mov al, LCR_8N1
    out dx, al
    mov dx, UART_FCR            /* FIFOs on and cleared, RX trigger level 1 */
    mov al, FCR_ENABLE | FCR_CLEAR
    out dx, al
    mov dx, UART_MCR
    mov al, MCR_DTR | MCR_RTS | MCR_OUT2
    out dx, al
    mov dx, UART_IER
    xor al, al
    out dx, al
    mov byte ptr [cur_ier], 0
    ret

report_uart:
    mov si, offset msg_ier
    mov bl, [probe_ier0]
    mov bh, [probe_ier1]
    cmp bx, 0x0f00
    call report_check
    mov al, [probe_ier0]
    call put_hex8
    mov al, '/'
    call putc
    mov al, [probe_ier1]
    call put_hex8
    call put_close

    mov si, offset msg_scr
    mov bl, [probe_scr0]
    mov bh, [probe_scr1]
    cmp bx, 0x5aa5
    call report_check
    mov al, [probe_scr0]
    call put_hex8
    mov al, '/'
    call putc
    mov al, [probe_scr1]
    call put_hex8
    call put_close

    mov si, offset msg_loop
    cmp byte ptr [probe_msr], MSR_DCD | MSR_CTS
    call report_check
    mov al, [probe_msr]
    call put_hex8
    call put_close

    mov si, offset msg_fifo
    cmp byte ptr [probe_fifo], 3
    call report_check
    mov al, [probe_fifo]
    add al, '0'
    call putc
    call put_close

    mov si, offset msg_type
    call puts
    mov bl, [probe_fifo]        /* IIR[7:6]: 0 none, 2 broken FIFO, 3 working FIFO */
    mov si, offset msg_16550a
    cmp bl, 3
    je 1f
    mov si, offset msg_16550
    cmp bl, 2
    je 1f
    mov si, offset msg_16450
    cmp bl, 0
    je 1f
    mov si, offset msg_unknown
1:  mov al, [probe_ier0]        /* no IER means no UART at all */
    mov ah, [probe_ier1]
    cmp ax, 0x0f00
    je 2f
    mov si, offset msg_unknown
2:  call puts
    call put_crlf
    mov si, offset msg_line
    call puts
    ret

/* Prints SI, then "ok (" or "FAILED (" depending on ZF set by the caller's cmp. */
report_check:
    pushf
    call puts
    popf
    mov si, offset msg_ok
    je 1f
    mov si, offset msg_failed
1:  call puts
    ret

/* ------------------------------------------------------------------------ */
/* i8042 probe                                                              */
/* ------------------------------------------------------------------------ */

/* Waits until the controller can take a byte. CF set on timeout. */
kbc_wait_write:
    push cx
    mov cx, KBC_TIMEOUT
1:  in al, KBC_STATUS
    test al, KBC_IBF
    jz 2f
    loop 1b
    pop cx
    stc
    ret
2:  pop cx
    clc
    ret

/* Reads one byte from the output buffer into AL. CF set (AL = 0xFF) on timeout. */
kbc_read:
    push cx
    mov cx, KBC_TIMEOUT
1:  in al, KBC_STATUS
    test al, KBC_OBF
    jnz 2f
    loop 1b
    pop cx
    mov al, 0xff
    stc
    ret
2:  in al, KBC_DATA
    pop cx
    clc
    ret

/* Sends controller command AL. */
kbc_cmd:
    push ax
    call kbc_wait_write
    pop ax
    out KBC_CMD, al
    ret

/* Sends AL to the keyboard (or as a command's parameter) through port 0x60. */
kbc_data:
    push ax
    call kbc_wait_write
    pop ax
    out KBC_DATA, al
    ret

/* Writes the controller configuration byte AL. */
kbc_write_ctr:
    push ax
    mov al, KBC_CMD_WRITE_CTR
    call kbc_cmd
    pop ax
    call kbc_data
    ret

kbc_probe:
    /* 1. flush whatever the controller holds (at most 16 bytes) */
    xor bx, bx
    mov cx, 16
1:  in al, KBC_STATUS
    test al, KBC_OBF
    jz 2f
    in al, KBC_DATA
    inc bx
    loop 1b
2:  mov si, offset msg_kbc_flush
    call puts
    mov al, bl
    call put_hex8
    call put_close

    /* 2. read the CTR, then write it with interrupts and translation off */
    mov al, KBC_CMD_READ_CTR
    call kbc_cmd
    call kbc_read
    mov [kbc_ctr0], al
    mov al, CTR_SYS | CTR_AUXDIS
    call kbc_write_ctr
    mov al, KBC_CMD_READ_CTR
    call kbc_cmd
    call kbc_read
    mov [kbc_ctr1], al
    mov si, offset msg_kbc_ctr
    call puts
    mov al, [kbc_ctr0]
    call put_hex8
    mov si, offset msg_kbc_ctr_w
    call puts
    mov al, [kbc_ctr1]
    call put_hex8
    mov si, offset msg_ok_paren
    cmp byte ptr [kbc_ctr1], CTR_SYS | CTR_AUXDIS
    je 3f
    mov si, offset msg_failed_paren
3:  call puts

    /* 3. controller self-test: 0xAA -> 0x55 (may reset the CTR: write it again) */
    mov al, KBC_CMD_SELF_TEST
    call kbc_cmd
    call kbc_read
    mov [kbc_selftest], al
    mov al, CTR_SYS | CTR_AUXDIS
    call kbc_write_ctr
    mov si, offset msg_kbc_self
    cmp byte ptr [kbc_selftest], 0x55
    call report_check
    mov al, [kbc_selftest]
    call put_hex8
    call put_close

    /* 4. keyboard interface test 0xAB -> 0x00, then enable the keyboard port */
    mov al, KBC_CMD_KBD_TEST
    call kbc_cmd
    call kbc_read
    mov [kbc_kbdtest], al
    mov al, KBC_CMD_KBD_ENABLE
    call kbc_cmd
    mov si, offset msg_kbc_port
    cmp byte ptr [kbc_kbdtest], 0
    call report_check
    mov al, [kbc_kbdtest]
    call put_hex8
    call put_close

    /* 5. keyboard identify: 0xF2 -> ACK 0xFA, ID 0xAB 0x83 (MF2) */
    mov al, KBD_IDENTIFY
    call kbc_data
    call kbc_read
    mov [kbd_id + 0], al
    call kbc_read
    mov [kbd_id + 1], al
    call kbc_read
    mov [kbd_id + 2], al
    mov si, offset msg_kbd_id
    mov al, [kbd_id + 0]
    mov ah, [kbd_id + 1]
    cmp ax, 0xab00 + KBD_ACK
    jne 4f
    cmp byte ptr [kbd_id + 2], 0x83
4:  call report_check
    mov al, [kbd_id + 0]
    call put_hex8
    mov al, ' '
    call putc
    mov al, [kbd_id + 1]
    call put_hex8
    mov al, ' '
    call putc
    mov al, [kbd_id + 2]
    call put_hex8
    call put_close

    /* 6. enable scanning: 0xF4 -> ACK */
    mov al, KBD_ENABLE
    call kbc_data
    call kbc_read
    mov [kbd_enable_ack], al
    mov si, offset msg_kbd_enable
    cmp byte ptr [kbd_enable_ack], KBD_ACK
    call report_check
    mov al, [kbd_enable_ack]
    call put_hex8
    call put_close
    call tx_drain
    ret

/* ------------------------------------------------------------------------ */
/* Interrupt probe: does IRQ 4 reach us?                                    */
/* ------------------------------------------------------------------------ */

irq_probe:
    test byte ptr [CONFIG], CONFIG_POLL
    jnz 3f
    mov word ptr [irq4_count], 0
    mov dx, UART_IER            /* THR is empty: enabling THRI raises the line */
    mov al, IER_ETBEI
    out dx, al
    sti
    mov cx, IRQ_PROBE_POLLS
    mov dx, UART_LSR
1:  cmp word ptr [irq4_count], 0
    jne 2f
    in al, dx
    loop 1b
    cli                         /* no interrupt: fall back to polling */
    mov dx, UART_IER
    xor al, al
    out dx, al
    mov si, offset msg_irq_none
    call puts
    jmp 4f
2:  cli
    mov dx, UART_IER
    xor al, al
    out dx, al
    mov byte ptr [irq_mode], 1
    mov al, CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE
    call kbc_write_ctr
    mov si, offset msg_irq_ok
    call puts
    call tx_drain
    ret
3:  mov si, offset msg_irq_forced
    call puts
4:  mov al, CTR_SYS | CTR_AUXDIS | CTR_XLATE
    call kbc_write_ctr
    call tx_drain
    ret

/* ------------------------------------------------------------------------ */
/* The driver: one pass over every device. Call with interrupts disabled.   */
/* Returns AL != 0 if anything happened.                                    */
/* ------------------------------------------------------------------------ */

service:
    push bx
    push cx
    push dx
    push si
    push di
    mov byte ptr [progress], 0

    /* UART receive: RBR -> RX ring while data is ready and the ring has room */
    mov dx, UART_LSR
    in al, dx
    mov [last_lsr], al
1:  test byte ptr [last_lsr], LSR_DR
    jz 2f
    cmp word ptr [rx_count], RING_CAP
    jae 2f
    mov dx, UART_RBR
    in al, dx
    mov bx, [rx_head]
    mov [RX_RING + bx], al
    inc byte ptr [rx_head]
    inc word ptr [rx_count]
    mov byte ptr [progress], 1
    mov dx, UART_LSR
    in al, dx
    mov [last_lsr], al
    jmp 1b

    /* UART transmit: a burst of up to 16 bytes when the TX FIFO is empty */
2:  test byte ptr [last_lsr], LSR_THRE
    jz 4f
    mov cx, [tx_count]
    jcxz 4f
    cmp cx, TX_BURST
    jbe 3f
    mov cx, TX_BURST
3:  mov dx, UART_THR
    mov byte ptr [progress], 1
5:  mov bx, [tx_tail]
    mov al, [TX_RING + bx]
    out dx, al
    inc byte ptr [tx_tail]
    dec word ptr [tx_count]
    loop 5b

    /* keyboard: always when polling, after IRQ 1 otherwise */
4:  cmp byte ptr [irq_mode], 0
    je 6f
    cmp byte ptr [kbd_pending], 0
    je 8f
    mov byte ptr [kbd_pending], 0
6:  in al, KBC_STATUS
    test al, KBC_OBF
    jz 8f
    mov ah, al
    in al, KBC_DATA
    mov byte ptr [progress], 1
    test ah, KBC_AUXB           /* not ours: aux port data */
    jnz 6b
    call kbd_byte
    jmp 6b

    /* echo: RX ring -> TX ring while both allow (an echo needs up to 2 bytes) */
    /* (RX-only mode: count and checksum the bytes, echo nothing) */
8:  cmp byte ptr [echo_on], 0   /* input waits in the ring until the report is out */
    je 9f
    cmp word ptr [rx_count], 0
    je 9f
    test byte ptr [CONFIG], CONFIG_RX_ONLY
    jnz 7f
    cmp word ptr [tx_count], RING_CAP - 2
    ja 9f
7:  mov bx, [rx_tail]
    mov al, [RX_RING + bx]
    inc byte ptr [rx_tail]
    dec word ptr [rx_count]
    mov byte ptr [progress], 1
    xor ah, ah
    add [rx_sum], ax
    add word ptr [rx_total], 1
    adc word ptr [rx_total + 2], 0
    test byte ptr [CONFIG], CONFIG_RX_VERIFY
    jz 6f
    call rx_verify
6:  test byte ptr [CONFIG], CONFIG_RX_ONLY
    jnz 8b
    call input_byte
    jmp 8b

    /* keep IER in step with the rings, so the line is high only with work to do */
9:  cmp byte ptr [irq_mode], 0
    je 11f
    xor al, al
    cmp word ptr [rx_count], RING_CAP
    jae 10f
    or al, IER_ERBFI
10: cmp word ptr [tx_count], 0
    je 12f
    or al, IER_ETBEI
12: cmp al, [cur_ier]
    je 11f
    mov [cur_ier], al
    mov dx, UART_IER
    out dx, al

11: mov al, [progress]
    pop di
    pop si
    pop dx
    pop cx
    pop bx
    ret

/* The TX workload: keeps the TX ring full of the pattern until TX_COUNT bytes
   are out (lines of 63 characters '!' + column, then '\n'), then asks for a
   reset. Call with interrupts disabled. */
tx_generate:
    cmp byte ptr [tx_active], 0
    je 9f
1:  mov ax, [tx_left]
    or ax, [tx_left + 2]
    jz 2f
    cmp word ptr [tx_count], RING_CAP
    jae 9f
    mov al, [tx_col]
    cmp al, TX_LINE - 1
    jne 3f
    mov al, '\n'
    mov byte ptr [tx_col], 0
    jmp 4f
3:  add al, '!'
    inc byte ptr [tx_col]
4:  call tx_push
    sub word ptr [tx_left], 1
    sbb word ptr [tx_left + 2], 0
    jmp 1b
2:  cmp word ptr [tx_count], 0  /* all generated: reset once it is out */
    jne 9f
    mov byte ptr [tx_active], 0
    mov byte ptr [reboot_pending], 3
9:  ret

/* CONFIG_RX_VERIFY: input byte i must be i mod 251. Counts mismatches,
   remembers the first (position, byte, expected) and resynchronises on the
   byte received. Preserves AL. */
rx_verify:
    mov ah, [rx_expect]
    cmp al, ah
    je 2f
    cmp word ptr [rx_bad], 0
    jne 1f
    mov bx, [rx_total]          /* rx_total already counts this byte */
    mov [rx_bad_pos], bx
    mov bx, [rx_total + 2]
    mov [rx_bad_pos + 2], bx
    mov [rx_bad_got], al
    mov [rx_bad_want], ah
1:  inc word ptr [rx_bad]
    mov ah, al
2:  inc ah
    cmp ah, 251
    jb 3f
    xor ah, ah
3:  mov [rx_expect], ah
    ret

/* One received byte in AL: echo it and collect the line for commands. */
input_byte:
    cmp al, '\r'
    je 2f
    cmp al, '\n'
    je 3f
    call tx_push
    mov bl, [line_len]
    cmp bl, LINE_MAX
    jae 1f
    xor bh, bh
    mov [line_buf + bx], al
1:  cmp bl, 0xff                /* saturate: an overlong line matches nothing */
    je 5f
    inc byte ptr [line_len]
5:  ret
2:  call tx_push                /* '\r' echoes as "\r\n" for terminals */
    mov al, '\n'
3:  call tx_push
    /* end of line: is it "reboot"? */
    cmp byte ptr [line_len], 6
    jne 4f
    mov si, offset line_buf
    mov di, offset cmd_reboot
    mov cx, 6
    repe cmpsb
    jne 4f
    mov byte ptr [reboot_pending], 1
4:  mov byte ptr [line_len], 0
    ret

/* One keyboard byte in AL (scancode set 1, translated by the i8042). */
kbd_byte:
    cmp al, 0xe0
    jne 1f
    mov byte ptr [kbd_e0], 1
    ret
1:  mov ah, al
    and ah, 0x7f                /* key code without the break bit */
    mov bl, al
    not bl
    shr bl, 7                   /* 1 = make, 0 = break */
    cmp ah, 0x1d                /* left Ctrl (E0 1D: right Ctrl) */
    jne 2f
    mov [kbd_ctrl], bl
    jmp 9f
2:  cmp ah, 0x38                /* left Alt (E0 38: right Alt) */
    jne 3f
    mov [kbd_alt], bl
    jmp 9f
3:  cmp ah, 0x53                /* Delete (E0 53; keypad Del without E0) */
    jne 9f
    test bl, bl
    jz 9f
    cmp byte ptr [kbd_ctrl], 0
    je 9f
    cmp byte ptr [kbd_alt], 0
    je 9f
    mov byte ptr [reboot_pending], 2
9:  mov byte ptr [kbd_e0], 0
    ret

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

/* Appends AL to the TX ring; the caller made sure there is room. */
tx_push:
    push bx
    mov bx, [tx_head]
    mov [TX_RING + bx], al
    inc byte ptr [tx_head]
    inc word ptr [tx_count]
    pop bx
    ret

/* Appends AL to the TX ring, running the driver until there is room. */
putc:
    push ax
1:  cmp word ptr [tx_count], RING_CAP
    jb 2f
    call service
    jmp 1b
2:  pop ax
    call tx_push
    ret

puts:
    push ax
1:  lodsb
    test al, al
    jz 2f
    call putc
    jmp 1b
2:  pop ax
    ret

/* Ends a report line: ")\r\n". */
put_close:
    mov al, ')'
    call putc
put_crlf:
    mov al, '\r'
    call putc
    mov al, '\n'
    call putc
    ret

put_hex16:
    push ax
    mov al, ah
    call put_hex8
    pop ax
put_hex8:
    push ax
    shr al, 4
    call put_nibble
    pop ax
    and al, 0x0f
put_nibble:
    add al, '0'
    cmp al, '9'
    jbe 1f
    add al, 'A' - '0' - 10
1:  call putc
    ret

/* Runs the driver until the TX ring is empty and the transmitter idle. */
tx_drain:
1:  cmp word ptr [tx_count], 0
    je 2f
    call service
    jmp 1b
2:  mov cx, KBC_TIMEOUT
    mov dx, UART_LSR
3:  in al, dx
    test al, LSR_TEMT
    jnz 4f
    loop 3b
4:  ret

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */
    .data
msg_ier:        .asciz "uart: IER test "
msg_scr:        .asciz "uart: scratch register "
msg_loop:       .asciz "uart: loopback MSR check "
msg_fifo:       .asciz "uart: FIFO check (IIR[7:6]) "
msg_type:       .asciz "uart: UART is a "
msg_16550a:     .asciz "16550A"
msg_16550:      .asciz "16550"
msg_16450:      .asciz "8250/16450"
msg_unknown:    .asciz "unknown UART"
msg_line:       .asciz "uart: 115200 8N1, FIFOs on, 16-byte TX bursts\r\n"
msg_ok:         .asciz "ok ("
msg_failed:     .asciz "FAILED ("
msg_ok_paren:   .asciz " ok\r\n"
msg_failed_paren: .asciz " FAILED\r\n"
msg_banner:     .asciz "minivm built-in guest: a real-mode driver for a 16550A on COM1 and an i8042\r\n"
msg_kbc_flush:  .asciz "i8042: flushed stale bytes ("
msg_kbc_ctr:    .asciz "i8042: CTR read "
msg_kbc_ctr_w:  .asciz ", wrote 24, read back "
msg_kbc_self:   .asciz "i8042: self-test "
msg_kbc_port:   .asciz "i8042: keyboard port test "
msg_kbd_id:     .asciz "i8042: keyboard identified "
msg_kbd_enable: .asciz "i8042: keyboard scanning enabled "
msg_irq_ok:     .asciz "irq: IRQ 4 delivered through the PIC: interrupt-driven I/O\r\n"
msg_irq_none:   .asciz "irq: no IRQ 4 arrived: polled I/O\r\n"
msg_irq_forced: .asciz "irq: polling forced by the VMM: polled I/O\r\n"
msg_ready:      .asciz "ready: every line echoes back; type \"reboot\" or press Ctrl+Alt+Del to reset\r\n"
msg_reboot_cmd: .asciz "guest: \"reboot\": resetting through the i8042 (0xFE on port 0x64)\r\n"
msg_reboot_cad: .asciz "guest: Ctrl+Alt+Del: resetting through the i8042 (0xFE on port 0x64)\r\n"
msg_reboot_tx:  .asciz "guest: TX workload done: resetting through the i8042 (0xFE on port 0x64)\r\n"
msg_rx_total:   .asciz "guest: received 0x"
msg_rx_sum:     .asciz " bytes, sum 0x"
msg_verify:     .asciz "guest: verify: mismatches 0x"
msg_verify_at:  .asciz ", first at byte 0x"
msg_irq_count4: .asciz "guest: interrupts handled: IRQ 4 0x"
msg_irq_count1: .asciz ", IRQ 1 0x"
msg_sleeps:     .asciz ", halts 0x"
msg_if0:        .asciz ", with IF=0 0x"
cmd_reboot:     .ascii "reboot"

    .balign 2
rx_head:        .word 0     /* only the low byte moves: 8-bit ring index */
rx_tail:        .word 0
rx_count:       .word 0
tx_head:        .word 0
tx_tail:        .word 0
tx_count:       .word 0
irq4_count:     .word 0
irq1_count:     .word 0
rx_total:       .word 0, 0      /* bytes taken from the RX ring (u32) */
rx_sum:         .word 0         /* their sum mod 2^16 */
rx_bad:         .word 0         /* CONFIG_RX_VERIFY mismatches */
rx_bad_pos:     .word 0, 0      /* 1-based position of the first one */
rx_expect:      .byte 0
rx_bad_got:     .byte 0
rx_bad_want:    .byte 0
tx_left:        .word 0, 0      /* TX workload bytes still to generate (u32) */
sleeps:         .word 0
irq_if0_count:  .word 0     /* interrupts taken with IF=0: must stay 0 */
cur_ier:        .byte 0
last_lsr:       .byte 0
progress:       .byte 0
irq_mode:       .byte 0
echo_on:        .byte 0
tx_active:      .byte 0
tx_col:         .byte 0
kbd_pending:    .byte 0
kbd_e0:         .byte 0
kbd_ctrl:       .byte 0
kbd_alt:        .byte 0
reboot_pending: .byte 0     /* 1: "reboot" typed, 2: Ctrl+Alt+Del */
line_len:       .byte 0
line_buf:       .space LINE_MAX
probe_ier0:     .byte 0
probe_ier1:     .byte 0
probe_scr0:     .byte 0
probe_scr1:     .byte 0
probe_msr:      .byte 0
probe_fifo:     .byte 0
kbc_ctr0:       .byte 0
kbc_ctr1:       .byte 0
kbc_selftest:   .byte 0
kbc_kbdtest:    .byte 0
kbd_id:         .space 3
kbd_enable_ack: .byte 0
