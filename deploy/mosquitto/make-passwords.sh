#!/bin/sh
# Give MQTT users fresh random passwords in a Mosquitto password file.
#
# Usage: make-passwords.sh [-a ACL_FILE] PASSWORD_FILE CREDENTIALS_FILE [USER ...]
#
# Every user named on a "user" line of ACL_FILE (default: the acl file next to this script:
# the IOC's processes, report sources and department systems) and every USER given on the
# command line (device ids) gets a new random password: its hash goes into PASSWORD_FILE
# (created if missing; other entries are kept), and "user password" is appended to
# CREDENTIALS_FILE (mode 600) for handing to the system that connects as that user, e.g. as
# MQTT_URL=mqtts://user:password@broker:8883. Delete CREDENTIALS_FILE once distributed.
#
# Then make PASSWORD_FILE readable by mosquitto only and reload the broker:
#     chown mosquitto: /etc/mosquitto/passwd && chmod 600 /etc/mosquitto/passwd
#     systemctl reload mosquitto
#
# Note: mosquitto_passwd -b takes the password as an argument, visible to other local users
# in the process list for a moment; run this on the broker host as root, not on a shared host.
set -eu

acl="$(dirname "$0")/acl"
if [ "${1:-}" = "-a" ]; then
    acl="$2"
    shift 2
fi
if [ $# -lt 2 ]; then
    sed -n '4p' "$0" | sed 's/^# //' >&2
    exit 2
fi
passwd_file="$1"
credentials="$2"
shift 2

command -v mosquitto_passwd >/dev/null || { echo "mosquitto_passwd not found (apt install mosquitto)" >&2; exit 1; }
[ -f "$passwd_file" ] || : > "$passwd_file"
chmod 600 "$passwd_file"
umask 077
: >> "$credentials"
chmod 600 "$credentials"

count=0
users="$(awk '$1 == "user" && NF == 2 { print $2 }' "$acl") $*"
for user in $users; do
    case "$user" in
        *[!A-Za-z0-9_.:-]*) echo "skipping $user: only letters, digits and _ . : - are allowed" >&2; continue ;;
    esac
    password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    mosquitto_passwd -b "$passwd_file" "$user" "$password"
    printf '%s %s\n' "$user" "$password" >> "$credentials"
    count=$((count + 1))
done
echo "$count users in $passwd_file; their passwords are in $credentials" >&2
