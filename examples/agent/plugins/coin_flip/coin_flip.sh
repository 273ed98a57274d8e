#!/bin/sh
# coin_flip: a sipvoice-agent plugin in plain POSIX sh (the contract is examples/agent/PLUGINS.md).
#
# Reads {"count": 3} on stdin (optional) and prints {"say": "..."} on stdout. Try it by hand:
#
#     echo '{"count": 3}' | ./coin_flip.sh
#
# sh has no JSON parser, and needs none here: the agent checks the arguments against the manifest's
# schema first (count: an integer from 1 to 10, nothing else) and sends them as one compact line,
# so a pattern for the one number is enough. A plugin with richer arguments is easier in python3.
set -eu

args=$(cat)
count=$(printf '%s\n' "$args" | sed -n 's/.*"count"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
count=${count:-1}
if [ "$count" -lt 1 ] || [ "$count" -gt 10 ]; then
    echo '{"error": "count must be a whole number from 1 to 10"}'
    exit 0
fi

# One random byte per coin from the kernel; its lowest bit is the side.
heads=0
sides=""
for byte in $(od -An -N"$count" -tu1 /dev/urandom); do
    if [ $((byte % 2)) -eq 0 ]; then side=heads; heads=$((heads + 1)); else side=tails; fi
    sides="${sides:+$sides, }$side"
done

# "3 heads", "1 head".
counted() {
    if [ "$1" -eq 1 ]; then printf '1 %s' "$2"; else printf '%d %ss' "$1" "$2"; fi
}

# A sentence starts with a capital letter: "Heads." / "Tails, heads, heads: 2 heads and 1 tail."
said=$(printf '%s' "$sides" | cut -c1 | tr '[:lower:]' '[:upper:]')$(printf '%s' "$sides" | cut -c2-)
if [ "$count" -eq 1 ]; then
    printf '{"say": "%s."}\n' "$said"
else
    printf '{"say": "%s: %s and %s."}\n' "$said" "$(counted "$heads" head)" "$(counted $((count - heads)) tail)"
fi
