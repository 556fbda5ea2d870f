#!/bin/sh
# Generate configure and Makefile.in; extra arguments go to configure.
set -e
srcdir=$(dirname "$0")
cd "$srcdir"
mkdir -p m4 build-aux
autoreconf -fi
cd - >/dev/null
if [ "$#" -gt 0 ] || [ -z "$NOCONFIGURE" ]; then
    "$srcdir/configure" "$@"
fi
