#!/bin/sh
# Fails the way programs do: a reason on stderr, a non-zero exit status, and output to ignore.
cat >/dev/null
echo '{"say": "this must not be spoken"}'
echo 'fails: checking the disk' >&2
echo 'fails: the disk is on fire' >&2
exit 3
