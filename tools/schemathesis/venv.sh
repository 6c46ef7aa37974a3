#!/usr/bin/env bash
# schemathesis, the API fuzzer the contract test runs against every service's OpenAPI
# document, in a venv of its own: the exact packages of requirements.txt beside this file,
# from PyPI, installed once into $GORTEN_CACHE/schemathesis/<key> (default
# ~/.cache/gorten/schemathesis/<key>; the key changes with that list and the Python
# version). A cached venv that does not run is installed again: a speed-up, never a need.
#
#   venv.sh version   the pinned schemathesis version
#   venv.sh install   install it when not cached; print the path of its `schemathesis`
#
# Needs python3 >= 3.11 with venv and ensurepip (Debian: python3-venv) and PyPI.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REQUIREMENTS=$HERE/requirements.txt
CACHE=${GORTEN_CACHE:-$HOME/.cache/gorten}
PYTHON=${GORTEN_PYTHON:-python3}
MIN_PYTHON=3.11 # schemathesis 4.x's Requires-Python

die() {
  echo "schemathesis venv: $*" >&2
  exit 1
}
say() { echo "schemathesis venv: $*" >&2; }

version() {
  local found
  found=$(sed -n 's/^schemathesis==\([0-9][0-9.]*\)$/\1/p' "$REQUIREMENTS")
  [ -n "$found" ] || die "$REQUIREMENTS pins no schemathesis==<version>"
  echo "$found"
}

python_version() {
  command -v "$PYTHON" >/dev/null ||
    die "$PYTHON is missing: install Python >= $MIN_PYTHON with venv (Debian: apt-get install python3-venv)"
  local have
  have=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  printf '%s\n%s\n' "$MIN_PYTHON" "$have" | sort -V -C ||
    die "$PYTHON is Python $have; schemathesis $(version) needs >= $MIN_PYTHON (set GORTEN_PYTHON to another interpreter)"
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
    die "$PYTHON $have lacks the venv or ensurepip module (Debian: apt-get install python3-venv)"
  echo "$have"
}

# pip's index, without any credentials a URL may carry.
index() {
  "$PYTHON" -m pip config get global.index-url 2>/dev/null | sed 's|//[^/@]*@|//|' || echo 'pip default index'
}

# True when the venv in $1 is complete and runs the pinned version.
runs() {
  [ -f "$1/.complete" ] && [ -x "$1/bin/schemathesis" ] &&
    [ "$("$1/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $(version)" ]
}

install() {
  local pinned py key dest
  pinned=$(version)
  py=$(python_version)
  key=$pinned-$(sha256sum "$REQUIREMENTS" | cut -c1-12)-py$py
  dest=$CACHE/schemathesis/$key
  if runs "$dest"; then
    echo "$dest/bin/schemathesis"
    return
  fi

  # A venv cannot be moved once made (its scripts name their own path), so it is built in
  # place under a lock; `.complete` is written last, so a half-built one is rebuilt.
  mkdir -p "$CACHE/schemathesis"
  exec 9>"$CACHE/schemathesis/.lock"
  flock 9
  if runs "$dest"; then
    echo "$dest/bin/schemathesis"
    return
  fi
  [ -e "$dest" ] && say "the cached venv in $dest is incomplete or broken: installing it again"
  rm -rf "$dest"
  # shellcheck disable=SC2064 # expand now: $dest is local
  trap "rm -rf '$dest'" EXIT
  trap 'exit 143' TERM INT # .ci/run's deadline: still clean up

  say "installing schemathesis $pinned (PyPI, Python $py) into $dest"
  "$PYTHON" -m venv "$dest" || die "$PYTHON -m venv $dest failed (Debian: apt-get install python3-venv)"
  # Wheels only: nothing is compiled, so no compiler (or Rust, for jsonschema_rs) is needed.
  if ! "$dest/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --only-binary=:all: --requirement "$REQUIREMENTS" >"$dest/pip.log" 2>&1; then
    cat "$dest/pip.log" >&2
    die "pip install -r $REQUIREMENTS failed (above): is PyPI reachable ($(index))?"
  fi
  local reported
  reported=$("$dest/bin/schemathesis" --version 2>&1) || die "the installed schemathesis does not start: $reported"
  [ "$reported" = "schemathesis, version $pinned" ] || die "the venv reports '$reported', not $pinned"
  touch "$dest/.complete"
  trap - EXIT
  say "schemathesis $pinned is in $dest"
  echo "$dest/bin/schemathesis"
}

case ${1:-} in
  version) version ;;
  install) install ;;
  *)
    echo "usage: bash tools/schemathesis/venv.sh version | install" >&2
    exit 2
    ;;
esac
