// Counters for `guest-run --stats`: port accesses per register and direction,
// interrupt raise/lower calls and real edges per IRQ, IIR reads that showed
// nothing pending, bytes each way, guest and wall time. A guest write to the
// phase port snapshots them all, so one phase of guest work can be measured.

const PORT_NAMES = new Map([
    [0x3f8, "COM1+0 RBR/THR/DLL"],
    [0x3f9, "COM1+1 IER/DLM"],
    [0x3fa, "COM1+2 IIR/FCR"],
    [0x3fb, "COM1+3 LCR"],
    [0x3fc, "COM1+4 MCR"],
    [0x3fd, "COM1+5 LSR"],
    [0x3fe, "COM1+6 MSR"],
    [0x3ff, "COM1+7 SCR"],
    [0x60, "i8042 data"],
    [0x64, "i8042 status/cmd"],
]);

/**
 * `--trace` event kinds. irq: operand b is 1 for a real rise, 2 for a raise
 * call on a line already high, 0 for a real fall (timer IRQ 0 is left out).
 * service: the 5 ms host tick (b = its line report). idle: v86 went to sleep
 * for a = ms (the guest halted with nothing due sooner). spurious: the IIR
 * read that found a fresh COM1 interrupt empty.
 */
export const TRACE_KINDS = { rd: 1, wr: 2, irq: 3, service: 4, phase: 5, idle: 6, spurious: 7 };
const TRACE_NAMES = Object.fromEntries(Object.entries(TRACE_KINDS).map(([k, v]) => [v, k]));
const TRACE_FIELDS = 6;

class PortCounts {
    constructor() {
        this.reads = new Float64Array(0x10000);
        this.writes = new Float64Array(0x10000);
    }
    read(port) {
        this.reads[port]++;
    }
    write(port) {
        this.writes[port]++;
    }
    snapshot() {
        const out = {};
        for (const port of PORT_NAMES.keys()) {
            out[port] = { r: this.reads[port], w: this.writes[port] };
        }
        return out;
    }
}

export class Stats {
    constructor() {
        this.portCounts = new PortCounts();
        this.irqCalls = new Map(); // irq -> { raise, lower, rises, falls, level }
        this.iirNoInt = 0;
        this.spurious = 0;
        // Spurious-interrupt detector state (see com1Rose/iirRead).
        this.isrFresh = false;
        this.inIsr = false;
        this.latched = false;
        this.bytesOut = 0;
        this.bytesIn = 0;
        this.wallMs = 0;
        this.readyMs = null;
        this.guestInstructions = 0;
        this.phases = [];
        this.cpu = null;
        /** Set by the machine: reads v86's guest instruction counter. */
        this.instructionCounter = null;
        this.startedNs = process.hrtime.bigint();
        /** `--trace`: flat event records, TRACE_FIELDS numbers each, or null. */
        this.trace = null;
    }

    /** Starts recording events for `--trace` (see traceEvent). */
    enableTrace() {
        this.trace = [];
    }

    /**
     * One trace record: wall µs since start, guest instruction counter, the
     * CPU's halted flag, event kind (TRACE_KINDS), two operands. Numbers in
     * a flat array rather than objects: a 1 MiB transfer makes ~1.3 M events.
     */
    traceEvent(kind, a, b) {
        const cpu = this.cpu;
        this.trace.push(
            Number(process.hrtime.bigint() - this.startedNs) / 1e3,
            this.instructionCounter ? this.instructionCounter() : 0,
            cpu ? cpu.in_hlt[0] : 0,
            kind, a, b);
    }

    /** The trace as text, one event per line (written by guest-run --trace). */
    formatTrace() {
        const t = this.trace ?? [];
        const out = [`# us instructions hlt event a b  (${Object.entries(TRACE_KINDS).map(([k, v]) => `${v}=${k}`).join(" ")})`];
        for (let i = 0; i < t.length; i += TRACE_FIELDS) {
            const kind = TRACE_NAMES[t[i + 3]];
            const a = t[i + 4];
            const b = t[i + 5];
            const ops = kind === "rd" || kind === "wr" ? `${a.toString(16)} ${b.toString(16)}` : `${a} ${b}`;
            out.push(`${t[i].toFixed(1)} ${t[i + 1]} ${t[i + 2]} ${kind} ${ops}`);
        }
        return out.join("\n") + "\n";
    }

    /** Counts device_raise_irq/device_lower_irq calls and the real edges among them. */
    hookIrqs(cpu) {
        this.cpu = cpu;
        const raise = cpu.device_raise_irq.bind(cpu);
        const lower = cpu.device_lower_irq.bind(cpu);
        const entry = (irq) => {
            let e = this.irqCalls.get(irq);
            if (!e) {
                e = { raise: 0, lower: 0, rises: 0, falls: 0, level: false };
                this.irqCalls.set(irq, e);
            }
            return e;
        };
        cpu.device_raise_irq = (irq) => {
            const e = entry(irq);
            e.raise++;
            if (this.trace && irq !== 0) this.traceEvent(TRACE_KINDS.irq, irq, e.level ? 2 : 1);
            if (!e.level) {
                e.rises++;
                if (irq === 4) this.com1Rose();
            }
            e.level = true;
            raise(irq);
        };
        cpu.device_lower_irq = (irq) => {
            const e = entry(irq);
            e.lower++;
            if (this.trace && irq !== 0 && e.level) this.traceEvent(TRACE_KINDS.irq, irq, 0);
            if (e.level) e.falls++;
            e.level = false;
            lower(irq);
        };
    }

    /**
     * COM1's line rose. Outside the driver's handler, the next IIR read is
     * the handler's entry for this interrupt. Inside it (after its first IIR
     * read, before the closing read that shows nothing pending), the
     * edge-triggered PIC latches the edge and delivers it again after the
     * handler's EOI: the IIR read after the closing one is that delivery's
     * entry, whatever the running handler did meanwhile.
     */
    com1Rose() {
        if (this.inIsr) this.latched = true;
        else this.isrFresh = true;
    }

    /**
     * Called with every COM1 IIR read, before the line changes the access
     * itself made (input the bridge pushed after the read, say) are replayed.
     * An interrupt's entry read showing nothing pending was spurious.
     */
    iirRead(value) {
        const none = (value & 1) !== 0;
        if (none) this.iirNoInt++;
        if (this.isrFresh) {
            this.isrFresh = false;
            if (none) {
                this.spurious++;
                if (this.trace) this.traceEvent(TRACE_KINDS.spurious, 0x3fa, value);
            } else {
                this.inIsr = true;
            }
        } else if (none && this.inIsr) {
            this.inIsr = false;
            if (this.latched) {
                this.latched = false;
                this.isrFresh = true;
            }
        }
    }

    /** Installs the phase port: a guest byte written there snapshots everything. */
    hookPhasePort(cpu, port, extra) {
        cpu.io.register_write(port, this, (value) => {
            if (this.trace) this.traceEvent(TRACE_KINDS.phase, value, 0);
            this.phases.push({ phase: value, at: this.counterSnapshot(), device: extra() });
        });
        cpu.io.register_read(port, this, () => 0xff);
    }

    counterSnapshot() {
        const irqs = {};
        for (const [irq, e] of this.irqCalls) irqs[irq] = { ...e };
        return {
            ports: this.portCounts.snapshot(),
            irqs,
            iirNoInt: this.iirNoInt,
            spurious: this.spurious,
            bytesOut: this.bytesOut,
            instructions: this.instructionCounter ? this.instructionCounter() : 0,
            wallMs: Number(process.hrtime.bigint() - this.startedNs) / 1e6,
            // This process's CPU time (the emulator, bridge and harness run
            // on one thread): on a shared machine it varies far less with
            // load than wall time does.
            cpuMs: cpuMs(),
        };
    }

    finish(backend) {
        this.final = this.counterSnapshot();
        this.device = backend.counters();
    }

    /** Counter differences between two phase markers (by phase number). */
    between(from, to) {
        const a = this.phases.find((p) => p.phase === from);
        const b = this.phases.find((p) => p.phase === to);
        if (!a || !b) return null;
        return diff(a.at, b.at);
    }

    /** Human-readable report; `guestIrqs` is the guest's /proc/interrupts excerpt. */
    format(guestIrqs) {
        const lines = [];
        const s = this.final ?? this.counterSnapshot();
        lines.push(`wall time: ${this.wallMs.toFixed(0)} ms (shell ready at ${this.readyMs?.toFixed(0) ?? "-"} ms)`);
        lines.push(`guest instructions: ${this.guestInstructions}`);
        lines.push(`bytes guest->host: ${this.bytesOut}, host->guest offered: ${this.bytesIn}`);
        lines.push("port accesses (reads / writes):");
        for (const [port, name] of PORT_NAMES) {
            const c = s.ports[port];
            if (c.r || c.w) lines.push(`  0x${port.toString(16)} ${name.padEnd(20)} ${c.r} / ${c.w}`);
        }
        lines.push("interrupt lines (raise calls, lower calls, real rises, real falls):");
        for (const [irq, e] of [...this.irqCalls].sort((x, y) => x[0] - y[0])) {
            lines.push(`  IRQ ${irq}: ${e.raise}, ${e.lower}, ${e.rises}, ${e.falls}`);
        }
        lines.push(`COM1 IIR reads showing no interrupt pending: ${s.iirNoInt}`);
        lines.push(`COM1 interrupts found spurious (first IIR read after a rise showed none): ${s.spurious}`);
        if (guestIrqs) {
            lines.push("guest /proc/interrupts:");
            for (const l of guestIrqs) lines.push(`  ${l}`);
        }
        if (this.device) lines.push(`device counters: ${JSON.stringify(this.device)}`);
        for (let i = 1; i < this.phases.length; i++) {
            const a = this.phases[i - 1];
            const b = this.phases[i];
            lines.push(`phase ${a.phase} -> ${b.phase}: ${JSON.stringify(diff(a.at, b.at))}`);
        }
        return lines.join("\n");
    }
}

function diff(a, b) {
    const ports = {};
    for (const port of Object.keys(b.ports)) {
        const r = b.ports[port].r - a.ports[port].r;
        const w = b.ports[port].w - a.ports[port].w;
        if (r || w) ports[`0x${Number(port).toString(16)}`] = { r, w };
    }
    const irqs = {};
    for (const irq of Object.keys(b.irqs)) {
        const x = a.irqs[irq] ?? { raise: 0, lower: 0, rises: 0, falls: 0 };
        const y = b.irqs[irq];
        irqs[irq] = { raise: y.raise - x.raise, lower: y.lower - x.lower, rises: y.rises - x.rises, falls: y.falls - x.falls };
    }
    return {
        ports,
        irqs,
        iirNoInt: b.iirNoInt - a.iirNoInt,
        spurious: b.spurious - a.spurious,
        bytesOut: b.bytesOut - a.bytesOut,
        instructions: b.instructions - a.instructions,
        wallMs: +(b.wallMs - a.wallMs).toFixed(1),
        cpuMs: +(b.cpuMs - a.cpuMs).toFixed(1),
    };
}

function cpuMs() {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
}
