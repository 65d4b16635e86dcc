#!/bin/sh
# Install the Hellotext store agent on a till (Debian/Ubuntu with systemd), or into a staging
# root for tests and images.
#
#   install.sh [--root DIR] [--source DIR] [--no-venv] [--no-enable] [--no-ocr]
#
#   --root DIR   install under DIR instead of / (nothing outside DIR is touched: the user is
#                created in DIR/etc by `systemd-sysusers --root`, the unit is enabled with
#                `systemctl --root`). A venv is not relocatable: one built under DIR runs
#                only from DIR; build an image's venv inside it (chroot) instead.
#   --source DIR the agent's source tree (default: the tree this script is in)
#   --no-venv    skip the virtual environment (tests; the unit's ExecStart then is missing)
#   --no-enable  install but do not enable or start the service
#   --no-ocr     do not install Tesseract (receipts printed as pictures then stay unread;
#                with --root it is never installed: put tesseract-ocr-* into the image)
#
# Environment: HELLOTEXT_API_TOKEN, if set, fills a new token file; PYTHON (default python3)
# builds the venv.
#
# Safe to run again: existing config, token and state are never overwritten, unchanged
# files are not rewritten, and the venv is kept (the agent package is reinstalled from the
# source, which is how an upgrade is done; a running service is restarted to load it).
set -eu

NAME=hellotext-agent
ROOT=""
SOURCE=""
VENV=1
ENABLE=1
OCR=1

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
        --root=*) ROOT=${1#--root=}; shift ;;
        --source) [ $# -ge 2 ] || die "--source needs a directory"; SOURCE=$2; shift 2 ;;
        --source=*) SOURCE=${1#--source=}; shift ;;
        --no-venv) VENV=0; shift ;;
        --no-enable) ENABLE=0; shift ;;
        --no-ocr) OCR=0; shift ;;
        -h|--help) sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

if [ -z "$SOURCE" ]; then
    SOURCE=$(cd "$(dirname "$0")/.." && pwd)
fi
SOURCE=$(cd "$SOURCE" && pwd) || die "no source tree at $SOURCE"
[ -f "$SOURCE/pyproject.toml" ] && [ -d "$SOURCE/agent" ] \
    || die "$SOURCE is not the agent's source tree (no pyproject.toml / agent/)"
UNITS=$SOURCE/systemd
if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != / ] || ROOT=""
fi
[ "$(id -u)" = 0 ] || die "run as root (it creates a system user and root-owned files)"
command -v systemd-sysusers >/dev/null 2>&1 || die "systemd-sysusers not found: is this a systemd system?"

# Files are world-readable unless said otherwise: the service user must read the venv.
umask 022

# --- user and groups -----------------------------------------------------------------------
mkdir -p "$ROOT/etc/sysusers.d"
install_if_changed() { # MODE SRC DEST: copy only when the content differs (keeps mtimes)
    if ! cmp -s "$2" "$3"; then
        install -m "$1" -o 0 -g 0 "$2" "$3"
        say "wrote ${3#"$ROOT"}"
    fi
    chmod "$1" "$3"
}
install_if_changed 0644 "$UNITS/$NAME.sysusers" "$ROOT/etc/sysusers.d/$NAME.conf"
if [ -n "$ROOT" ]; then
    systemd-sysusers --root="$ROOT" "$ROOT/etc/sysusers.d/$NAME.conf"
else
    systemd-sysusers "/etc/sysusers.d/$NAME.conf"
fi
# Ids from the target's own files (not NSS: with --root the host's users are irrelevant).
AGENT_UID=$(awk -F: -v n="$NAME" '$1 == n { print $3 }' "$ROOT/etc/passwd")
AGENT_GID=$(awk -F: -v n="$NAME" '$1 == n { print $3 }' "$ROOT/etc/group")
[ -n "$AGENT_UID" ] && [ -n "$AGENT_GID" ] || die "user $NAME was not created"

# --- directories ---------------------------------------------------------------------------
make_dir() { # MODE UID GID DIR
    mkdir -p "$4"
    chmod "$1" "$4"
    chown "$2:$3" "$4"
}
make_dir 0755 0 0 "$ROOT/opt/$NAME"
make_dir 0750 0 "$AGENT_GID" "$ROOT/etc/$NAME"
make_dir 0750 0 "$AGENT_GID" "$ROOT/etc/$NAME/templates"
make_dir 0700 "$AGENT_UID" "$AGENT_GID" "$ROOT/var/lib/$NAME"

# --- config and token: created once, never overwritten -------------------------------------
CONFIG=$ROOT/etc/$NAME/agent.toml
if [ -e "$CONFIG" ]; then
    say "kept existing ${CONFIG#"$ROOT"}"
else
    install -m 0640 -o 0 -g "$AGENT_GID" "$UNITS/agent.toml.example" "$CONFIG"
    say "wrote ${CONFIG#"$ROOT"} from the example: set [store] and add your [[printer]]"
fi
TOKEN=$ROOT/etc/$NAME/token
if [ -e "$TOKEN" ]; then
    say "kept existing ${TOKEN#"$ROOT"}"
    if [ -n "$(find "$TOKEN" -perm /077)" ]; then
        say "WARNING: ${TOKEN#"$ROOT"} is readable by others; run: chmod 600 ${TOKEN#"$ROOT"}"
    fi
else
    # Created root-only from the start: the token never sits in a readable file.
    (
        umask 077
        if [ -n "${HELLOTEXT_API_TOKEN:-}" ]; then
            printf '%s\n' "$HELLOTEXT_API_TOKEN" > "$TOKEN"
        else
            : > "$TOKEN"
        fi
    )
    chown 0:0 "$TOKEN"
    chmod 0600 "$TOKEN"
    if [ -s "$TOKEN" ]; then
        say "wrote ${TOKEN#"$ROOT"} from \$HELLOTEXT_API_TOKEN"
    else
        say "created an empty ${TOKEN#"$ROOT"}: paste the API token into it (one line)"
    fi
fi

# --- virtual environment -------------------------------------------------------------------
VENV_DIR=$ROOT/opt/$NAME/venv
if [ "$VENV" = 1 ]; then
    PY=${PYTHON:-python3}
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PY is older than Python 3.11"
    if [ ! -x "$VENV_DIR/bin/python" ]; then
        "$PY" -m venv "$VENV_DIR"
        say "created the venv ${VENV_DIR#"$ROOT"}"
    fi
    "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "$SOURCE"
    say "installed the agent into ${VENV_DIR#"$ROOT"}"
else
    say "skipped the venv (--no-venv)"
fi

# --- OCR: Tesseract reads receipts the till prints as pictures -----------------------------
OCR_PACKAGES="tesseract-ocr tesseract-ocr-spa tesseract-ocr-por"
if [ "$OCR" = 0 ]; then
    say "skipped Tesseract (--no-ocr): raster receipts will stay unread"
elif [ -n "$ROOT" ]; then
    say "not installing Tesseract into $ROOT: install $OCR_PACKAGES in the image"
elif command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    MISSING=""
    for package in $OCR_PACKAGES; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
            || MISSING="$MISSING $package"
    done
    if [ -z "$MISSING" ]; then
        say "Tesseract and its languages are installed"
    else
        # shellcheck disable=SC2086  # a list of package names
        apt-get install -y --no-install-recommends $MISSING \
            || say "WARNING: could not install$MISSING; raster receipts will stay unread"
    fi
else
    say "no apt-get: install Tesseract and its spa/por languages to read raster receipts"
fi

# --- kernel modules and the unit -----------------------------------------------------------
# The unit's DeviceAllow=char-ttyUSB / char-ttyACM only cover drivers loaded when the service
# starts, so load the USB serial drivers at boot whether or not an adapter is plugged in.
mkdir -p "$ROOT/etc/modules-load.d"
MODULES=$(mktemp)
trap 'rm -f "$MODULES"' EXIT
printf '# Hellotext agent: USB serial printers and scanners (see the unit'"'"'s DeviceAllow=)\nusbserial\ncdc_acm\n' > "$MODULES"
install_if_changed 0644 "$MODULES" "$ROOT/etc/modules-load.d/$NAME.conf"
mkdir -p "$ROOT/etc/systemd/system"
install_if_changed 0644 "$UNITS/$NAME.service" "$ROOT/etc/systemd/system/$NAME.service"

if [ "$ENABLE" = 0 ]; then
    say "not enabled (--no-enable)"
elif [ -n "$ROOT" ]; then
    systemctl --root="$ROOT" --quiet enable "$NAME.service"
    say "enabled $NAME.service in $ROOT"
elif [ -d /run/systemd/system ]; then
    modprobe -a -q usbserial cdc_acm 2>/dev/null || true
    systemctl daemon-reload
    systemctl --quiet enable "$NAME.service"
    if [ -s "$TOKEN" ]; then
        # restart, not start: a re-run (upgrade) must load the code just installed.
        systemctl restart "$NAME.service"
        say "started $NAME; check it with: systemctl status $NAME; $VENV_DIR/bin/$NAME doctor"
    else
        say "enabled $NAME; once the token is in $TOKEN: systemctl start $NAME"
    fi
else
    systemctl --quiet enable "$NAME.service"
    say "systemd is not running here: $NAME starts at the next boot"
fi
