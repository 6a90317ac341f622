// The Linux guest test suite, defined once and run for each device backend
// (superio's Rust devices, and v86's own as a check on the harness itself).
// Each `describe` boots one guest in `before` and asserts on that run.

import { describe, before, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { runGuest, skipReason, announceSkip, txPattern, inputPattern, describe as why } from "./guest.mjs";

const MiB = 1024 * 1024;
/** Transfer sizes; the issue asks for 1 MiB each way. */
const TX_BYTES = Number(process.env.LINUX_TEST_TX_BYTES ?? MiB);
const RX_BYTES = Number(process.env.LINUX_TEST_RX_BYTES ?? MiB);

// Lines the drivers print; the expected text is Linux's, typed here.
const UART_16550A = "ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A";
const I8042_KBD = "serio: i8042 KBD port at 0x60,0x64 irq 1";
const ATKBD = "input: AT Translated Set 2 keyboard";
const I8042_TROUBLE = /i8042.*(fail|timeout|timed out|can't|error|not found)/i;

export function defineSuite(device) {
    const reason = skipReason(device);
    if (reason && process.env.SUPERIO_REQUIRE_GUEST) {
        // CI sets this: its machines can build the guest, so a missing piece is a failure.
        test(`linux guest suite (--device ${device})`, () => {
            assert.fail(`the Linux guest is required (SUPERIO_REQUIRE_GUEST is set) but ${reason}`);
        });
        return;
    }
    if (reason) {
        announceSkip(device, reason);
        test(`linux guest suite (--device ${device})`, { skip: `SKIPPED: ${reason}` }, () => {});
        return;
    }

    describe(`boot, no i8042 flags (--device ${device})`, () => {
        let run;
        before(async () => {
            run = await runGuest({ device, cmdlineExtra: "superio.job=idle" });
        });

        test("test_boot_uart_detected_as_16550a", () => {
            assert.ok(run.text.includes(UART_16550A), why(run));
        });

        test("test_boot_idle_uart_not_polled_so_no_thre_bug_fallback", () => {
            // UART_BUG_THRE makes the 8250 driver poll the port from a backup
            // timer while it is open; an idle open port then sees IIR/LSR
            // reads. Phase 16..17 is 2 s of the guest sleeping with ttyS0 open.
            const phases = run.stats?.phases ?? [];
            const a = phases.find((p) => p.phase === 16);
            const b = phases.find((p) => p.phase === 17);
            assert.ok(a && b, `phase markers missing: ${why(run)}`);
            for (let port = 0x3f8; port <= 0x3ff; port++) {
                const r = b.at.ports[port].r - a.at.ports[port].r;
                const w = b.at.ports[port].w - a.at.ports[port].w;
                assert.equal(r + w, 0, `port 0x${port.toString(16)} touched ${r} reads/${w} writes while idle`);
            }
        });

        test("test_boot_i8042_kbd_port_found", () => {
            assert.ok(run.text.includes(I8042_KBD), why(run));
        });

        test("test_boot_at_translated_set2_keyboard_found", () => {
            assert.ok(run.text.includes(ATKBD), why(run));
        });

        test("test_boot_no_i8042_errors", () => {
            const bad = run.text.split("\n").filter((l) => I8042_TROUBLE.test(l));
            assert.deepEqual(bad, []);
        });

        test("test_boot_job_reboot_f_resets_through_i8042", () => {
            assert.equal(run.code, 0, why(run));
            assert.ok(run.text.includes("SUPERIO-JOB-DONE"), why(run));
        });
    });

    for (const flag of ["i8042.nopnp", "i8042.noaux", "i8042.reset", "i8042.dumbkbd"]) {
        describe(`boot with ${flag} (--device ${device})`, () => {
            let run;
            before(async () => {
                run = await runGuest({ device, cmdlineExtra: `${flag} superio.job=idle` });
            });
            test(`test_boot_${flag.replace(".", "_")}_kbd_port_and_keyboard_found`, () => {
                assert.ok(run.text.includes(I8042_KBD), why(run));
                assert.ok(run.text.includes(ATKBD), why(run));
            });
            test(`test_boot_${flag.replace(".", "_")}_no_i8042_errors_and_resets`, () => {
                const bad = run.text.split("\n").filter((l) => I8042_TROUBLE.test(l));
                assert.deepEqual(bad, []);
                assert.equal(run.code, 0, why(run));
            });
        });
    }

    describe(`guest output, ${TX_BYTES} bytes (--device ${device})`, () => {
        let run;
        before(async () => {
            run = await runGuest({ device, cmdlineExtra: `superio.job=tx:${TX_BYTES}`, timeout: 420 });
        });
        test("test_output_every_byte_arrives_in_order", () => {
            const begin = Buffer.from("SUPERIO-TX-BEGIN\n");
            const end = Buffer.from("\nSUPERIO-TX-END");
            const s = run.stdout.indexOf(begin);
            const e = run.stdout.indexOf(end, s);
            assert.ok(s >= 0 && e >= 0, why(run));
            const got = run.stdout.subarray(s + begin.length, e);
            const want = txPattern(TX_BYTES);
            assert.equal(got.length, want.length, "byte count");
            const firstBad = got.findIndex((v, i) => v !== want[i]);
            assert.equal(firstBad, -1, `first mismatch at byte ${firstBad}`);
        });
        test("test_output_run_ends_with_i8042_reset", () => {
            assert.equal(run.code, 0, why(run));
        });
    });

    for (const push of ["all", "refill", "paced"]) {
        describe(`guest input, ${RX_BYTES} bytes, --push ${push} (--device ${device})`, () => {
            let run;
            const data = inputPattern(RX_BYTES);
            before(async () => {
                run = await runGuest({
                    device,
                    cmdlineExtra: `superio.job=rx:${RX_BYTES}`,
                    input: data,
                    waitFor: "SUPERIO-READY",
                    push,
                    timeout: 420,
                });
            });
            test(`test_input_push_${push}_guest_md5_matches`, () => {
                const want = crypto.createHash("md5").update(data).digest("hex");
                const m = run.text.match(/SUPERIO-MD5 ([0-9a-f]{32})/);
                assert.ok(m, why(run));
                assert.equal(m[1], want);
            });
            test(`test_input_push_${push}_run_ends_with_i8042_reset`, () => {
                assert.equal(run.code, 0, why(run));
            });
        });
    }

    describe(`interactive shell (--device ${device})`, () => {
        let run;
        before(async () => {
            run = await runGuest({ device, input: Buffer.from("echo SUM=$((6*7))\nreboot -f\n") });
        });
        test("test_shell_typed_command_output_comes_back", () => {
            assert.match(run.text, /\r?\nSUM=42\r?\n/, why(run));
        });
        test("test_shell_reboot_f_resets_through_i8042", () => {
            assert.equal(run.code, 0, why(run));
        });
    });

    describe(`Ctrl+Alt+Del (--device ${device})`, () => {
        let run;
        before(async () => {
            run = await runGuest({ device, ctrlAltDelAfter: 1 });
        });
        test("test_ctrl_alt_del_reaches_init", () => {
            assert.ok(run.text.includes("SUPERIO-CTRLALTDEL"), why(run));
        });
        test("test_ctrl_alt_del_reboots_through_i8042", () => {
            assert.equal(run.code, 0, why(run));
        });
    });
}
