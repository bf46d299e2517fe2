#!/usr/bin/env bash
# Install what is missing, idempotently: Debian packages (when root; otherwise name them), the
# virtualenv and the pinned Python packages. Usage: scripts/bootstrap.sh run|test
set -euo pipefail
cd "$(dirname "$0")/.."

purpose="${1:-run}"
packages=(clamav clamav-daemon libmagic1)
if [ "$purpose" = "test" ]; then
  packages+=(chromium chromium-driver postgresql)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: please install these Debian packages first: ${missing[*]}" >&2
    echo "           sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$python" -m venv .venv
fi
# Reinstall only when the pinned requirements change.
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
