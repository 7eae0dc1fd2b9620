#!/bin/sh
# repro.sh: builds the images a second time into separate folders and compares every output byte for byte.
. "$(dirname "$0")/lib.sh"
exec prove -v "$KILN_TOP/tests/system/50-repro.t"
