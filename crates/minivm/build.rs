//! Assembles the built-in guest (`guest/guest.S`, GNU as syntax, 16-bit real
//! mode) into a flat binary with the machine's binutils: `as`, `ld`, `objcopy`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// Where the VMM loads the guest; must match `minivm::guest::LOAD_ADDR`.
const LOAD_ADDR: &str = "0x1000";

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (binutils: as, ld, objcopy are needed to build minivm's guest)"));
    assert!(status.success(), "{cmd:?} failed with {status}");
}

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let src = PathBuf::from("guest/guest.S");
    println!("cargo:rerun-if-changed={}", src.display());
    let obj = out.join("guest.o");
    let elf = out.join("guest.elf");
    let bin = out.join("guest.bin");
    run(Command::new("as").arg("--32").arg("-o").arg(&obj).arg(&src));
    run(Command::new("ld")
        .args(["-m", "elf_i386", "-N", "-e", "_start"])
        .arg(format!("-Ttext={LOAD_ADDR}"))
        .arg("-o")
        .arg(&elf)
        .arg(&obj));
    run(Command::new("objcopy")
        .args(["-O", "binary"])
        .arg(&elf)
        .arg(&bin));
}
