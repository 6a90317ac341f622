#!/bin/sh
# /init of the superio test guest (packed by scripts/guest-image).
#
# Sets up a minimal busybox system, then hands PID 1 to busybox init, whose
# inittab (written below) runs either an interactive shell on ttyS0 or one
# scripted job chosen on the kernel command line with `superio.job=NAME[:ARG]`:
#
#   (none)       shell on ttyS0, prompt "guest# "
#   idle         phase 16, sleep 2 s with the port open and quiet, phase 17
#                (a UART driver that fell back to polling would touch it)
#   tx:BYTES     writes BYTES of a numbered 64-byte-line pattern to ttyS0 in
#                4 KiB write(2)s (made in /tmp first, outside phase 1..2)
#   txlines:BYTES  the same bytes straight from `awk | head -c` while sending:
#                small writes, the tty goes idle between them
#   rx:BYTES     prints SUPERIO-READY, reads BYTES from ttyS0, prints the md5
#
# Jobs print the guest's /proc/interrupts between SUPERIO-IRQ-BEGIN/END and
# end with `reboot -f`, which resets through the i8042 (reboot=k).
# `phase N` writes the byte N to port 0x4F0: the harness snapshots its
# counters there, so one phase of guest work can be measured.
# Ctrl+Alt+Del makes busybox init print SUPERIO-CTRLALTDEL and reboot.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

cat >/bin/phase <<'EOF'
#!/bin/sh
# Marks a phase for the harness: one byte, the phase number, to port 0x4F0.
printf "\\$(printf %o "$1")" | dd of=/dev/port bs=1 seek=1264 count=1 2>/dev/null
EOF
chmod 755 /bin/phase
# Phase 240: userspace is up (the boot's cost is everything before it).
phase 240

cat >/bin/guest-irqs <<'EOF'
#!/bin/sh
echo SUPERIO-IRQ-BEGIN
grep -E 'CPU|ttyS|i8042' /proc/interrupts
# IRQ 4 interrupts no handler claimed (the 8250 handler returns IRQ_NONE
# when its first IIR read finds nothing pending): the guest's own count of
# spurious COM1 interrupts, beside the harness's detector.
echo "irq4 $(grep '^unhandled' /proc/irq/4/spurious 2>/dev/null)"
echo "uptime $(cat /proc/uptime)"
echo SUPERIO-IRQ-END
EOF
chmod 755 /bin/guest-irqs

cat >/bin/tx-pattern <<'EOF'
#!/bin/sh
# The tx jobs' bytes: numbered 64-byte lines, cut to $1 bytes
# (tests/linux/guest.mjs txPattern and scripts/bench check them).
awk -v n="$1" 'BEGIN {
    s = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012"
    for (i = 0; i * 64 < n; i++) printf "%07d:%s\n", i, s
}' | head -c "$1"
EOF
chmod 755 /bin/tx-pattern

cat >/bin/guest-finish <<'EOF'
#!/bin/sh
# Waits until the UART sent everything (stty sets the mode with TCSADRAIN,
# which waits for the transmitter to empty), then resets through the i8042.
guest-irqs
stty -F /dev/ttyS0 sane 2>/dev/null
echo SUPERIO-JOB-DONE
stty -F /dev/ttyS0 sane 2>/dev/null
reboot -f
EOF
chmod 755 /bin/guest-finish

job=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        superio.job=*) job="${arg#superio.job=}" ;;
    esac
done

cat >/etc/job <<EOF
#!/bin/sh
exec </dev/ttyS0 >/dev/ttyS0 2>&1
job="$job"
EOF
cat >>/etc/job <<'EOF'
case "$job" in
    idle)
        dmesg -n 1
        echo SUPERIO-IDLE-BEGIN
        phase 16
        sleep 2
        phase 17
        echo SUPERIO-IDLE-END
        ;;
    tx:*)
        # Large writes, as a bulk writer (cat of a file, a log shipper)
        # makes them: the tty stays busy through each tty_write chunk, so
        # the phase measures the driver's per-FIFO-load cost and not its
        # per-write start/stop cost. The pattern is made first, in the
        # initramfs' RAM, so that awk's work stays outside phase 1..2.
        n="${job#tx:}"
        dmesg -n 1
        stty raw -echo
        tx-pattern "$n" >/tmp/tx.bin
        echo SUPERIO-TX-BEGIN
        phase 1
        dd if=/tmp/tx.bin bs=4096 2>/dev/null
        stty raw -echo
        phase 2
        rm -f /tmp/tx.bin
        echo
        echo SUPERIO-TX-END
        ;;
    txlines:*)
        # The writer tx used before: awk's output as head -c passes it on,
        # made while sending (the small-write case).
        n="${job#txlines:}"
        dmesg -n 1
        stty raw -echo
        echo SUPERIO-TX-BEGIN
        phase 1
        tx-pattern "$n"
        stty raw -echo
        phase 2
        echo
        echo SUPERIO-TX-END
        ;;
    rx:*)
        n="${job#rx:}"
        dmesg -n 1
        stty raw -echo
        phase 1
        echo SUPERIO-READY
        sum="$(head -c "$n" | md5sum)"
        phase 2
        stty sane
        echo "SUPERIO-MD5 ${sum%% *}"
        ;;
    *)
        echo "SUPERIO-BAD-JOB $job"
        ;;
esac
exec guest-finish
EOF
chmod 755 /etc/job

cat >/etc/profile <<'EOF'
export PATH=/bin
export PS1='guest# '
EOF

{
    echo "::sysinit:/bin/echo SUPERIO-INIT"
    if [ -n "$job" ]; then
        echo "ttyS0::once:/etc/job"
    else
        echo "ttyS0::respawn:-/bin/sh"
    fi
    echo "::ctrlaltdel:/bin/sh -c 'echo SUPERIO-CTRLALTDEL >/dev/ttyS0; reboot -f'"
} >/etc/inittab

exec /bin/init
