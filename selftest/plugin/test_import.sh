#!/bin/bash
# cltrack import/export and the list filters; see import_test.py.
exec python3 "$(dirname "$0")/import_test.py" "$@"
