# Shared by scripts/fuzz and scripts/ci-fuzz (sourced, not run).
# Runs one cargo-fuzz target and prints a one-line summary from libFuzzer's log.

# fuzz_have_nightly: true if a nightly toolchain can build (cargo-fuzz needs -Z flags).
fuzz_have_nightly() {
    cargo +nightly --version >/dev/null 2>&1
}

# fuzz_ensure_cargo_fuzz: installs cargo-fuzz from crates.io if it is missing.
fuzz_ensure_cargo_fuzz() {
    if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
        echo "cargo-fuzz not found: installing it from crates.io"
        cargo install cargo-fuzz --locked
    fi
}

# fuzz_targets: the target names (fuzz/Cargo.toml [[bin]]s).
fuzz_targets() {
    cargo +nightly fuzz list --fuzz-dir fuzz
}

# The sanitizer: none by default. The device crates forbid unsafe code, so
# AddressSanitizer has nothing of theirs to find that Rust's own checks miss,
# and it costs 3-5x in executions. Overflow checks stay on (cargo-fuzz builds
# with debug assertions). FUZZ_SANITIZER=address brings ASan back.
FUZZ_SANITIZER=${FUZZ_SANITIZER:-none}
fuzz_cargo_flags=(--fuzz-dir fuzz -s "$FUZZ_SANITIZER" --target-dir "fuzz/target/$FUZZ_SANITIZER")

# fuzz_build TARGET: builds TARGET.
fuzz_build() {
    cargo +nightly fuzz build "${fuzz_cargo_flags[@]}" "$1"
}

# fuzz_run TARGET LOG LIBFUZZER-ARGS...: runs TARGET with its seeds and a
# persistent corpus (fuzz/corpus/TARGET, gitignored); returns cargo-fuzz's
# status (non-zero on a crash, a leak, a timeout or an out-of-memory).
fuzz_run() {
    local target=$1 log=$2
    shift 2
    mkdir -p "fuzz/corpus/$target"
    # -rss_limit_mb: a device that grows memory without bound fails the run.
    # -timeout: a step that stalls (an endless loop) fails the run.
    cargo +nightly fuzz run "${fuzz_cargo_flags[@]}" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_len=1024 -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 "$@" >"$log" 2>&1
}

# fuzz_summary TARGET LOG SECONDS: "<target>: N executions in S s, cov C, ft F, corpus K".
fuzz_summary() {
    local target=$1 log=$2 secs=$3 runs cov
    runs=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -a -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -1)
    printf '%s: %s executions in %s s, %s\n' "$target" "${runs:-?}" "$secs" "${cov:-no coverage line}"
}
