#!/bin/sh
# Never reads stdin, and writes more than a pipe holds (64 KiB) before it exits. A runner that wrote
# all of the arguments before reading would wait for this plugin to read while it waits to write.
printf '{"result": "'
head -c 100000 /dev/zero | tr '\0' 'x'
printf '"}\n'
