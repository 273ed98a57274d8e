#!/bin/sh
# Runs far past its time limit, with a child in its process group: the runner must kill both. The
# pids go to stderr for the test to look at afterwards.
sleep 30 &
echo "pids $$ $!" >&2
wait
