#!/bin/sh
# Validates rendered Kubernetes objects against the official schemas of Kubernetes 1.35,
# rejecting unknown fields.
#
#   scripts/validate-rendered.sh FILE.yaml
#
# Needs `kubernetes-validate` (PyPI) on PATH, or in the virtualenv given by
# $BERTH_VALIDATE_VENV:  python3 -m venv V && V/bin/pip install kubernetes-validate
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 FILE.yaml" >&2
  exit 2
fi
file=$1
if [ ! -f "$file" ]; then
  echo "$0: no such file: $file" >&2
  exit 2
fi

if [ -n "${BERTH_VALIDATE_VENV:-}" ]; then
  tool="$BERTH_VALIDATE_VENV/bin/kubernetes-validate"
else
  tool=$(command -v kubernetes-validate || true)
fi
if [ -z "$tool" ] || [ ! -x "$tool" ]; then
  echo "$0: kubernetes-validate not found; install it with" >&2
  echo "  python3 -m venv V && V/bin/pip install kubernetes-validate" >&2
  echo "and put it on PATH or set BERTH_VALIDATE_VENV=V" >&2
  exit 2
fi

exec "$tool" --strict -k 1.35.0 "$file"
