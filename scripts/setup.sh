#!/usr/bin/env bash
# Make a venv with fs_pandas installed (editable) and the extras named in EXTRAS (default: dev).
#
#   bash scripts/setup.sh [EXTRAS]            .venv: the newest versions the index offers
#   bash scripts/setup.sh --oldest [EXTRAS]   .venv-oldest: Python 3.11 and the oldest versions
#                                             pyproject.toml declares (scripts/oldest-constraints.txt)
#
# In .venv-oldest only the runtime dependencies are held at their lower bounds; the dev tools
# (pytest, hypothesis, mypy...) are the newest that fit beside them.
# Needs only Python 3.11+ (3.11 itself for --oldest) and access to the package index.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
constraints=()
pythons=(python3.13 python3.12 python3.11 python3 python)
if [ "${1:-}" = "--oldest" ]; then
    shift
    venv=.venv-oldest
    constraints=(--constraint scripts/oldest-constraints.txt)
    pythons=(python3.11 python3 python)
fi
extras="${1:-dev}"

find_python() {
    local oldest_only=$1 candidate
    for candidate in "${PYTHON:-}" "${pythons[@]}"; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if [ "$oldest_only" = yes ]; then
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null ||
                continue
        else
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
                continue
        fi
        echo "$candidate"
        return 0
    done
    if [ "$oldest_only" = yes ]; then
        echo "setup.sh --oldest needs Python 3.11 (the oldest version fs_pandas supports) on PATH" >&2
    else
        echo "fs_pandas needs Python 3.11 or newer on PATH" >&2
    fi
    return 1
}

py=$(find_python "$([ "$venv" = .venv-oldest ] && echo yes || echo no)")
if [ "$venv" = .venv-oldest ] && [ -x "$venv/bin/python" ] &&
    ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    rm -rf "$venv" # made by another Python: start again
fi
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
# uv resolves and installs an order of magnitude faster than pip; it comes from the index too.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade uv
# With constraints, uv also moves packages already in the venv back to the pinned versions.
VIRTUAL_ENV="$PWD/$venv" "$venv/bin/python" -m uv pip install --quiet \
    ${constraints[@]+"${constraints[@]}"} -e ".[${extras}]"
