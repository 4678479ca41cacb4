#!/bin/sh
# The anchormix image's entrypoint in a Dagster run pod: join the RayCluster as a node with no CPUs (it
# schedules no tasks, it only drives), so `[engine] address = "auto"` finds the cluster. Ray Data needs
# its driver on a node of the cluster; the Ray Client (ray://) cannot run it in Ray 2.60.
set -e
if [ -n "$RAY_HEAD_ADDRESS" ]; then
    ray start --address="$RAY_HEAD_ADDRESS" --num-cpus=0
fi
exec "$@"
