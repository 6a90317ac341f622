// Shared helpers of the Linux guest tests: run scripts/guest-run as a child
// process (the same CLI a person uses) and hand back what it produced.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "../..");
const guestRun = path.join(repo, "scripts/v86/guest-run.mjs");
const imageDir = process.env.GUEST_IMAGE_DIR ?? path.join(repo, "target/guest-image");
const addon = process.env.SUPERIO_V86_ADDON ?? path.join(repo, "target/v86-bridge/superio_v86_bridge.node");

/** Why the suite for `device` cannot run here, or null when it can. */
export function skipReason(device) {
    for (const f of ["bzImage", "bios.bin", "initrd.cpio.gz"]) {
        if (!fs.existsSync(path.join(imageDir, f))) return `guest image missing (${f}); run scripts/guest-image`;
    }
    if (!fs.existsSync(path.join(repo, "scripts/v86/node_modules/v86/package.json"))) {
        return "node deps missing; run npm ci in scripts/v86";
    }
    if (device === "superio" && !fs.existsSync(addon)) return `napi addon missing (${addon}); run scripts/linux-tests`;
    return null;
}

/** Prints the loud skip line the CI log must show, once per file. */
export function announceSkip(device, reason) {
    console.log(`SKIPPED: Linux guest tests (--device ${device}): ${reason}`);
}

/**
 * Runs one guest. Returns { code, stdout: Buffer, text (latin1), stderr, stats }.
 * `input` is a Buffer typed into ttyS0 once `waitFor` appears.
 */
export async function runGuest({ device, cmdlineExtra = "", input = null, waitFor, push, ctrlAltDelAfter, timeout = 180 }) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "superio-guest-"));
    const args = [guestRun, "--device", device, "--timeout", String(timeout), "--stats-json", path.join(tmp, "stats.json")];
    if (cmdlineExtra) args.push("--cmdline-extra", cmdlineExtra);
    if (input) {
        fs.writeFileSync(path.join(tmp, "input"), input);
        args.push("--input", path.join(tmp, "input"));
    }
    if (waitFor) args.push("--wait-for", waitFor);
    if (push) args.push("--push", push);
    if (ctrlAltDelAfter != null) args.push("--ctrl-alt-del-after", String(ctrlAltDelAfter));
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    const code = await new Promise((resolve) => child.on("close", resolve));
    let stats = null;
    try {
        stats = JSON.parse(fs.readFileSync(path.join(tmp, "stats.json"), "utf8"));
    } catch {
        stats = null;
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    const stdout = Buffer.concat(out);
    return { code, stdout, text: stdout.toString("latin1"), stderr: Buffer.concat(err).toString(), stats };
}

/** The 64-byte line pattern the guest's tx job writes (see guest-init.sh). */
export function txPattern(n) {
    const s = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012";
    const lines = [];
    for (let i = 0; i * 64 < n; i++) lines.push(`${String(i).padStart(7, "0")}:${s}\n`);
    return Buffer.from(lines.join(""), "latin1").subarray(0, n);
}

/** Deterministic bytes covering all 256 values (xorshift32), for input tests. */
export function inputPattern(n, seed = 0x2545f491) {
    const buf = Buffer.alloc(n);
    let x = seed >>> 0;
    for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        buf[i] = x & 0xff;
    }
    return buf;
}

/** Guest run summary for assertion messages. */
export function describe(run) {
    return `exit ${run.code}; stderr: ${run.stderr.slice(-600)}; output tail: ${JSON.stringify(run.text.slice(-800))}`;
}
