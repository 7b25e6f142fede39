#!/usr/bin/env bash
# Runs the whole test suite. Installs the independent validators the tests use (the PyPI
# packages kubernetes-validate, for the official Kubernetes schemas, and check-jsonschema, for
# the GitHub Actions and GitLab CI schemas) into target/validate-venv on first use, checks
# that the API documentation builds without warnings, then runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${BERTH_VALIDATE_VENV:-$PWD/target/validate-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/check-jsonschema" ]; then
    echo "installing kubernetes-validate and check-jsonschema into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate check-jsonschema
fi
export BERTH_VALIDATE_VENV="$venv"

# The API documentation builds without a broken link.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
cargo test --workspace --all-targets "$@"
