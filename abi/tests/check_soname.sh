#!/bin/sh
# The shared library's SONAME is libweft.so.0. Programs record the SONAME
# when they link, so a change here (a new major number) silently makes every
# built program look for another library: it must never happen by accident.
# usage: check_soname.sh LIBRARY
set -eu
lib=$1
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" != "libweft.so.0" ]; then
  echo "FAIL: SONAME of $lib is '$soname', expected libweft.so.0"
  exit 1
fi
echo "SONAME $soname"
