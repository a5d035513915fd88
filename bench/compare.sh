#!/usr/bin/env bash
# compare.sh runs the same peers load against campfire (gnet) and against
# the conventional baseline server (stdlib net, a goroutine per connection),
# each in its own process, and prints the figures side by side with their
# ratios. Run it from anywhere (make compare runs it from the repository
# root). Everything it starts is stopped on exit; load goes to loopback only.
#
# Knobs (environment): CONNS RATE DURATION WARMUP SIZE SOURCES IDS
# LOOPS (campfire's -loops) PROFILE (1: campfire writes a CPU profile, which
# costs it a little, so it is off for the figures) CAMP_PORT BASE_PORT OUT. Exit status: 0 if both goals are met, 3 if not,
# anything else on failure.
set -euo pipefail

cd "$(dirname "$0")/.."
CONNS=${CONNS:-10000}
RATE=${RATE:-20000}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-2s}
SIZE=${SIZE:-64}
SOURCES=${SOURCES:-127.0.0.2-127.0.0.40}
IDS=${IDS:-J00001-J50000}
LOOPS=${LOOPS:-1}
PROFILE=${PROFILE:-0}
CAMP_PORT=${CAMP_PORT:-24022}
BASE_PORT=${BASE_PORT:-24023}
OUT=${OUT:-bin/compare}
BIN=bin/campfire

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

pids=()
stop_all() {
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap stop_all EXIT INT TERM

# wait_listening PORT PID: poll until the server accepts, bounded.
wait_listening() {
	for _ in $(seq 100); do
		if ! kill -0 "$2" 2>/dev/null; then
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

profile=()
if [ "$PROFILE" = 1 ]; then
	profile=(-cpuprofile "$OUT/campfire.cpu")
fi
"$BIN" serve -addr "127.0.0.1:$CAMP_PORT" -ids "$IDS" -max-conns $((CONNS + 100)) -loops "$LOOPS" \
	"${profile[@]}" 2>"$OUT/campfire.log" &
pids+=($!)
camp_pid=$!
"$BIN" bench -serve-baseline -addr "127.0.0.1:$BASE_PORT" -ids "$IDS" -max-conns $((CONNS + 100)) \
	2>"$OUT/baseline.log" &
pids+=($!)
base_pid=$!
wait_listening "$CAMP_PORT" "$camp_pid"
wait_listening "$BASE_PORT" "$base_pid"

run() { # NAME PORT PID
	echo "== $1: $CONNS connections, groups of 4, $RATE msgs/s offered, $DURATION after $WARMUP warmup"
	echo "load average before the run$(uptime | sed 's/.*load average//')"
	"$BIN" bench -scenario peers -addr "127.0.0.1:$2" -ids "$IDS" -conns "$CONNS" -rate "$RATE" \
		-size "$SIZE" -duration "$DURATION" -warmup "$WARMUP" -sources "$SOURCES" \
		-server-pid "$3" -json "$OUT/$1.json"
	echo
}
echo "campfire runs with -loops $LOOPS"
run campfire "$CAMP_PORT" "$camp_pid"
run conventional "$BASE_PORT" "$base_pid"

echo "== side by side (ratio = campfire / conventional)"
status=0
"$BIN" bench -compare "campfire=$OUT/campfire.json,conventional=$OUT/conventional.json" || status=$?

# Stop the servers now so that campfire writes its CPU profile.
trap - EXIT INT TERM
stop_all
if [ "$status" = 3 ]; then
	echo
	if [ "$PROFILE" = 1 ]; then
		echo "== a goal was missed; where campfire spent its CPU (whole run, from $OUT/campfire.cpu):"
		go tool pprof -top -nodecount=25 "$BIN" "$OUT/campfire.cpu" 2>/dev/null | head -n 32 || true
	else
		echo "== a goal was missed; run with PROFILE=1 to see where campfire spends its CPU"
	fi
fi
exit "$status"
