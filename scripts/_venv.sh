# Sourced by scripts/run and scripts/test: make ./.venv with the project installed (extras in $1, may be "").
set -euo pipefail
EXTRAS="${1:-}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 以上が必要です (PYTHON=$PYTHON)。" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian splits venv/ensurepip into python3-venv; install it when we may.
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && apt-get install -y -qq python3-venv
      "$PYTHON" -m venv "$VENV"
    else
      echo "python3-venv が必要です: sudo apt-get install -y python3-venv" >&2
      exit 1
    fi
  fi
  "$VENV/bin/pip" install --quiet --upgrade pip
fi

stamp="$VENV/.installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/pip" install --quiet -e ".${EXTRAS:+[$EXTRAS]}"
  touch "$stamp"
fi
