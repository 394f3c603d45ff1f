#!/bin/bash
# make demo (the 3-node failover story) must run to its end and show each
# step's outcome.
set -u
. "$(dirname "$0")/../demo_check.sh"
run_demo demo.sh 300
check "six clients listed" "^  6 clients"
check "survivors got the whole list" "reclaim list of the last GraceStart: 7 record(s)"
check "members enforcing" "ENFORCING"
check "fast-path lift" "lifted the grace on the fast"
check "a new leader" "is the new CTDB leader"
check "only the unreclaimed client purged" "^  5 clients"
check "story finished" "demo finished: every step behaved as described"
demo_summary
