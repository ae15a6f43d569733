# Sourced by scripts/serve and scripts/test: make .venv (inside the checkout) and install the
# project into it, reinstalling only when pyproject.toml, setup.py or the requested extra changed, so that
# the second run of a command starts at once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: $python is missing or older than Python 3.11; set PYTHON=/path/to/python3.11+" >&2
  exit 2
fi
# ./scripts/serve in one terminal and ./scripts/test in another is the usual first run: whichever comes
# second waits here for the other's install instead of running pip over it in the same venv.
mkdir -p .venv
exec 9>.venv/.install-lock
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  echo "waiting for another ./scripts command to finish installing into .venv ..." >&2
  flock 9
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
extra="${1:-}"
target="."
[ -n "$extra" ] && target=".[${extra}]"
stamp=".venv/.installed-$(cat pyproject.toml setup.py | sha256sum | cut -c1-16)-${extra:-base}"
if [ ! -f "$stamp" ]; then
  # pip's own chatter (index warnings from the machine's pip config, setuptools build notices) goes
  # to a log; a newcomer sees one line, and the log only when the install fails.
  log=".venv/install.log"
  echo "installing mockserver${extra:+ [$extra]} into .venv (first run only; log: $log)" >&2
  if ! { .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip \
         && .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "error: installing into .venv failed; the whole log is in $log" >&2
    exit 1
  fi
  touch "$stamp"
fi
exec 9>&-  # installed: the server or the suite that follows holds no lock
