#!/bin/sh
# Valid JSON lines, for ever: only the output limit stops it.
exec yes '{"say": "spam"}'
