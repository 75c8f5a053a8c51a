#!/usr/bin/env bash
# The demo: a real concierge-server on a free loopback port (embedded SQLite, demo data), and the
# real concierge CLI as Anna's phone, Ben's desk (agent), Sue's tablet (supervisor) and Tom's
# tablet (field technician), each with a replica file of its own.
#   usage: tools/scripts/demo.sh [bin-folder]   (default .build/debug; `make demo` builds first)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-.build/debug}"
work="$(mktemp -d "${TMPDIR:-/tmp}/concierge-demo.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/concierge-server" serve --data "$work/server" --port 0 --port-file "$work/port" --demo \
  >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$work/port")/"
code() { awk -v who="$1:" '$3 == who { print $NF }' "$work/server.out"; }

if [ -t 1 ]; then bold=$'\033[1m' dim=$'\033[2m' plain=$'\033[0m'; else bold="" dim="" plain=""; fi
say() { printf '\n'; for line in "$@"; do printf '%s%s%s\n' "$bold" "$line" "$plain"; done; }
run() {  # run <who> <args...>: one person's CLI, each on their own replica folder
  local who="$1"; shift
  printf '  %s%s$ concierge %s%s\n' "$dim" "$who" "$*" "$plain"
  CONCIERGE_HOME="$work/$who" "$bin/concierge" "$@" | sed 's/^/    /'
}
quiet() { local who="$1"; shift; CONCIERGE_HOME="$work/$who" "$bin/concierge" "$@"; }

say "1. A Concierge server runs on $url with the demo provider ACME Telecom." \
  "   Anna enrols her phone, Ben (agent) his desk, Sue (supervisor) her tablet and Tom (field technician) his," \
  "   each with a one-time code the provider issued."
run phone account add "$url" --code "$(code anna)" --name anna@acme
run desk account add "$url" --code "$(code ben)" --name ben@acme
run sue account add "$url" --code "$(code sue)" --name sue@acme
run tom account add "$url" --code "$(code tom)" --name tom@acme

say "2. Anna opens a case from her phone and syncs. She never types a customer number: her enrolled phone proves who she is."
case_id="$(quiet phone case new --subject "Internet drops every evening" \
  --message "Since Monday the connection drops around 8pm, every day." | head -1)"
short="${case_id:0:8}"
echo "    case $case_id (commands take its first characters: $short)"
run phone sync
run desk sync
run desk inbox
run sue sync

say "3. Anna's phone goes offline (no sync from here on). Everyone keeps working:" \
  "   Anna replies on her phone; Ben takes the case, writes an internal note, sets the priority to high and" \
  "   hands off to Tom with what he knows; Sue, on the floor with her tablet, sets the priority to urgent" \
  "   without having seen Ben's change."
run phone case reply "$short" "It happened again just now, and the router's light turned red."
run phone status
run desk case status "$short" open
run desk case note "$short" "Line test shows noise on pair 2. Likely the street cabinet."
run desk case set "$short" priority high
quiet desk case handoff "$short" tom --summary "Evening drops since Monday, noise on pair 2; customer verified via app" \
  --reason "needs a field visit" >/dev/null
echo "  desk\$ concierge case handoff $short tom --summary \"Evening drops since Monday, noise on pair 2; ...\""
run sue case set "$short" priority urgent

say "4. Ben and Sue sync. Then Anna's phone comes back online and syncs, and everyone syncs once more."
run desk sync
run sue sync
run phone sync
run desk sync
run sue sync
run tom sync

say "5. The merged case as Ben's desk sees it (staff: internal notes included)."
run desk case show "$short"

say "6. The same case on Anna's phone: her reply is there, the internal note is not."
run phone case show "$short"

say "7. Tom's tablet: the case arrived whole when it was handed to him, with Ben's summary."
run tom inbox

cat <<'TEXT'

What happened:
  - One timeline: Anna's messages, Ben's work and the handoff to Tom are one case that every device shares.
    Anna's messages say "verified": they came from her enrolled phone, so nobody asks for her customer number.
  - Anna wrote while offline; her reply arrived when her phone synced. Nothing was lost, nothing asked twice.
  - Ben and Sue set the priority at the same time without seeing each other's change. Every device shows
    that, and all keep the same value: the later write ("concurrent edit" above).
  - Ben's internal note is on the staff's replicas only: the server never sends it to a customer.
TEXT
