#!/bin/sh
# Build hellotext-agent_<version>_<arch>.deb with Debian's own tooling (debhelper,
# dpkg-buildpackage) and check it with lintian.
#
#   scripts/build-deb.sh [--out DIR] [--no-lintian]
#
#   --out DIR      where the .deb goes (default: dist/ in the source tree)
#   --no-lintian   skip lintian (it takes a minute on the venv's few thousand files)
#
# The package bundles the agent and its dependencies, at the versions and hashes locked in
# uv.lock, in a virtual environment /opt/hellotext-agent/venv built with Debian's python3
# (see debian/rules). The build runs in a scratch copy of the source tree, so the checkout
# stays clean; it downloads the locked wheels from the package index (PIP_INDEX_URL is
# honoured). Build on the architecture you install on: a venv holds compiled extensions
# (pydantic-core, evdev), so an arm64 till needs a package built on arm64.
#
# Needs: dpkg-dev, debhelper, python3-venv, python3-dev, libjpeg-dev, zlib1g-dev, uv; lintian
#   apt-get install --no-install-recommends dpkg-dev debhelper python3-venv python3-dev \
#     libjpeg-dev zlib1g-dev lintian
set -eu

OUT=""
LINTIAN=1
die() { echo "build-deb.sh: $*" >&2; exit 1; }
say() { echo "build-deb.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
        --out=*) OUT=${1#--out=}; shift ;;
        --no-lintian) LINTIAN=0; shift ;;
        -h|--help) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

SOURCE=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$SOURCE/dist}
for tool in dpkg-buildpackage dh uv; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (see --help for the packages)"
done
[ "$LINTIAN" = 0 ] || command -v lintian >/dev/null 2>&1 || die "lintian not found (or --no-lintian)"
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || die "apt-get install python3-venv"

START=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hellotext-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/src"

# The files git knows (committed or not, minus ignored ones), else the whole tree.
if git -C "$SOURCE" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$SOURCE" ls-files -z --cached --others --exclude-standard \
        | tar -C "$SOURCE" --null --ignore-failed-read -T - -cf - 2>/dev/null \
        | tar -C "$WORK/src" -xf -
else
    tar -C "$SOURCE" --exclude=./.venv --exclude=./dist -cf - . | tar -C "$WORK/src" -xf -
fi

VERSION=$(/usr/bin/python3 -c \
    'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$SOURCE/pyproject.toml")
# The changelog's date is the package's timestamp (SOURCE_DATE_EPOCH): the last commit's.
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$SOURCE" log -1 --format=%ct 2>/dev/null || date +%s)}
MAINTAINER=$(sed -n 's/^Maintainer: //p' "$WORK/src/debian/control")
cat > "$WORK/src/debian/changelog" <<EOF
hellotext-agent ($VERSION) unstable; urgency=medium

  * Release $VERSION (see the README for what changed).

 -- $MAINTAINER  $(date -u -R -d "@$EPOCH")
EOF

# Exact versions and hashes from uv.lock; the agent itself is installed from the tree.
(cd "$SOURCE" && uv export --quiet --frozen --no-dev --no-emit-project \
    --format requirements-txt -o "$WORK/src/debian/requirements.txt")

say "building $VERSION in $WORK"
(cd "$WORK/src" && dpkg-buildpackage --build=binary --no-sign >"$WORK/build.log" 2>&1) || {
    tail -40 "$WORK/build.log" >&2
    die "dpkg-buildpackage failed (the last lines are above)"
}
DEB=$(ls "$WORK"/hellotext-agent_"$VERSION"_*.deb)

if [ "$LINTIAN" = 1 ]; then
    # Errors fail the build; warnings and infos are printed for whoever builds.
    lintian --fail-on error --info "$DEB" || die "lintian found errors in $(basename "$DEB")"
fi

mkdir -p "$OUT"
mv "$DEB" "$OUT/"
DEB=$OUT/$(basename "$DEB")
SIZE=$(du -k "$DEB" | cut -f1)
say "built $DEB (${SIZE} KiB) in $(($(date +%s) - START)) s"
