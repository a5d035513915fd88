#!/usr/bin/env bash
# compare.sh runs the same peers load against campfire (gnet) and against
# the conventional baseline server (stdlib net, a goroutine per connection),
# each server in a fresh process for every run, and prints the figures side
# by side: the median of the repeated runs with their range, the ratios to
# the conventional server, every run on its own line with the hypervisor
# steal during it, and the goals. It also writes one self-contained HTML
# page with the latency percentile spectrum, latency and throughput over
# time, every server overlaid. Run it from anywhere (make compare runs it
# from the repository root). Everything it starts is stopped on exit; load
# goes to loopback only.
#
# Knobs (environment):
#   CONNS RATE DURATION WARMUP SIZE SOURCES IDS  the load (bench's flags)
#   DEPTH    messages in flight per sender with RATE=0 (closed loop;
#            default 1): CONNS=1000 RATE=0 DEPTH=8 is the saturated load
#   LOOPS    campfire's -loops, one server per value: LOOPS="1 2" (default 1)
#   REPEAT   runs of each server, interleaved (default 3)
#   PROCS    harness worker processes (bench -procs, default 1)
#   HTML     the report page (default $OUT/report.html; HTML= for none)
#   PROFILE  1: campfire writes a CPU profile per run (which costs it a
#            little, so it is off for the figures)
#   QUIET    before each run, wait up to this many seconds (default 120)
#            for the machine to be quiet: under 15% of its CPU busy over 2
#            seconds. Other programs' CPU during the window shows in the
#            report as "others' CPU %" either way.
#   CAMP_PORT BASE_PORT OUT
# Exit status: 0 if every campfire meets every goal (p50 ≤ 1 ms, p99 at
# most the conventional server's, CPU per delivery at most 0.85× its, RSS
# per connection under 1024 B), 3 if not, anything else on failure.
set -euo pipefail

cd "$(dirname "$0")/.."
CONNS=${CONNS:-10000}
RATE=${RATE:-20000}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-2s}
SIZE=${SIZE:-64}
DEPTH=${DEPTH:-1}
SOURCES=${SOURCES:-127.0.0.2-127.0.0.40}
IDS=${IDS:-J00001-J50000}
LOOPS=${LOOPS:-1}
REPEAT=${REPEAT:-3}
PROCS=${PROCS:-1}
PROFILE=${PROFILE:-0}
QUIET=${QUIET:-120}
CAMP_PORT=${CAMP_PORT:-24022}
BASE_PORT=${BASE_PORT:-24023}
OUT=${OUT:-bin/compare}
HTML=${HTML-$OUT/report.html}
BIN=bin/campfire

case "$REPEAT" in
'' | *[!0-9]* | 0) echo "compare: REPEAT=$REPEAT: want a count of 1 or more" >&2; exit 2 ;;
esac
read -r -a loops <<<"$LOOPS"
if [ "${#loops[@]}" = 0 ]; then
	echo "compare: LOOPS is empty: want one or more loop counts, such as LOOPS=\"1 2\"" >&2
	exit 2
fi

mkdir -p "$OUT"
go build -o "$BIN" .

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "$CAMP_PORT" "$BASE_PORT"; do
	if ! port_free "$p"; then
		echo "compare: port $p on 127.0.0.1 is in use; set CAMP_PORT/BASE_PORT" >&2
		exit 1
	fi
done

server_pid=
stop_server() {
	if [ -n "$server_pid" ]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
trap stop_server EXIT INT TERM

# wait_listening PORT: poll until the server accepts, bounded.
wait_listening() {
	for _ in $(seq 100); do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "compare: server on port $1 exited at start" >&2
			exit 1
		fi
		if ! port_free "$1"; then
			return 0
		fi
		sleep 0.1
	done
	echo "compare: server on port $1 did not start listening" >&2
	exit 1
}

# wait_free PORT: poll until the last server's port is closed, bounded.
wait_free() {
	for _ in $(seq 100); do
		if port_free "$1"; then
			return 0
		fi
		sleep 0.1
	done
	echo "compare: port $1 is still in use after the server stopped" >&2
	exit 1
}

# busy_pct: the share of the machine's CPU busy over the next 2 seconds.
busy_pct() {
	local a b
	read -r -a a < <(grep '^cpu ' /proc/stat)
	sleep 2
	read -r -a b < <(grep '^cpu ' /proc/stat)
	local total=0 idle i
	for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
	idle=$((b[4] - a[4] + b[5] - a[5]))
	echo $(((total - idle) * 100 / (total > 0 ? total : 1)))
}

# wait_quiet: wait, at most QUIET seconds, until other programs leave the
# machine quiet, so that a run measures the server and not them.
wait_quiet() {
	local waited=0 busy
	busy=$(busy_pct)
	while [ "$busy" -ge 15 ] && [ "$waited" -lt "$QUIET" ]; do
		busy=$(busy_pct)
		waited=$((waited + 2))
	done
	echo "machine ${busy}% busy before the run (waited ${waited}s for it to be quiet)"
}

# bench NAME PORT FILE: the load against the running server.
bench() {
	local load="$RATE msgs/s offered"
	if [ "$RATE" = 0 ]; then
		load="closed loop, $DEPTH in flight per sender"
	fi
	echo "== $1, run $run of $REPEAT: $CONNS connections, groups of 4, $load, $DURATION after $WARMUP warmup"
	wait_quiet
	echo "load average before the run$(uptime | sed 's/.*load average//')"
	"$BIN" bench -scenario peers -addr "127.0.0.1:$2" -ids "$IDS" -conns "$CONNS" -rate "$RATE" -depth "$DEPTH" \
		-size "$SIZE" -duration "$DURATION" -warmup "$WARMUP" -sources "$SOURCES" -procs "$PROCS" \
		-server-pid "$server_pid" -json "$3"
	echo
}

spec=()
for run in $(seq "$REPEAT"); do
	for l in "${loops[@]}"; do
		name="campfire -loops $l"
		file="$OUT/campfire-l$l-$run.json"
		profile=()
		if [ "$PROFILE" = 1 ]; then
			profile=(-cpuprofile "$OUT/campfire-l$l-$run.cpu")
		fi
		wait_free "$CAMP_PORT"
		"$BIN" serve -addr "127.0.0.1:$CAMP_PORT" -ids "$IDS" -max-conns $((CONNS + 100)) -loops "$l" \
			"${profile[@]}" 2>"$OUT/campfire-l$l-$run.log" &
		server_pid=$!
		wait_listening "$CAMP_PORT"
		bench "$name" "$CAMP_PORT" "$file"
		stop_server
		spec+=("$name=$file")
	done
	file="$OUT/conventional-$run.json"
	wait_free "$BASE_PORT"
	"$BIN" bench -serve-baseline -addr "127.0.0.1:$BASE_PORT" -ids "$IDS" -max-conns $((CONNS + 100)) \
		2>"$OUT/conventional-$run.log" &
	server_pid=$!
	wait_listening "$BASE_PORT"
	bench conventional "$BASE_PORT" "$file"
	stop_server
	spec+=("conventional=$file")
done

echo "== side by side (ratio = campfire / conventional)"
status=0
"$BIN" bench -compare "$(IFS=,; echo "${spec[*]}")" -html "$HTML" || status=$?

if [ "$status" = 3 ]; then
	echo
	if [ "$PROFILE" = 1 ]; then
		for l in "${loops[@]}"; do
			echo "== a goal was missed; where campfire -loops $l spent its CPU (run 1, from $OUT/campfire-l$l-1.cpu):"
			go tool pprof -top -nodecount=25 "$BIN" "$OUT/campfire-l$l-1.cpu" 2>/dev/null | head -n 32 || true
		done
	else
		echo "== a goal was missed; run with PROFILE=1 to see where campfire spends its CPU"
	fi
fi
exit "$status"
