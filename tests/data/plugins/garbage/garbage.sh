#!/bin/sh
# Not JSON at all.
cat >/dev/null
echo 'Hello! I am not JSON, {"say": "almost"'
