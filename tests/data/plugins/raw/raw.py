#!/usr/bin/env python3
# Prints its "stdout" argument verbatim (bytes, through latin-1, so that any byte can be asked for),
# its "stderr" argument to stderr, and exits with "status".
import json
import sys

args = json.load(sys.stdin)
sys.stdout.buffer.write(args["stdout"].encode("latin-1"))
sys.stderr.buffer.write(args.get("stderr", "").encode("latin-1"))
sys.exit(args.get("status", 0))
