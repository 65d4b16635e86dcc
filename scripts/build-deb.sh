#!/bin/sh
# Build hellotext-agent_<version>~deb<N>u1_<arch>.deb for one Debian release, inside a root of
# that release, with Debian's own tooling (debhelper, dpkg-buildpackage), and check it with
# that release's lintian.
#
#   scripts/build-deb.sh [--release trixie|bookworm] [--out DIR] [--no-lintian] [--refresh-root]
#
#   --release R     trixie (Debian 13, python3.13; the default) or bookworm (Debian 12, python3.11)
#   --out DIR       where the .deb goes (default: dist/ in the source tree)
#   --no-lintian    skip lintian (it takes a minute on the venv's few thousand files)
#   --refresh-root  rebuild the cached build root (e.g. after a Debian point release)
#
# The package bundles the agent and its dependencies, at the versions and hashes locked in
# uv.lock, in a virtual environment /opt/hellotext-agent/venv built with the release's python3
# (see debian/rules): a venv only runs on the Python minor version it was made with, so a
# package belongs to the release it was built for (0.1.0~deb13u1 for trixie, ~deb12u1 for
# bookworm; both can sit in one apt repository). The build runs in systemd-nspawn on a root
# made once with mmdebstrap and cached in $HELLOTEXT_AGENT_BUILD_ROOTS/<release> (default
# /var/cache/hellotext-agent-build), mounted read-only under a throwaway overlay, so the cache
# stays clean; the source is a scratch copy, so the checkout does too. The locked wheels come
# from the package index (PIP_INDEX_URL, PIP_CERT and proxies are honoured; pip's cache is kept
# beside the root), the root's packages from $HELLOTEXT_DEBIAN_MIRROR (default
# http://deb.debian.org/debian) and $HELLOTEXT_DEBIAN_SECURITY (.../debian-security). Build on
# the architecture you install on: a venv holds compiled extensions (pydantic-core, evdev), so
# an arm64 till needs a package built on arm64, with this same script.
#
# Needs root, uv, mmdebstrap and systemd-nspawn:
#   apt-get install --no-install-recommends mmdebstrap systemd-container
set -eu

RELEASE=trixie
OUT=""
LINTIAN=1
REFRESH=0
die() { echo "build-deb.sh: $*" >&2; exit 1; }
say() { echo "build-deb.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --release) [ $# -ge 2 ] || die "--release needs trixie or bookworm"; RELEASE=$2; shift 2 ;;
        --release=*) RELEASE=${1#--release=}; shift ;;
        --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
        --out=*) OUT=${1#--out=}; shift ;;
        --no-lintian) LINTIAN=0; shift ;;
        --refresh-root) REFRESH=1; shift ;;
        -h|--help) sed -n '2,29s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

case "$RELEASE" in
    bookworm) DEBIAN=12 ;;
    trixie) DEBIAN=13 ;;
    *) die "--release $RELEASE: want trixie (Debian 13) or bookworm (Debian 12)" ;;
esac

SOURCE=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$SOURCE/dist}
[ "$(id -u)" = 0 ] || die "needs root: the build runs in systemd-nspawn (sudo $0 ...)"
for tool in uv mmdebstrap systemd-nspawn flock; do
    command -v "$tool" >/dev/null 2>&1 \
        || die "$tool not found (apt-get install mmdebstrap systemd-container; uv: pip install uv)"
done

START=$(date +%s)
CACHE=${HELLOTEXT_AGENT_BUILD_ROOTS:-/var/cache/hellotext-agent-build}
ROOT=$CACHE/$RELEASE
MIRROR=${HELLOTEXT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${HELLOTEXT_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
# debian/control's Build-Depends, build-essential (assumed by every Debian build), lintian and
# ca-certificates (pip fetches the wheels over https).
PACKAGES="build-essential,ca-certificates,debhelper,dpkg-dev,libjpeg-dev,lintian,python3,python3-dev,python3-venv,zlib1g-dev"
mkdir -p "$CACHE" "$CACHE/pip-$RELEASE"

# One root per release, built once (4-5 minutes, the only step that needs a Debian mirror);
# a build started meanwhile waits for it and reuses it.
exec 9>"$CACHE/$RELEASE.lock"
flock 9
if [ "$REFRESH" = 1 ] || [ ! -d "$ROOT" ] || [ "$(cat "$ROOT.packages" 2>/dev/null)" != "$PACKAGES" ]; then
    say "building the $RELEASE root in $ROOT (once; later builds reuse it)"
    rm -rf "$ROOT.partial"
    mmdebstrap --variant=minbase --include="$PACKAGES" "$RELEASE" "$ROOT.partial" \
        "deb $MIRROR $RELEASE main" "deb $MIRROR $RELEASE-updates main" \
        "deb $SECURITY $RELEASE-security main" >"$CACHE/$RELEASE.mmdebstrap.log" 2>&1 || {
        tail -20 "$CACHE/$RELEASE.mmdebstrap.log" >&2
        rm -rf "$ROOT.partial"
        die "mmdebstrap failed (log: $CACHE/$RELEASE.mmdebstrap.log)"
    }
    rm -rf "$ROOT"
    mv "$ROOT.partial" "$ROOT"
    echo "$PACKAGES" > "$ROOT.packages"
fi
exec 9>&-  # builds share the root read-only (each under its own overlay)

# Scratch space on disk, not in /tmp (a tmpfs on many machines): the venv and Pillow's build.
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/hellotext-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/src" "$WORK/tmp"

# The files git knows (committed or not, minus ignored ones), else the whole tree.
if git -C "$SOURCE" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$SOURCE" ls-files -z --cached --others --exclude-standard \
        | tar -C "$SOURCE" --null --ignore-failed-read -T - -cf - 2>/dev/null \
        | tar -C "$WORK/src" -xf -
else
    tar -C "$SOURCE" --exclude=./.venv --exclude=./dist -cf - . | tar -C "$WORK/src" -xf -
fi

UPSTREAM=$(sed -n 's/^version = "\(.*\)"/\1/p' "$SOURCE/pyproject.toml" | head -1)
[ -n "$UPSTREAM" ] || die "no version in pyproject.toml"
# The release in the version (Debian's stable-update style): 0.1.0~deb13u1 sorts before a
# plain 0.1.0, and a till upgraded from 12 to 13 moves from ~deb12u1 to the higher ~deb13u1.
VERSION="$UPSTREAM~deb${DEBIAN}u1"
# The changelog's date is the package's timestamp (SOURCE_DATE_EPOCH): the last commit's.
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$SOURCE" log -1 --format=%ct 2>/dev/null || date +%s)}
MAINTAINER=$(sed -n 's/^Maintainer: //p' "$WORK/src/debian/control")
cat > "$WORK/src/debian/changelog" <<EOF
hellotext-agent ($VERSION) $RELEASE; urgency=medium

  * Release $UPSTREAM for Debian $DEBIAN ($RELEASE); see the README for what changed.

 -- $MAINTAINER  $(date -u -R -d "@$EPOCH")
EOF

# Exact versions and hashes from uv.lock; the agent itself is installed from the tree.
(cd "$SOURCE" && uv export --quiet --frozen --no-dev --no-emit-project \
    --format requirements-txt -o "$WORK/src/debian/requirements.txt")
# The locked pip alone, installed first: Debian 12's bundled pip (23.0) ignores its cache of
# wheels built from source (Pillow, evdev) under --require-hashes and recompiled them each time.
awk '/^pip==/ { p = 1 } p { print; if ($0 !~ /\\$/) exit }' "$WORK/src/debian/requirements.txt" \
    > "$WORK/src/debian/requirements-pip.txt"

# Only the index settings cross into the root (the host's pip.conf stays outside).
SETENV=""
for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST http_proxy https_proxy \
        HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY; do
    eval "value=\${$name:-}"
    [ -z "$value" ] || SETENV="$SETENV --setenv=$name=$value"
done
# A proxy's own CA (PIP_CERT or SSL_CERT_FILE on the host): the root only trusts Debian's.
CA=${PIP_CERT:-${SSL_CERT_FILE:-}}
if [ -n "$CA" ] && [ -f "$CA" ]; then
    cp "$CA" "$WORK/ca.crt"
    SETENV="$SETENV --setenv=PIP_CERT=/build/ca.crt"
fi
if [ "$LINTIAN" = 1 ]; then
    # Errors fail the build; warnings and infos are printed for whoever builds.
    CHECK='lintian --fail-on error --info /build/hellotext-agent_*.deb'
else
    CHECK=true
fi

say "building $VERSION in a $RELEASE root ($WORK)"
# shellcheck disable=SC2086 # SETENV is a list of options
systemd-nspawn -q -D "$ROOT" --volatile=overlay --register=no --keep-unit --console=pipe \
    --resolv-conf=copy-host --bind="$WORK:/build" --bind="$CACHE/pip-$RELEASE:/root/.cache/pip" \
    --setenv=TMPDIR=/build/tmp --setenv=LANG=C.UTF-8 --setenv=SOURCE_DATE_EPOCH="$EPOCH" \
    $SETENV --chdir=/build/src \
    /bin/sh -c "dpkg-buildpackage --build=binary --no-sign >/build/build.log 2>&1 \
        || { tail -40 /build/build.log >&2; exit 1; }; $CHECK" \
    || die "the build in the $RELEASE root failed (the last lines are above)"
DEB=$(ls "$WORK"/hellotext-agent_"$VERSION"_*.deb)

mkdir -p "$OUT"
mv "$DEB" "$OUT/"
DEB=$OUT/$(basename "$DEB")
SIZE=$(du -k "$DEB" | cut -f1)
say "built $DEB (${SIZE} KiB) in $(($(date +%s) - START)) s"
