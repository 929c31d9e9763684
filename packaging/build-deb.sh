#!/usr/bin/env bash
# Build the nlhook .deb from a source tree without touching it:
#   packaging/build-deb.sh OUTDIR [SRCDIR]
# copies the tree (the files git knows, or everything but build dirs),
# puts packaging/debian at debian/, runs dpkg-buildpackage -us -uc -b there
# and leaves the .deb, .buildinfo and .changes in OUTDIR.
set -euo pipefail

out=${1:?usage: build-deb.sh OUTDIR [SRCDIR]}
src=${2:-$(cd "$(dirname "$0")/.." && pwd)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/nlhook-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT

version=$(sed -n "s/^\s*version: '\([^']*\)'.*/\1/p" "$src/meson.build" | head -n 1)
tree="$work/nlhook-$version"
mkdir "$tree"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked and new files as they are in the work tree; not build dirs.
	(cd "$src" && git ls-files -z -co --exclude-standard | grep -zv '^build' |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -cf - -T -) | tar -xf - -C "$tree"
else
	(cd "$src" && tar --exclude='./build*' --exclude=./debian -cf - .) | tar -xf - -C "$tree"
fi
rm -rf "$tree/debian"
cp -r "$tree/packaging/debian" "$tree/debian"

(cd "$tree" && dpkg-buildpackage -us -uc -b)
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
ls "$out"/*.deb
