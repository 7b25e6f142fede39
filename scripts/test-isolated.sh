#!/usr/bin/env bash
# Like scripts/test.sh, but runs the tests against a private copy of the berth binary, so
# that another build sharing the target directory cannot replace it mid-run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin berth
target="${CARGO_TARGET_DIR:-target}"
copy="$(mktemp -d)/berth"
cp "$target/debug/berth" "$copy"
BERTH_TEST_BIN="$copy" ./scripts/test.sh "$@"
