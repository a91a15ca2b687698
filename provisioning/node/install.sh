#!/bin/sh
# Install the agrifleet field agent on a Debian-based node (Raspberry Pi OS, Jetson Linux).
#
#   sudo sh provisioning/node/install.sh [--source DIR|WHEEL] [--prefix /opt/agrifleet]
#
# Creates the system user `agrifleet` (groups: dialout only, no login, no home), a virtual
# environment with the `edge` extra in PREFIX/venv, the config directory /etc/agrifleet
# (0700, the agent's user: it holds the node's secrets) and the data directory
# /var/lib/agrifleet (0750), the systemd unit, the udev rules for USB serial adapters and the
# journald limits. Then: enrol the node and start the agent (printed at the end).
#
# Options (all optional):
#   --source DIR|WHEEL  what pip installs (default: the checkout this script is in)
#   --prefix DIR        where the venv goes (default /opt/agrifleet)
#   --destdir DIR       install under DIR as if it were / (a package build, a test)
#   --user NAME         the agent's user (default agrifleet)
#   --no-useradd        do not create the user (it must exist; the test uses `daemon`)
#   --no-pip            create the venv but install nothing into it (offline test)
#   --no-systemctl      do not reload systemd and udev (implied by --destdir)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
source_path=$(cd "$here/../.." && pwd)
prefix=/opt/agrifleet
destdir=
user=agrifleet
useradd=yes
pip=yes
reload=yes
python=${PYTHON:-python3}

die() { echo "install.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --source) source_path=${2:?--source needs a value}; shift 2 ;;
        --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
        --destdir) destdir=${2:?--destdir needs a value}; reload=no; shift 2 ;;
        --user) user=${2:?--user needs a value}; shift 2 ;;
        --no-useradd) useradd=no; shift ;;
        --no-pip) pip=no; shift ;;
        --no-systemctl) reload=no; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

case "$prefix" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (sudo): it creates a user and system directories"
command -v "$python" >/dev/null 2>&1 || die "$python not found (apt-get install python3 python3-venv)"

conf_dir=/etc/agrifleet
data_dir=/var/lib/agrifleet
venv=$prefix/venv

# 1. the agent's user: a system account in dialout only (serial ports), no shell, no home
if [ "$useradd" = yes ]; then
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir "$data_dir" \
            --shell /usr/sbin/nologin --groups dialout "$user"
    fi
    usermod --groups dialout "$user"   # exactly dialout, whatever it had before
fi
id "$user" >/dev/null 2>&1 || die "user $user does not exist"
group=$(id -gn "$user")

# 2. directories: the config (secrets inside) for the agent's user only; the data writable by it
install -d -m 0755 "$destdir$prefix"
install -d -m 0700 -o "$user" -g "$group" "$destdir$conf_dir"
install -d -m 0750 -o "$user" -g "$group" "$destdir$data_dir"

# 3. the virtual environment with the edge extra (owned by root: the agent cannot change it)
if [ ! -x "$destdir$venv/bin/python" ]; then
    if [ "$pip" = yes ]; then
        "$python" -m venv "$destdir$venv"
    else
        "$python" -m venv --without-pip "$destdir$venv"
    fi
fi
if [ "$pip" = yes ]; then
    "$destdir$venv/bin/python" -m pip install --upgrade --quiet "$source_path[edge]" \
        || die "pip could not install $source_path[edge]"
fi

# 4. systemd unit, udev rules, journald limits (paths follow --prefix)
install -d -m 0755 "$destdir/etc/systemd/system" "$destdir/etc/udev/rules.d" \
    "$destdir/etc/systemd/journald.conf.d"
sed -e "s#/opt/agrifleet/venv#$venv#g" -e "s#^User=agrifleet#User=$user#" \
    -e "s#^Group=agrifleet#Group=$group#" "$here/agrifleet-agent.service" \
    > "$destdir/etc/systemd/system/agrifleet-agent.service"
chmod 0644 "$destdir/etc/systemd/system/agrifleet-agent.service"
install -m 0644 "$here/99-agrifleet-serial.rules" "$destdir/etc/udev/rules.d/99-agrifleet-serial.rules"
install -m 0644 "$here/journald-agrifleet.conf" "$destdir/etc/systemd/journald.conf.d/agrifleet.conf"

if [ "$reload" = yes ]; then
    systemctl daemon-reload
    systemctl restart systemd-journald || true
    udevadm control --reload && udevadm trigger --subsystem-match=tty || true
fi

cat <<DONE
installed the agrifleet agent in $destdir$venv (user $user, config $conf_dir, data $data_dir)
next, with a code from your technician:
  sudo -u $user $venv/bin/agrifleet edge enroll --fleet https://FLEET --code CODE \\
      --config $conf_dir/agent.toml --data-dir $data_dir
  (add the sensors to $conf_dir/agent.toml: ports under /dev/agrifleet/)
  sudo systemctl enable --now agrifleet-agent
DONE
