#!/usr/bin/env bash
# Regenerate constraints/<venv>-py<X.Y>.txt: the exact versions each test venv installs (as Airflow does).
#
# For each venv of scripts/venvs.sh, a fresh venv in a temp folder gets PIP_VERSION, then this package
# with the venv's extras and requirements, resolved by pip under the known-bad pins below;
# `pip freeze --all` minus this package is written out. Airflow's published constraint files cannot
# be fetched here (only PyPI is reachable) and do not hold our test tools, so we resolve our own.
# Run it after changing dependencies (uses $PYTHON, default python3) and commit the result:
#   bash scripts/update_constraints.sh            # every venv
#   bash scripts/update_constraints.sh airflow2   # one venv
#   bash scripts/update_constraints.sh --keep     # keep today's pins, only resolve what is new
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PIP_VERSION=26.3
# shellcheck source=scripts/venvs.sh
source scripts/venvs.sh

# Known-bad releases, "pin|why"; every venv resolves under them (a pin on a package a venv lacks is harmless).
KNOWN_BAD=(
    "cryptography<51|Airflow 2.11's get_fernet() sets is_encrypted on a MultiFernet, which cryptography 51 refuses: every connection from the environment fails"
)

generate() {  # generate NAME: resolve venv NAME in a fresh venv and write its constraints file
    local name=$1 out tmp line
    out=$(constraints_file "$name" "$PYTHON")
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    printf '%s\n' "${KNOWN_BAD[@]%%|*}" > "$tmp/known-bad.txt"
    if [ "$KEEP" = 1 ] && [ -f "$out" ]; then  # today's pins hold; only packages new to the venv are resolved
        grep -E '^[A-Za-z0-9]' "$out" >> "$tmp/known-bad.txt"
    fi
    echo "resolving $name in $tmp" >&2
    "$PYTHON" -m venv "$tmp/venv"
    pip_quiet "$tmp/venv/bin/python" "pip==$PIP_VERSION"
    # shellcheck disable=SC2086  # the requirements are a word list
    pip_quiet "$tmp/venv/bin/python" -c "$tmp/known-bad.txt" ".[${VENV_EXTRAS[$name]}]" ${VENV_REQUIREMENTS[$name]}
    {
        echo "# Pins of the test venv ${VENV_DIR[$name]} ('$name') on Python $(python_version "$PYTHON"): made by scripts/update_constraints.sh, do not edit."
        echo "# It installs: .[${VENV_EXTRAS[$name]}] ${VENV_REQUIREMENTS[$name]}"
        echo "# Known-bad releases excluded:"
        for line in "${KNOWN_BAD[@]}"; do echo "#   ${line%%|*}: ${line#*|}"; done
        "$tmp/venv/bin/python" -m pip freeze --all --exclude airflow-provider-databand-dbt
    } > "$out.new"
    mv "$out.new" "$out"
    echo "wrote $out ($(grep -vc '^#' "$out") pins)" >&2
}

KEEP=0
if [ "${1:-}" = "--keep" ]; then KEEP=1; shift; fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(core airflow2 airflow3)
for name in "${names[@]}"; do
    [ -n "${VENV_DIR[$name]+x}" ] || { echo "unknown venv '$name' (one of: ${!VENV_DIR[*]})" >&2; exit 2; }
done
mkdir -p constraints
for name in "${names[@]}"; do generate "$name"; done
