#!/bin/sh
# enroll-cgi.sh REQUESTS-DIR ENROLLED-DIR: the CGI script behind POST /cgi-bin/enroll (scripts/serve.sh): stores a
# machine's enrollment request (public keys only) as REQUESTS-DIR/<sha256>.req, with where and when it came from,
# and answers one line of text: waiting, approved, or refused. Anyone on the network may post one: it is bounded (16
# KiB, 256 waiting requests), checked for its first lines, and gets nothing but that line; only the operator's
# approval (scripts/enroll.sh) makes an answer. A request claiming an enrolled name with another key is refused and
# said in REQUESTS-DIR/../events (serve.sh prints it).
reqs=${1:?usage: enroll-cgi.sh REQUESTS-DIR ENROLLED-DIR} enrolled=${2:?usage: enroll-cgi.sh REQUESTS-DIR ENROLLED-DIR}
events=$reqs/../events
printf 'Content-Type: text/plain\r\n\r\n'
answer() { echo "$1"; exit 0; }
event() { echo "enroll: $(date -u +%FT%TZ) ${REMOTE_ADDR:-?}: $*" >> "$events"; }
[ "${REQUEST_METHOD:-}" = POST ] || answer "refused: POST a kiln enrollment request"
len=${CONTENT_LENGTH:-}
case $len in ''|*[!0-9]*) answer "refused: no Content-Length" ;; esac
[ "$len" -gt 0 ] && [ "$len" -le 16384 ] || answer "refused: a request is 1 to 16384 bytes, not $len"
[ "$(find "$reqs" -name '*.req' | wc -l)" -lt 256 ] || { event "refused a request: 256 wait already"; answer "refused: too many requests wait"; }
umask 022
tmp=$(mktemp "$reqs/.in.XXXXXX") || answer "refused: the build host cannot store it"
trap 'rm -f "$tmp"' EXIT
head -c "$len" > "$tmp"
[ "$(wc -c < "$tmp")" = "$len" ] || answer "refused: the request is shorter than its Content-Length"
[ "$(head -n 1 "$tmp")" = "kiln-enroll-request 1" ] || answer "refused: not a kiln enrollment request"
name=$(sed -n '2s/^name //p' "$tmp") role=$(sed -n '3s/^role //p' "$tmp") mac=$(sed -n '4s/^mac //p' "$tmp")
echo "$name" | grep -Eqx '[a-z0-9][a-z0-9-]{0,62}' && echo "$mac" | grep -Eqx '([0-9a-f]{2}:){5}[0-9a-f]{2}' &&
	case $role in master|node) true ;; *) false ;; esac || answer "refused: its name, role or MAC line is malformed"
fp=$(sha256sum < "$tmp" | cut -c1-64)
short=$(echo "$fp" | cut -c1-32 | sed 's/..../& /g; s/ $//')
new=; [ -f "$reqs/$fp.req" ] || new=1
chmod 644 "$tmp" # public keys: mktemp made it 0600
mv "$tmp" "$reqs/$fp.req"
[ -n "$new" ] && echo "${REMOTE_ADDR:-?} $(date -u +%FT%TZ)" > "$reqs/$fp.from"
approved=$(cut -c1-64 "$enrolled/$name" 2>/dev/null)
if [ -z "$approved" ]; then
	[ -z "$new" ] || event "$name ($role, $mac) asks to enroll, fingerprint $short: scripts/enroll.sh approve $name"
	answer "waiting: $name is not approved yet, fingerprint $short"
elif [ "$approved" = "$fp" ]; then
	answer "approved: $name"
else
	[ -z "$new" ] || event "REFUSED: $name ($role, $mac) with another key than the enrolled one: fingerprint $short, enrolled $(echo "$approved" | cut -c1-32)"
	answer "refused: $name is enrolled with another key; the operator is told"
fi
