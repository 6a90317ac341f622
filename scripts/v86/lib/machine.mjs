// One guest run in the v86 PC emulator, with COM1 and the i8042 served either
// by superio's Rust devices (through the napi bridge) or by v86's own models.
//
// This is the only module that touches v86 internals (pinned v86 0.5.462):
//   emulator.v86.cpu.io.register_read/register_write(port, dev, r8, r16, r32)
//   cpu.device_raise_irq(n) / cpu.device_lower_irq(n)
//   cpu.reboot_internal()                 (v86's reset path)
//   cpu.devices.uart0.input               (v86's own UART receive queue)
// JS only forwards: every device decision is made in Rust (scripts/v86/lib/bridge.mjs).

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { V86 } from "v86";
import { Stats, TRACE_KINDS } from "./stats.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** COM1 and the i8042, as a PC wires them. */
export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;
export const KBD_DATA = 0x60;
export const KBD_STATUS = 0x64;
export const KBD_IRQ = 1;
export const AUX_IRQ = 12;
/** An otherwise unused port: a guest write here snapshots all counters. */
export const PHASE_PORT = 0x4f0;
/**
 * Input the all/refill policies feed from guest accesses before the guest's
 * ISR once finds nothing pending (the bridge's BURST_LIMIT; see its docs:
 * an unbounded feed runs Linux's 8250 ISR into its pass limit and the port
 * stalls on an edge-triggered PIC).
 */
export const BURST_LIMIT = 16 * 1024;
/** Kernel command line every run starts from. */
export const BASE_CMDLINE =
    "console=ttyS0 reboot=k cryptomgr.notests noisapnp tsc=reliable";

/** Where scripts/guest-image leaves the kernel, BIOS and initramfs. */
export function defaultImageDir() {
    return process.env.GUEST_IMAGE_DIR ?? path.resolve(here, "../../../target/guest-image");
}

/** Where scripts/linux-tests copies the built addon. */
export function defaultAddonPath() {
    return process.env.SUPERIO_V86_ADDON ?? path.resolve(here, "../../../target/v86-bridge/superio_v86_bridge.node");
}

/** Loads the napi addon or returns null with the reason. */
export function loadAddon(file = defaultAddonPath()) {
    if (!fs.existsSync(file)) return { addon: null, reason: `addon not built: ${file}` };
    try {
        return { addon: require(file), reason: null };
    } catch (e) {
        return { addon: null, reason: `addon failed to load: ${e.message}` };
    }
}

/**
 * Runs one guest.
 * opts: device ("superio"|"vm-superio"|"v86"), cmdlineExtra, input (Buffer|null), push
 * ("all"|"refill"|"paced"), waitFor (string that marks "shell ready"),
 * ctrlAltDelAfter (seconds after ready, or null), timeout (seconds),
 * memoryMiB, onOutput(Buffer), stats (bool), imageDir, addon, trace (bool: record
 * every port access, line change, host tick and idle period in stats.trace).
 * Resolves to { outcome: "reset"|"timeout"|"error", reason, output: Buffer, stats }.
 */
export async function runGuest(opts) {
    const imageDir = opts.imageDir ?? defaultImageDir();
    const files = ["bios.bin", "bzImage", "initrd.cpio.gz"].map((f) => path.join(imageDir, f));
    for (const f of files) {
        if (!fs.existsSync(f)) throw new Error(`guest image missing: ${f} (run scripts/guest-image)`);
    }
    const [bios, bzimage, initrd] = files.map((f) => {
        const b = fs.readFileSync(f);
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    });
    const device = opts.device ?? "superio";
    const stats = new Stats();
    if (opts.trace) stats.enableTrace();
    const outChunks = [];
    let outBytes = 0;
    const onOutput = (buf) => {
        outChunks.push(buf);
        outBytes += buf.length;
        stats.bytesOut += buf.length;
        if (opts.onOutput) opts.onOutput(buf);
        watcher.feed(buf);
    };

    const emulator = new V86({
        wasm_path: require.resolve("v86/build/v86.wasm"),
        bios: { buffer: bios },
        bzimage: { buffer: bzimage },
        initrd: { buffer: initrd },
        cmdline: [BASE_CMDLINE, opts.cmdlineExtra ?? ""].join(" ").trim(),
        memory_size: (opts.memoryMiB ?? 128) * 1024 * 1024,
        autostart: false,
        disable_mouse: true,
        disable_speaker: true,
        acpi: false,
        log_level: 0,
    });

    const watcher = new Watcher(opts.waitFor ?? "guest# ");
    const started = process.hrtime.bigint();

    return await new Promise((resolve) => {
        let done = false;
        // v86 runs the guest from timers: an exception there is a crash of
        // this run (or noise from a CPU already told to stop).
        const onCrash = (e) => {
            if (!done) finish("error", `emulator crashed: ${e?.stack ?? e}`);
        };
        process.on("uncaughtException", onCrash);
        const timers = [];
        let backend = null;
        const finish = (outcome, reason) => {
            if (done) return;
            done = true;
            for (const t of timers) clearInterval(t), clearTimeout(t);
            if (backend) backend.drainOutput();
            stats.wallMs = Number(process.hrtime.bigint() - started) / 1e6;
            stats.guestInstructions = emulator.get_instruction_counter();
            if (backend) stats.finish(backend);
            emulator.stop().finally(() => {
                emulator.destroy().catch(() => {});
                setTimeout(() => process.off("uncaughtException", onCrash), 100);
                resolve({ outcome, reason, output: Buffer.concat(outChunks, outBytes), stats });
            });
        };

        emulator.add_listener("emulator-ready", () => {
            try {
                const cpu = emulator.v86.cpu;
                stats.instructionCounter = () => emulator.get_instruction_counter();
                stats.hookIrqs(cpu);
                stats.hookPhasePort(cpu, PHASE_PORT, () => (backend ? backend.counters() : null));
                if (stats.trace) traceIdle(emulator.v86, stats);
                backend = device === "v86"
                    ? new V86Devices(emulator, cpu, stats, onOutput)
                    : new SuperioDevices(opts.addon, cpu, stats, onOutput, device);
                // Every reset path of v86 ends here: a reset we did not ask
                // for through the i8042 is reported as such. The CPU is reset
                // for real (as the i8042's reset line does), so it does not
                // run on past the reset while the emulator stops.
                const origReboot = cpu.reboot_internal.bind(cpu);
                cpu.reboot_internal = () => {
                    if (backend.i8042ResetSeen()) finish("reset", "guest reset through the i8042");
                    else finish("error", "guest reset without an i8042 reset request");
                    origReboot();
                };
                backend.onReset(() => cpu.reboot_internal());
                timers.push(setInterval(() => backend.drainOutput(), 5));
                watcher.onReady(() => {
                    stats.readyMs = Number(process.hrtime.bigint() - started) / 1e6;
                    if (opts.input) startInput(backend, opts, timers, stats);
                    if (opts.ctrlAltDelAfter != null) {
                        timers.push(setTimeout(() => {
                            try {
                                backend.ctrlAltDel();
                            } catch (e) {
                                finish("error", `Ctrl+Alt+Del injection failed: ${e.message}`);
                            }
                        }, opts.ctrlAltDelAfter * 1000));
                    }
                });
                timers.push(setTimeout(() => finish("timeout", `no i8042 reset within ${opts.timeout ?? 60} s`),
                    (opts.timeout ?? 60) * 1000));
                emulator.run();
            } catch (e) {
                finish("error", `harness failed: ${e.stack}`);
            }
        });
    });
}

/** Feeds opts.input into the guest's ttyS0 under the chosen push policy. */
function startInput(backend, opts, timers, stats) {
    const policy = opts.push ?? "all";
    stats.bytesIn = opts.input.length;
    backend.setInput(opts.input, policy);
    if (policy === "paced") {
        // A timer tops the receive FIFO up: what a VMM with a polled host
        // side does. 1 ms ticks; each may move a FIFO's worth.
        timers.push(setInterval(() => backend.pump(), 1));
    } else {
        // "all"/"refill" are driven from the device side; this slow timer only
        // covers input that arrived while nothing else would move it.
        timers.push(setInterval(() => backend.kick(), 20));
    }
}

/** Watches the serial output for the "shell ready" string (once). */
class Watcher {
    constructor(needle) {
        this.needle = Buffer.from(needle);
        this.tail = Buffer.alloc(0);
        this.ready = false;
        this.cb = null;
    }
    onReady(cb) {
        this.cb = cb;
        if (this.ready) cb();
    }
    feed(buf) {
        if (this.ready) return;
        const hay = Buffer.concat([this.tail, buf]);
        if (hay.indexOf(this.needle) >= 0) {
            this.ready = true;
            if (this.cb) this.cb();
            return;
        }
        this.tail = hay.subarray(Math.max(0, hay.length - this.needle.length));
    }
}

/** superio's UART and i8042 behind the napi bridge. */
class SuperioDevices {
    constructor(addon, cpu, stats, onOutput, serial = "superio") {
        if (!addon) throw new Error("the superio device backend needs the napi addon");
        // "vm-superio": rust-vmm vm-superio 0.8.2's Serial on COM1 (our i8042
        // stays), for side-by-side benchmarks (scripts/bench).
        this.bridge = serial === "superio" ? new addon.Bridge() : addon.Bridge.withSerial(serial);
        this.cpu = cpu;
        this.stats = stats;
        this.onOutput = onOutput;
        this.resetCb = null;
        this.resetSeen = false;
        const b = this.bridge;
        const io = cpu.io;
        const apply = (code) => this.applyIrq(code);
        const counts = stats.portCounts;
        for (let reg = 0; reg < 8; reg++) {
            const port = COM1_BASE + reg;
            io.register_read(port, this, () => {
                const r = b.uartRead(reg);
                counts.read(port);
                const v = r & 0xff;
                if (stats.trace) stats.traceEvent(TRACE_KINDS.rd, port, v);
                // The value was sampled before any line change this access
                // made (input pushed after the read): judge the read first.
                if (reg === 2) stats.iirRead(v);
                if (r > 0xff) apply(r);
                return v;
            });
            io.register_write(port, this, (v) => {
                counts.write(port);
                if (stats.trace) stats.traceEvent(TRACE_KINDS.wr, port, v);
                const r = b.uartWrite(reg, v);
                if (r !== 0) apply(r);
            });
        }
        for (const [port, reg] of [[KBD_DATA, 0], [KBD_STATUS, 4]]) {
            io.register_read(port, this, () => {
                counts.read(port);
                const r = b.kbdRead(reg);
                if (stats.trace) stats.traceEvent(TRACE_KINDS.rd, port, r & 0xff);
                if (r > 0xff) apply(r);
                return r & 0xff;
            });
            io.register_write(port, this, (v) => {
                counts.write(port);
                if (stats.trace) stats.traceEvent(TRACE_KINDS.wr, port, v);
                const r = b.kbdWrite(reg, v);
                if (r !== 0) apply(r);
            });
        }
    }
    /**
     * The bridge packs interrupt-line changes above the data byte: per line
     * (COM1 bits 8..10, IRQ1 bits 11..13, IRQ12 bits 14..16, reset bit 17) two
     * bits count transitions (0..3) and one gives the final level. Replaying
     * them keeps every edge the device produced, in order.
     */
    applyIrq(code) {
        replay(this.cpu, COM1_IRQ, code >>> 8);
        replay(this.cpu, KBD_IRQ, code >>> 11);
        replay(this.cpu, AUX_IRQ, code >>> 14);
        if (code & (1 << 17)) {
            this.resetSeen = true;
            if (this.resetCb) this.resetCb();
        }
    }
    i8042ResetSeen() {
        return this.resetSeen;
    }
    onReset(cb) {
        this.resetCb = cb;
    }
    drainOutput() {
        const buf = this.bridge.takeOutput();
        if (buf.length) this.onOutput(buf);
        const r = this.bridge.service();
        if (this.stats.trace) this.stats.traceEvent(TRACE_KINDS.service, 0, r);
        if (r !== 0) this.applyIrq(r);
    }
    setInput(buf, policy) {
        const r = this.bridge.setInput(buf, policy);
        if (r !== 0) this.applyIrq(r);
    }
    pump() {
        const r = this.bridge.pump();
        if (r !== 0) this.applyIrq(r);
    }
    kick() {
        this.pump();
    }
    ctrlAltDel() {
        const r = this.bridge.ctrlAltDel();
        if (r !== 0) this.applyIrq(r);
    }
    counters() {
        return this.bridge.counters();
    }
}

/**
 * Traces v86's sleeps: its main loop returns how long the CPU may sleep
 * (halted, next timer due in t ms) and the emulator waits that long unless
 * an interrupt wakes it. An interval with t >= 1 is time the guest idled.
 */
function traceIdle(v86, stats) {
    const next = v86.next_tick.bind(v86);
    v86.next_tick = (t) => {
        if (t >= 1) stats.traceEvent(TRACE_KINDS.idle, t, 0);
        next(t);
    };
}

function replay(cpu, irq, bits) {
    const n = bits & 3;
    if (n === 0) return;
    const level = (bits >>> 2) & 1;
    // An even number of transitions ends where it started: show the pulse.
    if ((n & 1) === 0) level ? cpu.device_lower_irq(irq) : cpu.device_raise_irq(irq);
    level ? cpu.device_raise_irq(irq) : cpu.device_lower_irq(irq);
}

/** v86's own UART and i8042, for comparison; only observed, never changed. */
class V86Devices {
    constructor(emulator, cpu, stats, onOutput) {
        this.emulator = emulator;
        this.cpu = cpu;
        this.uart = cpu.devices.uart0;
        this.onOutput = onOutput;
        this.resetSeen = false;
        this.pending = [];
        this.input = null;
        this.inputPos = 0;
        this.policy = "all";
        this.budget = BURST_LIMIT;
        const io = cpu.io;
        const counts = stats.portCounts;
        const wrap = (port) => {
            const p = io.ports[port];
            const r8 = p.read8;
            const w8 = p.write8;
            const dev = p.device;
            io.register_read(port, dev, () => {
                counts.read(port);
                const v = r8.call(dev);
                if (stats.trace) stats.traceEvent(TRACE_KINDS.rd, port, v);
                if (port === COM1_BASE + 2) {
                    stats.iirRead(v);
                    if (v & 1) this.budget = BURST_LIMIT;
                }
                // Host input follows the guest's reads, as superio's bridge
                // does, within the same per-handler budget.
                if (port === COM1_BASE && this.input && this.policy !== "paced") {
                    this.budget -= this.pump(this.budget);
                }
                return v;
            });
            io.register_write(port, dev, (v) => {
                counts.write(port);
                if (stats.trace) stats.traceEvent(TRACE_KINDS.wr, port, v);
                if (port === KBD_STATUS && v === 0xfe) this.resetSeen = true;
                w8.call(dev, v);
            });
        };
        for (let reg = 0; reg < 8; reg++) wrap(COM1_BASE + reg);
        wrap(KBD_DATA);
        wrap(KBD_STATUS);
        emulator.add_listener("serial0-output-byte", (byte) => this.pending.push(byte));
    }
    i8042ResetSeen() {
        return this.resetSeen;
    }
    onReset() {}
    drainOutput() {
        if (this.pending.length) {
            const buf = Buffer.from(this.pending);
            this.pending = [];
            this.onOutput(buf);
        }
    }
    setInput(buf, policy) {
        this.input = buf;
        this.inputPos = 0;
        this.policy = policy;
        this.pump();
    }
    /**
     * v86's receive queue is unbounded and has no FIFO: offer input the way a
     * 16550A with 64-byte FIFO would accept it. `all` tops the queue up after
     * every RBR read, `refill` only once the guest emptied it, `paced` from
     * the 1 ms timer.
     */
    pump(limit = Infinity) {
        if (!this.input) return 0;
        const queued = this.uart.input.length;
        if (this.policy === "refill" && queued > 0) return 0;
        const room = Math.min(64 - queued, limit);
        if (room <= 0) return 0;
        const end = Math.min(this.input.length, this.inputPos + room);
        const n = end - this.inputPos;
        if (n > 0) {
            this.emulator.serial_send_bytes(0, this.input.subarray(this.inputPos, end));
            this.inputPos = end;
        }
        return n;
    }
    kick() {
        this.pump();
    }
    ctrlAltDel() {
        // Ctrl, Alt, Delete (E0 53) make codes, then their breaks (set 1).
        this.emulator.keyboard_send_scancodes([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]);
    }
    counters() {
        return { bytesToGuest: this.inputPos, bytesFromGuest: null };
    }
}
