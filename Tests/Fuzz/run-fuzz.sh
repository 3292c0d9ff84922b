#!/usr/bin/env bash
# Builds and runs one libFuzzer target against SwiftQuant's parsers.
#
#   bash Tests/Fuzz/run-fuzz.sh TARGET [SECONDS] [extra libFuzzer flags…]
#   bash Tests/Fuzz/run-fuzz.sh TARGET --smoke RUNS     (fixed number of runs, for CI)
#   bash Tests/Fuzz/run-fuzz.sh TARGET --build-only
#
# TARGET is safetensors, gguf, checkpoint or config (Tests/Fuzz/Targets/TARGET.swift).
# The module sources are compiled with swiftc directly (-sanitize=fuzzer,address), not with
# SwiftPM: SwiftPM cannot build a libFuzzer binary. Everything goes to a scratch folder
# ($SWIFTQUANT_FUZZ_DIR, default /tmp/swiftquant-fuzz): binaries, the seed corpus (generated
# from real files: Samples/, gguf-py, our writer), the growing corpus and crash files.
# A crash leaves crash-*/leak-*/timeout-* files in $DIR/artifacts/TARGET/; each one belongs
# in the malformed-input corpus (Tests/SwiftQuantCLITests/MalformedInputCorpus.swift).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${1:?usage: run-fuzz.sh safetensors|gguf|checkpoint|config [SECONDS|--smoke RUNS|--build-only]}"
shift
case "$target" in safetensors|gguf|checkpoint|config) ;; *) echo "unknown target '$target'" >&2; exit 1;; esac
dir="${SWIFTQUANT_FUZZ_DIR:-/tmp/swiftquant-fuzz}"
mkdir -p "$dir/obj" "$dir/bin" "$dir/corpus/$target" "$dir/seeds/$target" "$dir/artifacts/$target"
sources="$root/Sources"
yams="$root/.build/checkouts/Yams/Sources"
# One -package-name for every module: cross-module internals use the `package` access level.
flags=(-O -g -parse-as-library -sanitize=fuzzer,address -use-ld=lld -package-name swiftquant
       -I "$sources/CZstd" -I "$sources/CXXHash" -I "$dir/obj")

# Compiles one Swift module to $dir/obj/MODULE.{o,swiftmodule}, unless it is up to date.
build_module() {
    local module="$1"; shift
    local mode=(-swift-version 6)
    # Yams is written for Swift 5 mode (as its own package builds it).
    [ "$module" = Yams ] && mode=(-swift-version 5 -D SWIFT_PACKAGE)
    local object="$dir/obj/$module.o"
    if [ -f "$object" ] && [ -z "$(find "$@" -newer "$object" 2>/dev/null | head -1)" ]; then return; fi
    echo "fuzz: compiling $module" >&2
    swiftc "${flags[@]}" "${mode[@]}" -wmo -module-name "$module" -emit-module -emit-module-path "$dir/obj/$module.swiftmodule" \
        -c -o "$object" "$@"
}

# The modules to build are derived, not listed: the library modules the target's files import,
# plus everything they depend on, in dependency order, from Package.swift itself (via
# `swift package dump-package`), so a change to the module graph cannot leave this script behind.
# System library targets (CZstd, CXXHash) are found through -I; the Yams product is built below.
target_files=("$root/Tests/Fuzz/Support/FuzzInput.swift" "$root/Tests/Fuzz/Targets/$target.swift")
modules=$(cd "$root" && swift package dump-package | python3 -c '
import json, re, sys
package = json.load(sys.stdin)
targets = {t["name"]: t for t in package["targets"]}
def dependencies(name):
    for entry in targets[name]["dependencies"]:
        kind, value = next(iter(entry.items()))
        yield ("product" if kind == "product" else "target"), value[0]
wanted = set()
for path in sys.argv[1:]:
    wanted |= set(re.findall(r"^import (\w+)", open(path).read(), re.M)) & set(targets)
order = []
def visit(name):
    if name in order: return
    for kind, dependency in dependencies(name):
        if kind == "product": order.append(dependency) if dependency not in order else None
        elif dependency in targets: visit(dependency)
    order.append(name)
for name in sorted(wanted): visit(name)
print(" ".join(m for m in order if m not in targets or targets[m]["type"] == "regular"))
' "${target_files[@]}")
echo "fuzz: modules for $target: $modules" >&2

objects=()
for module in $modules; do
    if [ "$module" = Yams ]; then
        [ -d "$yams/Yams" ] || { echo "fuzz: Yams sources missing; run 'swift package resolve' first" >&2; exit 1; }
        if [ ! -f "$dir/obj/CYaml.a" ]; then
            echo "fuzz: compiling CYaml" >&2
            for c in "$yams"/CYaml/src/*.c; do
                clang -O1 -g -fsanitize=fuzzer-no-link,address -I "$yams/CYaml/include" -c "$c" -o "$dir/obj/cyaml-$(basename "$c" .c).o"
            done
            ar rcs "$dir/obj/CYaml.a" "$dir"/obj/cyaml-*.o
        fi
        flags+=(-I "$yams/CYaml/include")
        build_module Yams "$yams"/Yams/*.swift
        objects+=("$dir/obj/Yams.o" "$dir/obj/CYaml.a")
    else
        build_module "$module" $(find "$sources/$module" -name '*.swift' | sort)
        objects+=("$dir/obj/$module.o")
    fi
done
binary="$dir/bin/fuzz-$target"
echo "fuzz: linking $binary" >&2
swiftc "${flags[@]}" -swift-version 6 -module-name "Fuzz_$target" "${target_files[@]}" \
    "${objects[@]}" -lzstd -lxxhash -o "$binary"

# Seeds: small real files of each format (regenerated each run; cheap).
seeds="$dir/seeds/$target"
case "$target" in
    safetensors|gguf) python3 "$root/Tests/Fuzz/make_seeds.py" "$target" "$seeds" ;;
    config) cp "$root"/Samples/*.yaml "$seeds"/ 2>/dev/null || true
            python3 "$root/Tests/Fuzz/make_seeds.py" config "$seeds" ;;
    checkpoint) bash "$root/Tests/Fuzz/make_checkpoint_seeds.sh" "$seeds" ;;
esac

[ "${1:-}" = --build-only ] && exit 0
# Swift's own crash backtracer fights ASan over the crashed process; libFuzzer reports instead.
export SWIFT_BACKTRACE=enable=no
max_len=65536
[ "$target" = config ] && max_len=4096
common=(-max_len=$max_len -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10
        -artifact_prefix="$dir/artifacts/$target/" -print_final_stats=1)
if [ "${1:-}" = --smoke ]; then
    runs="${2:-2000}"; shift 2
    # Smoke: the seeds plus a fixed number of mutations, no corpus kept between runs.
    smoke="$(mktemp -d "$dir/smoke-XXXXXX")"
    trap 'rm -rf "$smoke"' EXIT
    "$binary" "${common[@]}" -seed=1 -runs="$runs" "$@" "$smoke" "$seeds"
else
    seconds="${1:-600}"; [ $# -gt 0 ] && shift
    "$binary" "${common[@]}" -max_total_time="$seconds" "$@" "$dir/corpus/$target" "$seeds"
fi
