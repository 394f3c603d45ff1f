#!/bin/bash
# make demo-single must tell its story to the end: run it, check each step.
set -u
. "$(dirname "$0")/../demo_check.sh"
run_demo demo-single.sh 120
check "first start: no grace" "start: cld v2, over, 0 reclaim records"
check "restart sends the reclaim list" "restart: cld v2, in grace, 2 reclaim records"
check "early grace end" "grace-wait: grace over after 0"
check "unreclaimed client purged" "^1 client$"
check "group commit" "batch_max                64"
check "story finished" "demo finished: every step behaved as described"
demo_summary
