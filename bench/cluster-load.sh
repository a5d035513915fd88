#!/usr/bin/env bash
# cluster-load.sh measures a cluster of campfire nodes on this machine (or
# one node alone, for comparison) with campfire bench: it starts the
# nodes, waits until every CAMP port accepts, runs bench once per RUNS
# against all of them (connections spread round robin, every node's RSS
# and CPU sampled with -server-pid A,B,C), then stops the nodes with
# SIGTERM and checks that none is left. Each run starts fresh nodes.
#
#   NODES=3 CONNS=30000 RATE=5000 bench/cluster-load.sh      # 3 nodes
#   NODES=1 CONNS=10000 RATE=1667 bench/cluster-load.sh      # one node alone
#   NODES=3 CONNS=57000 RATE=500 PROCS=3 bench/cluster-load.sh  # 19,000 each
#
# With NODES=3 each node embeds a NATS server routed to the others, the
# camp's log is replicated on all three, in memory (as bench/cluster.sh).
# NODES=1 is a plain campfire serve (no cluster), unless CLUSTER1=1.
# The script holds /tmp/campfire-measure.lock from the first run to the
# last (keep RUNS short enough for the lock: 3 runs of 10 s take about
# 2 minutes). Reports go to OUT/run-N.txt and .json, node logs
# (stderr) to OUT/run-N-nK.log.
#
# Knobs (environment):
#   BIN         the campfire binary (default bin/campfire)
#   NODES       1 or more (default 3)
#   CONNS       connections over all nodes (default 30000)
#   RATE        messages per second offered over all nodes (default 5000)
#   PROCS       bench worker processes, each under 20,000 files (default
#               enough for 18,000 connections each)
#   DURATION    measured window (default 10s); WARMUP (default 1s)
#   RUNS        runs, each with fresh nodes (default 3)
#   IDS         the camp's ids (default J00001-J60000)
#   CAMP_BASE   the first CAMP port (default 23400)
#   ROUTE_BASE  the first NATS route port (default 23500)
#   CLUSTER1=1  with NODES=1: a cluster of one node
#   ARGS        more serve flags for every node
#   BENCH_ARGS  more bench flags
#   OUT         where reports and logs go (default bin/cluster-load)
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-bin/campfire}
NODES=${NODES:-3}
CONNS=${CONNS:-30000}
RATE=${RATE:-5000}
PROCS=${PROCS:-$(((CONNS + 17999) / 18000))}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
RUNS=${RUNS:-3}
IDS=${IDS:-J00001-J60000}
CAMP_BASE=${CAMP_BASE:-23400}
ROUTE_BASE=${ROUTE_BASE:-23500}
CLUSTER1=${CLUSTER1:-0}
ARGS=${ARGS:-}
BENCH_ARGS=${BENCH_ARGS:-}
OUT=${OUT:-bin/cluster-load}
LOCK=/tmp/campfire-measure.lock

if [ ! -x "$BIN" ]; then
	echo "cluster-load: $BIN not found: run make build first" >&2
	exit 1
fi
mkdir -p "$OUT"

pids=()
# stop sends every node one SIGTERM and waits for it.
stop() {
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
trap 'stop' EXIT
trap 'exit 130' INT TERM

# accepting waits up to 60 s for a TCP listener on 127.0.0.1:$1.
accepting() {
	for _ in $(seq 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

routes=""
for ((i = 0; i < NODES; i++)); do
	routes="$routes${routes:+,}127.0.0.1:$((ROUTE_BASE + i))"
done

exec 9>"$LOCK"
flock 9
for run in $(seq "$RUNS"); do
	addrs=""
	for ((i = 0; i < NODES; i++)); do
		port=$((CAMP_BASE + i))
		cluster=()
		if [ "$NODES" -gt 1 ] || [ "$CLUSTER1" = 1 ]; then
			cluster=(-cluster load -node "n$((i + 1))"
				-nats-route-listen "127.0.0.1:$((ROUTE_BASE + i))" -nats-routes "$routes")
		fi
		# shellcheck disable=SC2086 # ARGS is a list of flags
		"$BIN" serve -addr "127.0.0.1:$port" -http-addr "" -ids "$IDS" "${cluster[@]}" $ARGS \
			2>"$OUT/run-$run-n$((i + 1)).log" &
		pids+=($!)
		addrs="$addrs${addrs:+,}127.0.0.1:$port"
	done
	for ((i = 0; i < NODES; i++)); do
		if ! accepting $((CAMP_BASE + i)); then
			echo "cluster-load: node n$((i + 1)) never opened its CAMP port; see $OUT/run-$run-n$((i + 1)).log" >&2
			exit 1
		fi
	done
	pidlist=$(
		IFS=,
		echo "${pids[*]}"
	)
	echo "cluster-load: run $run: $NODES node(s) (pids $pidlist), $CONNS conns, $RATE msgs/s" >&2
	status=0
	# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
	"$BIN" bench -addr "$addrs" -ids "$IDS" -conns "$CONNS" -rate "$RATE" \
		-duration "$DURATION" -warmup "$WARMUP" -procs "$PROCS" -server-pid "$pidlist" \
		-json "$OUT/run-$run.json" $BENCH_ARGS >"$OUT/run-$run.txt" || status=$?
	cat "$OUT/run-$run.txt"
	echo "cluster-load: rss of the nodes after the run (kB): $(for pid in "${pids[@]}"; do awk '/VmRSS/ {printf "%s ", $2}' "/proc/$pid/status" 2>/dev/null; done)" >&2
	for pid in "${pids[@]}"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "cluster-load: node pid $pid died during run $run; see $OUT/run-$run-n*.log" >&2
			status=1
		fi
	done
	stop
	if [ "$status" != 0 ]; then
		echo "cluster-load: run $run failed ($status)" >&2
		exit "$status"
	fi
done
