#!/bin/bash
# The nfsdcltrack drop-in on its own: settings, failure modes, T36.
exec python3 "$(dirname "$0")/nfsdcltrack_dropin.py" "$@"
