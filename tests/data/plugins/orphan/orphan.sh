#!/bin/sh
# Answers and exits at once, but leaves a background process that still holds stdout: the runner
# must not wait for that process's end of file, and must not let it run on.
cat >/dev/null
sleep 30 &
echo "pid $!" >&2
echo '{"say": "I left a child behind."}'
