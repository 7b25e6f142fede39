#!/usr/bin/env bash
# Runs the whole test suite. Installs the independent Kubernetes schema validator
# (the PyPI package kubernetes-validate) into target/validate-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${BERTH_VALIDATE_VENV:-$PWD/target/validate-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    echo "installing kubernetes-validate into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate
fi
export BERTH_VALIDATE_VENV="$venv"

cargo test --all-targets "$@"
