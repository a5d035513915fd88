#!/usr/bin/env bash
# cluster.sh runs three campfire nodes of one camp on this machine, in the
# foreground, every line of their logs prefixed with the node's name.
# Ctrl-C (or SIGTERM) stops all three the way SIGTERM stops one node: each
# says SHUTDOWN to its campers, checks them out and leaves the camp. If one
# node stops by itself (a port taken, say), the others are stopped too.
# make cluster builds campfire and runs this from the repository root.
#
#   node  CAMP  side port  NATS routes (loopback)
#   n1    2022  2080       6222
#   n2    2023  2081       6223
#   n3    2024  2082       6224
#
# Each node embeds a NATS server with JetStream, routed to the other two;
# the camp's log is replicated on all three, in memory.
#
# Knobs (environment):
#   BIN         the campfire binary (default bin/campfire)
#   HOST        where CAMP and the side ports listen (default 0.0.0.0 for
#               CAMP, as make run; the side ports stay on 127.0.0.1)
#   SIDE=0      no side ports
#   CAMP_BASE   the first CAMP port (default 2022)
#   SIDE_BASE   the first side port (default 2080)
#   CLUSTER     the cluster's name (default camp)
#   ROUTE_BASE  the first NATS route port (default 6222)
#   ARGS        more serve flags for every node, e.g.
#               ARGS="-ids J00001-J50000 -log-level debug"
set -euo pipefail
# Job control puts each node in a process group of its own, so Ctrl-C
# reaches only this script, which then sends each node one SIGTERM (a
# second signal would stop a node before it has checked its campers out).
set -m

cd "$(dirname "$0")/.."
BIN=${BIN:-bin/campfire}
HOST=${HOST:-0.0.0.0}
SIDE=${SIDE:-1}
CLUSTER=${CLUSTER:-camp}
ROUTE_BASE=${ROUTE_BASE:-6222}
CAMP_BASE=${CAMP_BASE:-2022}
SIDE_BASE=${SIDE_BASE:-2080}
ARGS=${ARGS:-}

if [ ! -x "$BIN" ]; then
	echo "cluster: $BIN not found: run make build first (make cluster does)" >&2
	exit 1
fi

routes=""
for i in 0 1 2; do
	routes="$routes${routes:+,}127.0.0.1:$((ROUTE_BASE + i))"
done

for i in 0 1 2; do
	name="n$((i + 1))"
	side=""
	if [ "$SIDE" != 0 ]; then
		side="127.0.0.1:$((SIDE_BASE + i))"
	fi
	# shellcheck disable=SC2086 # ARGS is a list of flags
	"$BIN" serve -addr "$HOST:$((CAMP_BASE + i))" -http-addr "$side" \
		-cluster "$CLUSTER" -node "$name" \
		-nats-route-listen "127.0.0.1:$((ROUTE_BASE + i))" -nats-routes "$routes" \
		$ARGS 2>&1 |
		# The prefixer outlives the signals: if it died first, the node's
		# next log line would kill the node with SIGPIPE mid-shutdown.
		(trap '' INT TERM && exec sed -u "s/^/$name  /") &
done
set +m # the nodes keep their process groups; no "Done" notices
echo "cluster: $CLUSTER on CAMP ports $CAMP_BASE-$((CAMP_BASE + 2))${side:+, side ports $SIDE_BASE-$((SIDE_BASE + 2))}; Ctrl-C stops it" >&2

# stop sends every node one SIGTERM, waits for all of them and exits with
# status $1.
stop() {
	trap '' INT TERM # a second Ctrl-C changes nothing: the nodes are leaving
	echo "cluster: stopping the three nodes" >&2
	for group in $(jobs -p); do
		kill -TERM -- "-$group" 2>/dev/null || true
	done
	wait
	exit "$1"
}
trap 'stop 0' INT TERM

# Until a signal (stop runs and exits) or a node ends by itself.
wait -n || true
echo "cluster: a node stopped by itself; stopping the others" >&2
stop 1
