#!/bin/bash
# Differential test: Debian's /sbin/nfsdcltrack against our drop-in.
# The driver is nfsdcltrack_diff.py beside this file; see its header.
exec python3 "$(dirname "$0")/nfsdcltrack_diff.py" "$@"
