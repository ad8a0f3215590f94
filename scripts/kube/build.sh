#!/usr/bin/env bash
# Builds a real Kubernetes API server and controller manager (v1.20.2) from Debian bookworm's `kubernetes`
# source package, for the integration tests (test/support/kube-apiserver.ts), and caches the binaries
# outside the repository:
#
#   ${KRAKE_KUBE_CACHE:-$HOME/.cache/krake/kube-1.20.2}/bin/{kube-apiserver,kube-controller-manager}
#
# Idempotent: when both binaries exist and answer --version, it prints the bin dir and exits at once.
# Otherwise it installs what is missing (apt), adds a deb-src entry if there is none, fetches the source
# into the cache's work/ dir, applies three fixes so Debian's Go 1.19 can build the 1.20 tree, builds, and
# prints the bin dir on stdout (progress goes to stderr). A flock keeps two concurrent runs from both
# building; the second waits and then finds the binaries.
#
# Every step leaves a stamp in work/stamps, so a rerun after a failure resumes where it stopped. After a
# successful build the work dir (source tree ~300 MB, Go build cache ~2 GB) is deleted; set
# KRAKE_KUBE_KEEP_WORK=1 to keep it (a rebuild then takes seconds instead of minutes).
#
# The fixes (the Debian package itself ships only kubectl, so the server parts are not buildable as is):
#  1. vendor/modules.txt was written by Go 1.15; Go >= 1.17 wants each `# module => replacement` line
#     before the versioned `# module vX` line, else every build fails with "updates to go.mod needed"
#     (scripts/kube/fix-vendor-modules.mjs).
#  2. pkg/generated/openapi/zz_generated.openapi.go is not in the tarball: the vendored openapi-gen is
#     built and run in GOPATH mode over the packages tagged `+k8s:openapi-gen=`, as upstream's
#     Makefile.generated_files does (its API-rule report must equal api/api-rules/violation_exceptions.list).
#  3. The vendored github.com/modern-go/reflect2 1.0.1 breaks on Go >= 1.18 (the server crashes on the
#     first custom object); it is replaced by Debian's golang-github-modern-go-reflect2-dev (1.0.2).
set -euo pipefail

KUBE_VERSION=v1.20.2
KUBE_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56 # upstream v1.20.2
CACHE=${KRAKE_KUBE_CACHE:-$HOME/.cache/krake/kube-1.20.2}
BIN=$CACHE/bin
WORK=$CACHE/work
STAMPS=$WORK/stamps
SRC=$WORK/kubernetes
GOPATH_DIR=$WORK/gopath
TOOLS=$WORK/tools
BINARIES=(kube-apiserver kube-controller-manager)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REFLECT2_DEB=/usr/share/gocode/src/github.com/modern-go/reflect2
MIN_FREE_KB=$((4 * 1024 * 1024))

# A build started by a test outlives the test process if that is killed (e.g. by the runner's timeout): the
# build is detached, and with SIGPIPE ignored the logging into the dead reader's pipe cannot kill it either,
# so the next run finds the binaries (or waits on the lock) instead of starting over.
trap '' PIPE

START=$(date +%s)
log() { printf '[kube-build +%ss] %s\n' "$(($(date +%s) - START))" "$*" >&2 || true; }
die() {
  log "ERROR: $*"
  exit 1
}

binaries_ok() {
  local b
  for b in "${BINARIES[@]}"; do
    [[ -x "$BIN/$b" ]] || return 1
    "$BIN/$b" --version >/dev/null 2>&1 || return 1
  done
}

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || die "not root and no sudo: cannot install packages"
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

APT_UPDATED=0
apt_update() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq >&2
    APT_UPDATED=1
  fi
}

ensure_packages() {
  local missing=() p
  for p in dpkg-dev golang-go golang-github-modern-go-reflect2-dev etcd-server openssl; do
    pkg_installed "$p" || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    apt_update
    log "installing ${missing[*]}"
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

# `apt-get source` needs a deb-src entry. Rather than editing the system's own sources file, a separate
# deb822 file with the same archive is added (only when no deb-src for the package is configured).
ensure_deb_src() {
  if apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes'; then
    return
  fi
  local codename list=/etc/apt/sources.list.d/krake-kube-src.sources
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  log "adding deb-src for $codename in $list"
  "${SUDO[@]}" tee "$list" >/dev/null <<EOF
# Added by krake scripts/kube/build.sh: Debian source packages (apt-get source kubernetes).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  APT_UPDATED=0
  apt_update
  apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes' ||
    die "no source package 'kubernetes' even after adding $list"
}

check_disk() {
  local avail
  avail=$(df -Pk "$CACHE" | awk 'NR == 2 { print $4 }')
  df -h "$CACHE" >&2
  if [[ $avail -lt $MIN_FREE_KB ]]; then
    die "only $((avail / 1024)) MiB free under $CACHE; the build needs about 4 GiB (source + Go build cache)"
  fi
}

done_step() { [[ -f "$STAMPS/$1" ]]; }
mark_step() { touch "$STAMPS/$1"; }

step_fetch() {
  done_step fetched && return
  log "fetching the Debian source package 'kubernetes' into $WORK/dl"
  rm -rf "$SRC" "$WORK/dl"
  mkdir -p "$WORK/dl"
  # As root, apt warns that the _apt user cannot write here; the download happens unsandboxed, harmless.
  (cd "$WORK/dl" && apt-get source -qq kubernetes >&2)
  local dir
  dir=$(find "$WORK/dl" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
  [[ -n $dir && -d $dir/vendor ]] || die "apt-get source kubernetes gave no tree with vendor/ in $WORK/dl"
  mv "$dir" "$SRC"
  rm -rf "$WORK/dl"
  grep -q "$KUBE_COMMIT" "$SRC/staging/src/k8s.io/component-base/version/base.go" ||
    log "WARNING: the source tree is not upstream $KUBE_VERSION ($KUBE_COMMIT); building it anyway"
  mark_step fetched
}

step_modules() {
  done_step modules-fixed && return
  log "fix 1: reordering vendor/modules.txt for Go >= 1.17"
  node "$HERE/fix-vendor-modules.mjs" "$SRC/vendor/modules.txt"
  mark_step modules-fixed
}

step_reflect2() {
  done_step reflect2-replaced && return
  log "fix 3: replacing vendored reflect2 1.0.1 with Debian's 1.0.2 ($REFLECT2_DEB)"
  [[ -f $REFLECT2_DEB/reflect2.go ]] || die "$REFLECT2_DEB missing (golang-github-modern-go-reflect2-dev)"
  local dst=$SRC/vendor/github.com/modern-go/reflect2
  # Keep the licence, drop the rest; no go.mod inside vendor/ (modules.txt keeps v1.0.1, which is what
  # go.mod pins, so the vendor consistency check is unaffected).
  find "$dst" -maxdepth 1 -type f ! -name LICENSE -delete
  find "$REFLECT2_DEB" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' \
    -exec cp {} "$dst/" \;
  mark_step reflect2-replaced
}

# Module-mode Go environment for every build below: vendored dependencies only, no network, static.
go_env() {
  export GOFLAGS=-mod=vendor GOPROXY=off GO111MODULE=on CGO_ENABLED=0 GOCACHE=$WORK/gocache
  export GOPATH=$GOPATH_DIR GOTOOLCHAIN=local GOTELEMETRY=off
}

step_openapi() {
  done_step openapi-generated && return
  log "fix 2: building the vendored openapi-gen"
  mkdir -p "$TOOLS"
  (cd "$SRC" && go_env && go build -o "$TOOLS/openapi-gen" k8s.io/kube-openapi/cmd/openapi-gen)

  # The input packages, as upstream's Makefile.generated_files computes KUBE_OPENAPI_DIRS: every Go dir
  # outside vendor/ (staging/src/X named vendor/X) with a file tagged `+k8s:openapi-gen=`, minus
  # code-generator and sample-apiserver.
  local dirs
  dirs=$(cd "$SRC" &&
    find -H . \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune -o -type f -name '*.go' -print0 |
      xargs -0 grep -l --color=never '^// *+k8s:' |
      xargs grep -l --color=never '+k8s:openapi-gen=' |
      sed 's|^\./staging/src/|vendor/|; s|^\./||' |
      xargs -n1 dirname |
      LC_ALL=C sort -u |
      grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' |
      sed 's|^|k8s.io/kubernetes/|' |
      paste -sd, -)
  [[ -n $dirs ]] || die "found no +k8s:openapi-gen packages"
  log "fix 2: generating pkg/generated/openapi over $(tr ',' '\n' <<<"$dirs" | wc -l) packages (GOPATH mode)"

  # GOPATH mode as hack/run-in-gopath.sh sets it up: the tree is k8s.io/kubernetes inside a GOPATH, and
  # openapi-gen writes to $GOPATH/src/<output package>, i.e. into the tree through the symlink.
  mkdir -p "$GOPATH_DIR/src/k8s.io"
  ln -sfn "$SRC" "$GOPATH_DIR/src/k8s.io/kubernetes"
  local report=$WORK/openapi-violations.report
  (
    cd "$GOPATH_DIR/src/k8s.io/kubernetes"
    export GOPATH=$GOPATH_DIR GO111MODULE=off GOFLAGS='' GOPROXY=off CGO_ENABLED=0 GOCACHE=$WORK/gocache
    "$TOOLS/openapi-gen" --logtostderr \
      -i "$dirs" \
      -p k8s.io/kubernetes/pkg/generated/openapi \
      -O zz_generated.openapi \
      -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
      -r "$report"
  )
  [[ -s $SRC/pkg/generated/openapi/zz_generated.openapi.go ]] || die "openapi-gen wrote no zz_generated.openapi.go"
  # Upstream's check that the generated definitions are the expected ones.
  if ! diff -q "$report" "$SRC/api/api-rules/violation_exceptions.list" >/dev/null; then
    log "WARNING: openapi-gen's API rule report differs from api/api-rules/violation_exceptions.list"
  fi
  mark_step openapi-generated
}

step_build() {
  local name=$1 t0
  done_step "built-$name" && [[ -x $WORK/out/$name ]] && return
  t0=$(date +%s)
  log "building $name (go build, $(nproc) cores; the first one takes several minutes)"
  local date ldflags=(-s -w) pkg
  date=$(date -u +'%Y-%m-%dT%H:%M:%SZ')
  # What upstream's hack/lib/version.sh stamps in from git; the tarball only has a placeholder version.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=(-X "$pkg.gitVersion=$KUBE_VERSION" -X "$pkg.gitMajor=1" -X "$pkg.gitMinor=20"
      -X "$pkg.gitCommit=$KUBE_COMMIT" -X "$pkg.gitTreeState=clean" -X "$pkg.buildDate=$date")
  done
  mkdir -p "$WORK/out"
  (cd "$SRC" && go_env && go build -trimpath -ldflags "${ldflags[*]}" -o "$WORK/out/$name" "./cmd/$name")
  log "built $name in $(($(date +%s) - t0))s ($(du -h "$WORK/out/$name" | cut -f1))"
  mark_step "built-$name"
}

install_binaries() {
  mkdir -p "$BIN"
  local b
  for b in "${BINARIES[@]}"; do
    "$WORK/out/$b" --version >/dev/null || die "$WORK/out/$b --version failed"
    # Copy then rename, so a reader never sees a half-written binary.
    cp "$WORK/out/$b" "$BIN/.$b.tmp"
    mv -f "$BIN/.$b.tmp" "$BIN/$b"
  done
}

# All of it in one function, so bash has parsed everything before it runs: editing this file while a build
# is under way cannot derail the running one.
main() {
  local b
  if binaries_ok; then
    echo "$BIN"
    exit 0
  fi

  mkdir -p "$CACHE"
  exec 9>"$CACHE/.build.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE/.build.lock; waiting for it"
    flock 9
  fi
  # The other run may have finished the job while we waited.
  if binaries_ok; then
    log "built by a concurrent run"
    echo "$BIN"
    exit 0
  fi

  log "building Kubernetes $KUBE_VERSION into $BIN (work dir $WORK)"
  check_disk
  ensure_packages
  ensure_deb_src
  command -v go >/dev/null || die "go not on PATH after installing golang-go"
  command -v node >/dev/null || die "node not on PATH (needed for fix-vendor-modules.mjs)"
  log "using $(go version)"
  mkdir -p "$STAMPS"

  step_fetch
  step_modules
  step_reflect2
  step_openapi
  for b in "${BINARIES[@]}"; do step_build "$b"; done
  install_binaries

  for b in "${BINARIES[@]}"; do
    log "$BIN/$b: $(du -h "$BIN/$b" | cut -f1), $("$BIN/$b" --version 2>&1)"
  done
  if [[ ${KRAKE_KUBE_KEEP_WORK:-0} == 1 ]]; then
    log "keeping the work dir $WORK ($(du -sh "$WORK" | cut -f1)) because KRAKE_KUBE_KEEP_WORK=1"
  else
    log "removing the work dir $WORK ($(du -sh "$WORK" | cut -f1)); KRAKE_KUBE_KEEP_WORK=1 keeps it"
    # The Go build cache holds read-only files.
    chmod -R u+w "$WORK" 2>/dev/null || true
    rm -rf "$WORK"
  fi
  log "done in $(($(date +%s) - START))s"
  echo "$BIN"
}

main "$@"
exit
