#!/usr/bin/env node
// Command-line front end of the Linux guest harness; see scripts/README-linux-guest.md.
// The guest's serial output goes to stdout; the verdict and --stats go to stderr.
// Exit status: 0 when the guest reset through the i8042, 2 on timeout,
// 3 on any other failure (crash, unexpected reset, bad arguments = 64).

import fs from "node:fs";
import { parseArgs } from "node:util";
import { runGuest, loadAddon } from "./lib/machine.mjs";

const usage = `usage: guest-run [options]
  --device superio|vm-superio|v86
                           who serves COM1 and the i8042 (default superio;
                           vm-superio: vm-superio 0.8.2's Serial on COM1, our i8042)
  --cmdline-extra STR      appended to the kernel command line
  --input FILE             bytes typed into ttyS0 once the guest is ready
  --wait-for STR           output that means "ready" (default "guest# ")
  --push all|refill|paced  host input policy (default all)
  --ctrl-alt-del-after S   inject Ctrl+Alt+Del S seconds after ready
  --timeout S              give up after S seconds (default 60)
  --memory MIB             guest RAM (default 128)
  --stats                  print counters (and per-phase differences) to stderr
  --stats-json FILE        write the counters as JSON
  --trace FILE             write every COM1/i8042 access, IRQ line change,
                           host service tick and guest idle period to FILE
  --quiet                  do not copy the guest's output to stdout
  --output FILE            also write the guest's output to FILE`;

let args;
try {
    args = parseArgs({
        options: {
            device: { type: "string", default: "superio" },
            "cmdline-extra": { type: "string", default: "" },
            input: { type: "string" },
            "wait-for": { type: "string", default: "guest# " },
            push: { type: "string", default: "all" },
            "ctrl-alt-del-after": { type: "string" },
            timeout: { type: "string", default: "60" },
            memory: { type: "string", default: "128" },
            stats: { type: "boolean", default: false },
            "stats-json": { type: "string" },
            trace: { type: "string" },
            quiet: { type: "boolean", default: false },
            output: { type: "string" },
            help: { type: "boolean", default: false },
        },
    }).values;
} catch (e) {
    console.error(`guest-run: ${e.message}\n${usage}`);
    process.exit(64);
}
if (args.help) {
    console.log(usage);
    process.exit(0);
}
if (!["superio", "vm-superio", "v86"].includes(args.device) || !["all", "refill", "paced"].includes(args.push)) {
    console.error(`guest-run: bad --device or --push\n${usage}`);
    process.exit(64);
}

let addon = null;
if (args.device !== "v86") {
    const loaded = loadAddon();
    if (!loaded.addon) {
        console.error(`guest-run: ${loaded.reason} (build it with scripts/linux-tests or see the README)`);
        process.exit(3);
    }
    addon = loaded.addon;
}

const outFile = args.output ? fs.openSync(args.output, "w") : null;
const result = await runGuest({
    device: args.device,
    addon,
    cmdlineExtra: args["cmdline-extra"],
    input: args.input ? fs.readFileSync(args.input) : null,
    waitFor: args["wait-for"],
    push: args.push,
    ctrlAltDelAfter: args["ctrl-alt-del-after"] != null ? Number(args["ctrl-alt-del-after"]) : null,
    timeout: Number(args.timeout),
    memoryMiB: Number(args.memory),
    trace: args.trace != null,
    onOutput: (buf) => {
        if (!args.quiet) process.stdout.write(buf);
        if (outFile !== null) fs.writeSync(outFile, buf);
    },
});
if (outFile !== null) fs.closeSync(outFile);

const guestIrqs = extractIrqs(result.output);
if (args.stats) console.error(result.stats.format(guestIrqs));
if (args.trace) fs.writeFileSync(args.trace, result.stats.formatTrace());
if (args["stats-json"]) {
    const s = result.stats;
    fs.writeFileSync(args["stats-json"], JSON.stringify({
        outcome: result.outcome,
        wallMs: s.wallMs,
        readyMs: s.readyMs,
        guestInstructions: s.guestInstructions,
        final: s.final,
        device: s.device,
        phases: s.phases,
        guestIrqs,
    }, null, 1));
}
console.error(`guest-run: ${result.outcome}: ${result.reason} (${result.stats.wallMs.toFixed(0)} ms)`);
process.exit(result.outcome === "reset" ? 0 : result.outcome === "timeout" ? 2 : 3);

function extractIrqs(output) {
    const text = output.toString("latin1");
    const m = text.match(/SUPERIO-IRQ-BEGIN\r?\n([\s\S]*?)SUPERIO-IRQ-END/);
    return m ? m[1].split(/\r?\n/).filter((l) => l.trim()) : null;
}
