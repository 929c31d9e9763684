#!/usr/bin/env bash
# Everything the package build declares is installed: scripts/dev test
# installs what packaging/debian/control (and dpkg-buildpackage's own
# build-essential) asks for, so the deb test cannot stop at "Unmet build
# dependencies" on a minimal system.  A new Build-Depends that scripts/dev
# cannot satisfy fails here first.
set -euo pipefail
: "${SRCDIR:?}"
command -v dpkg-checkbuilddeps >/dev/null || { echo "SKIP: no dpkg-checkbuilddeps (dpkg-dev)"; exit 77; }
if out=$(dpkg-checkbuilddeps "$SRCDIR/packaging/debian/control" 2>&1); then
	echo "ok 1 - every build dependency of the package is installed"
else
	echo "not ok 1 - $out"
	exit 1
fi
