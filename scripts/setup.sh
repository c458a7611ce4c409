#!/usr/bin/env bash
# Make .venv with fs_pandas installed (editable) and the extras named in $1 (default: dev).
# Needs only Python 3.11+ and access to the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"

find_python() {
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "fs_pandas needs Python 3.11 or newer on PATH" >&2
    return 1
}

py=$(find_python)
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
# uv resolves and installs an order of magnitude faster than pip; it comes from the index too.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade uv
VIRTUAL_ENV="$PWD/.venv" .venv/bin/python -m uv pip install --quiet -e ".[${extras}]"
