#!/usr/bin/env python3
# A well-behaved plugin: one JSON object in, one out, in the form the "mode" argument asks for.
import json
import os
import sys

args = json.load(sys.stdin)
mode = args["mode"]
if mode == "say":
    reply = {"say": "Hello, " + args.get("who", "world") + "!"}
elif mode == "string":
    reply = {"result": "count is " + str(args.get("count", 0))}
elif mode == "object":
    reply = {"result": {"echo": args, "list": [1, 2, 3]}}
elif mode == "error":
    reply = {"error": "the answer is not known"}
else:
    reply = {"result": {"cwd": os.getcwd(), "env": dict(os.environ), "argv": sys.argv}}
print(json.dumps(reply))
