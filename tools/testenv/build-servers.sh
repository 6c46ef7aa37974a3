#!/usr/bin/env bash
# Builds the real servers the tests run against from the Go module proxy, once per
# version, into $GORTEN_CACHE/bin (default ~/.cache/gorten/bin). Idempotent: a binary
# that already exists is kept; a half-finished build (no binary) is simply redone.
#
#   build-servers.sh [component ...]    components: etcd kube kwok ferretdb kong-crds prometheus-crds jaeger helm deck (default: all)
#
# Versions are pinned here and nowhere else; tools/testenv reads them via `versions`.
set -euo pipefail

K8S_VERSION=1.36.3
ETCD_VERSION=3.6.16
KWOK_VERSION=0.8.0
FERRETDB_VERSION=1.24.2
# Our build of it: the version plus the patch below (a new suffix rebuilds caches).
FERRETDB_BUILD=$FERRETDB_VERSION-serialwrites1-idlookup1
KIC_CONFIGURATION_VERSION=1.5.3
PROMETHEUS_OPERATOR_VERSION=0.85.0
HELM_VERSION=3.22.0
DECK_VERSION=1.55.0
JAEGER_VERSION=1.76.0

CACHE=${GORTEN_CACHE:-$HOME/.cache/gorten}
BIN=$CACHE/bin
WORK=$CACHE/build
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}

die() {
  echo "build-servers: $*" >&2
  exit 1
}

command -v go >/dev/null || die "the Go toolchain is missing: install Go >= 1.26 (it builds etcd, kube-apiserver, kwok and FerretDB from the Go module proxy)"

# wrapper <dir>: a throw-away module that pins what the real one needs.
wrapper() {
  rm -rf "$1" && mkdir -p "$1" && cd "$1" && go mod init local.invalid/gorten-build >/dev/null 2>&1
}

# have <name> <version>: true when the cached binary exists.
have() { [ -x "$BIN/$1-$2" ]; }

build_etcd() {
  have etcd "$ETCD_VERSION" && return
  echo "build-servers: building etcd v$ETCD_VERSION (go.etcd.io/etcd/server/v3)"
  wrapper "$WORK/etcd"
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" || die "go get go.etcd.io/etcd/server/v3@v$ETCD_VERSION failed: is the Go module proxy reachable (GOPROXY=$(go env GOPROXY))?"
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd-$ETCD_VERSION.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd-$ETCD_VERSION.tmp" "$BIN/etcd-$ETCD_VERSION"
}

# kube-apiserver, kube-controller-manager and kube-scheduler from k8s.io/kubernetes.
# That module replaces its staging modules with ./staging/...; the wrapper maps each
# one to the published v0.<minor>.<patch> instead.
build_kube() {
  if have kube-apiserver "$K8S_VERSION" && have kube-controller-manager "$K8S_VERSION" && have kube-scheduler "$K8S_VERSION"; then return; fi
  echo "build-servers: building kube-apiserver, kube-controller-manager, kube-scheduler v$K8S_VERSION (k8s.io/kubernetes)"
  local staging=v0.${K8S_VERSION#1.} gomod minor
  minor=${K8S_VERSION#1.}; minor=${minor%%.*}
  wrapper "$WORK/kube"
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -n "$gomod" ] || die "k8s.io/kubernetes@v$K8S_VERSION is not served by the Go module proxy; pick another version in $0"
  for m in $(sed -n 's|^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*|\1|p' "$gomod"); do
    go mod edit "-replace=$m=$m@$staging"
  done
  go get "k8s.io/kubernetes@v$K8S_VERSION"
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    have "$cmd" "$K8S_VERSION" && continue
    go build -trimpath -ldflags "$ld" -o "$BIN/$cmd-$K8S_VERSION.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$BIN/$cmd-$K8S_VERSION.tmp" "$BIN/$cmd-$K8S_VERSION"
  done
}

build_kwok() {
  have kwok "$KWOK_VERSION" && return
  echo "build-servers: building kwok v$KWOK_VERSION (sigs.k8s.io/kwok)"
  wrapper "$WORK/kwok"
  go get "sigs.k8s.io/kwok@v$KWOK_VERSION" || die "go get sigs.k8s.io/kwok@v$KWOK_VERSION failed"
  go build -trimpath -ldflags "-s -w" -o "$BIN/kwok-$KWOK_VERSION.tmp" sigs.k8s.io/kwok/cmd/kwok
  mv "$BIN/kwok-$KWOK_VERSION.tmp" "$BIN/kwok-$KWOK_VERSION"
}

# kwok acts only through Stages: the module's own "fast" node and pod stages plus the node
# heartbeat (without it the node lifecycle controller marks the nodes NotReady after 40 s
# and evicts their pods). Read from the module source, so they match the binary.
kwok_stages() {
  [ -s "$BIN/kwok-$KWOK_VERSION-stages.yaml" ] && return
  local src
  src=$(cd "$WORK" && go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/kustomize/stage
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -f "$src/$f" ] || die "kwok stage $f is missing from sigs.k8s.io/kwok@v$KWOK_VERSION"
    echo "---"
    cat "$src/$f"
  done >"$BIN/kwok-$KWOK_VERSION-stages.yaml.tmp"
  mv "$BIN/kwok-$KWOK_VERSION-stages.yaml.tmp" "$BIN/kwok-$KWOK_VERSION-stages.yaml"
}

# FerretDB panics at start unless build/version/version.txt holds its version; that
# file is generated in FerretDB's own release process and absent from the module, and
# a wrapper module does not help (Go reports FerretDB as the main module either way).
# So: copy the module source, write the file, build it as its own main module.
build_ferretdb() {
  have ferretdb "$FERRETDB_BUILD" && return
  echo "build-servers: building FerretDB v$FERRETDB_VERSION (github.com/FerretDB/FerretDB), writes serialized, _id lookups by index"
  local src
  src=$(go mod download -json "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$src" ] || die "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION is not served by the Go module proxy"
  rm -rf "$WORK/ferretdb" && mkdir -p "$WORK" && cp -r "$src" "$WORK/ferretdb" && chmod -R u+w "$WORK/ferretdb"
  cd "$WORK/ferretdb"
  echo "v$FERRETDB_VERSION" >build/version/version.txt
  serialize_ferretdb_writes
  push_down_id_lookups
  go build -trimpath -ldflags "-s -w" -o "$BIN/ferretdb-$FERRETDB_BUILD.tmp" ./cmd/ferretdb
  mv "$BIN/ferretdb-$FERRETDB_BUILD.tmp" "$BIN/ferretdb-$FERRETDB_BUILD"
}

# FerretDB 1.x applies an update by reading the document, changing it in Go and writing
# it back, with nothing held in between: two concurrent updates of one document lose one
# of them (100 concurrent $inc add up to ~15), so neither conditional updates nor
# compare-and-set are atomic — unlike MongoDB, which Gorten targets in production. This
# patch runs FerretDB's write commands one at a time (SQLite serializes writers anyway),
# which gives the single-document atomicity MongoDB has.
serialize_ferretdb_writes() {
  cat >internal/handler/gorten_serialize_writes.go <<'GO'
package handler

import (
	"context"
	"sync"

	"github.com/FerretDB/wire"
)

// writes is held by every write command, so each one applies to the state it read.
var writes sync.Mutex

func (h *Handler) serializeWrites() {
	for _, name := range []string{"delete", "findAndModify", "findandmodify", "insert", "update"} {
		c, ok := h.commands[name]
		if !ok {
			panic("gorten patch: FerretDB has no command " + name)
		}
		inner := c.Handler
		c.Handler = func(ctx context.Context, msg *wire.OpMsg) (*wire.OpMsg, error) {
			writes.Lock()
			defer writes.Unlock()
			return inner(ctx, msg)
		}
	}
}
GO
  grep -q '^	h.initCommands()$' internal/handler/handler.go || die "FerretDB v$FERRETDB_VERSION: handler.go no longer calls initCommands as the patch expects"
  sed -i 's/^	h.initCommands()$/	h.initCommands()\n	h.serializeWrites()/' internal/handler/handler.go
}

# FerretDB 1.24 (SQLite) finds a document by _id through the table's unique index only
# when the filter is exactly {_id: x}, and even then its query names the path '$._id'
# while the index is on "_id", so SQLite scans anyway: every update — also a
# compare-and-set {_id, version} — decodes the whole collection while holding the write
# lock above (27 ms per update at 3 000 documents). This patch makes the query use the
# index's expression and push the _id condition down for any filter that has one; the
# full filter is still applied in Go to what SQLite returns.
push_down_id_lookups() {
  local meta=internal/backends/sqlite/metadata/metadata.go coll=internal/backends/sqlite/collection.go
  grep -q "IDColumn = DefaultColumn + \"->'\$._id'\"" "$meta" || die "FerretDB v$FERRETDB_VERSION: $meta no longer defines IDColumn as the patch expects"
  [ "$(grep -c '	if params.Filter.Len() == 1 {' "$coll")" = 2 ] || die "FerretDB v$FERRETDB_VERSION: $coll no longer has the two _id shortcuts the patch expects"
  sed -i "s|IDColumn = DefaultColumn + \"->'\$._id'\"|IDColumn = DefaultColumn + \`->\"_id\"\`|" "$meta"
  sed -i 's|	if params.Filter.Len() == 1 {|	if params.Filter != nil { // gorten patch: any filter naming _id; Go re-filters|' "$coll"
}

# Kong Ingress Controller CRDs (KongPlugin, KongConsumer, ...), installed into the test
# apiserver so that every Kong resource the operator writes is checked by Kong's schemas.
kong_crds() {
  local out="$BIN/kic-crds-$KIC_CONFIGURATION_VERSION.yaml" src
  [ -s "$out" ] && return
  echo "build-servers: fetching Kong CRDs (github.com/kong/kubernetes-configuration v$KIC_CONFIGURATION_VERSION)"
  src=$(cd "$WORK" && go mod download -json "github.com/kong/kubernetes-configuration@v$KIC_CONFIGURATION_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$src/config/crd/ingress-controller" ] || die "github.com/kong/kubernetes-configuration@v$KIC_CONFIGURATION_VERSION has no config/crd/ingress-controller"
  for f in "$src"/config/crd/ingress-controller/configuration.konghq.com_*.yaml; do
    echo "---"
    cat "$f"
  done >"$out.tmp"
  mv "$out.tmp" "$out"
}

# The Prometheus Operator's ServiceMonitor and PodMonitor CRDs, applied by the tests of
# the tenants' ServiceMonitors to a private apiserver (the shared one has none), so what
# the operator writes meets the real schema.
prometheus_crds() {
  local out="$BIN/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION.yaml" src f
  [ -s "$out" ] && return
  echo "build-servers: fetching the Prometheus Operator CRDs (github.com/prometheus-operator/prometheus-operator v$PROMETHEUS_OPERATOR_VERSION)"
  src=$(cd "$WORK" && go mod download -json "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/example/prometheus-operator-crd
  for f in "$src"/monitoring.coreos.com_servicemonitors.yaml "$src"/monitoring.coreos.com_podmonitors.yaml; do
    [ -f "$f" ] || die "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION has no ${f#"$src"/}"
    echo "---"
    cat "$f"
  done >"$out.tmp"
  mv "$out.tmp" "$out"
}

# Jaeger v2 (an OpenTelemetry Collector distribution): receives the services' spans over
# OTLP and answers the query API the tracing tests read. The module embeds no UI assets
# (Jaeger's release process builds them from another repository), so its UI address
# serves a placeholder page; the query API is complete.
build_jaeger() {
  have jaeger "$JAEGER_VERSION" && return
  echo "build-servers: building Jaeger v$JAEGER_VERSION (github.com/jaegertracing/jaeger/cmd/jaeger)"
  wrapper "$WORK/jaeger"
  go get "github.com/jaegertracing/jaeger@v$JAEGER_VERSION" || die "go get github.com/jaegertracing/jaeger@v$JAEGER_VERSION failed"
  go build -trimpath -ldflags "-s -w" -o "$BIN/jaeger-$JAEGER_VERSION.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
  mv "$BIN/jaeger-$JAEGER_VERSION.tmp" "$BIN/jaeger-$JAEGER_VERSION"
}

# Helm, for `helm lint`/`helm template` of charts/gorten and installing it in tests.
build_helm() {
  have helm "$HELM_VERSION" && return
  echo "build-servers: building helm v$HELM_VERSION (helm.sh/helm/v3)"
  wrapper "$WORK/helm"
  go get "helm.sh/helm/v3@v$HELM_VERSION" || die "go get helm.sh/helm/v3@v$HELM_VERSION failed"
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" -o "$BIN/helm-$HELM_VERSION.tmp" helm.sh/helm/v3/cmd/helm
  mv "$BIN/helm-$HELM_VERSION.tmp" "$BIN/helm-$HELM_VERSION"
}

# decK validates kong/kong.yml offline. deck's own go.mod replaces two modules with
# Kong's forks; a wrapper module must repeat those replaces or the build fails. The
# checksum database behind this proxy answers 404 for Kong's modules (go-apiops,
# kubernetes-configuration), so they are taken from the module proxy unverified.
build_deck() {
  have deck "$DECK_VERSION" && return
  echo "build-servers: building decK v$DECK_VERSION (github.com/kong/deck)"
  wrapper "$WORK/deck"
  go mod edit -replace=github.com/yudai/gojsondiff=github.com/Kong/gojsondiff@v1.3.0 \
    -replace=gopkg.in/yaml.v3=github.com/Kong/yaml@v1.0.0
  GONOSUMDB=github.com/kong,github.com/Kong go get "github.com/kong/deck@v$DECK_VERSION" || die "go get github.com/kong/deck@v$DECK_VERSION failed"
  go build -trimpath -ldflags "-s -w" -o "$BIN/deck-$DECK_VERSION.tmp" github.com/kong/deck
  mv "$BIN/deck-$DECK_VERSION.tmp" "$BIN/deck-$DECK_VERSION"
}

versions() {
  printf '{"kubernetes":"%s","etcd":"%s","kwok":"%s","ferretdb":"%s","kongCrds":"%s","prometheusCrds":"%s","jaeger":"%s","helm":"%s","deck":"%s"}\n' \
    "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$FERRETDB_BUILD" "$KIC_CONFIGURATION_VERSION" "$PROMETHEUS_OPERATOR_VERSION" "$JAEGER_VERSION" "$HELM_VERSION" "$DECK_VERSION"
}

mkdir -p "$BIN" "$WORK"
if [ "${1:-}" = versions ]; then versions; exit 0; fi
components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd ferretdb kwok kube kong-crds prometheus-crds jaeger helm deck)
for c in "${components[@]}"; do
  case "$c" in
    kwok) (build_kwok && kwok_stages) || die "building kwok failed (see the output above); its cache is $WORK/kwok" ;;
    kong-crds) (kong_crds) || die "fetching the Kong CRDs failed (see the output above)" ;;
    prometheus-crds) (prometheus_crds) || die "fetching the Prometheus Operator CRDs failed (see the output above)" ;;
    etcd | kube | ferretdb | jaeger | helm | deck) (build_"$c") || die "building $c failed (see the output above); its cache is $WORK/$c" ;;
    *) die "unknown component '$c' (expected: etcd kube kwok ferretdb kong-crds prometheus-crds jaeger helm deck)" ;;
  esac
done
