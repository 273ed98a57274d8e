#!/usr/bin/env bash
# sipvoice-agent's command line: --help; --check-config on agent.example.toml (exit 0, secrets from the
# environment never printed); a typo in agent.toml or a bad value in the .env beside it is one error
# line naming the key, exit 2; --say writes a WAV with the offline voice. Runs with a clean
# environment so the caller's SIP_* / OPENAI_* variables do not interfere.
# Usage: agent_check_config.sh SIPVOICE_AGENT EXAMPLE_TOML
set -euo pipefail
agent=$1 example=$2
dir=$(mktemp -d /tmp/sipvoice-agent-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; for f in "$dir"/out "$dir"/err; do echo "--- $f"; cat "$f" 2>/dev/null || true; done; exit 1; }
run() {  # run [VAR=value...] -- args...: a clean environment plus the given variables
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  rc=0
  env -i PATH="$PATH" "${vars[@]}" "$agent" "$@" >"$dir/out" 2>"$dir/err" || rc=$?
}

run -- --help
[ "$rc" = 0 ] || fail "--help exited $rc"
grep -q -- '--check-config' "$dir/out" || fail "--help does not list --check-config"
grep -q -- '--config FILE' "$dir/out" || fail "--help does not list --config"

password=cli-test-password-4711 key=sk-cli-test-0123456789abcdefQRST
run SIP_REGISTRAR=sip:127.0.0.1 SIP_USER=1002 SIP_PASSWORD=$password OPENAI_API_KEY=$key LLM_BACKEND=openai \
    OPENAI_BASE_URL=http://127.0.0.1:11434/v1 -- --check-config --config "$example"
[ "$rc" = 0 ] || fail "--check-config on the example exited $rc"
[ ! -s "$dir/err" ] || fail "--check-config on the example wrote to stderr"
grep -q 'cli-test-password' "$dir/out" && fail "the password was printed"
grep -q '0123456789abcdef' "$dir/out" && fail "the API key was printed"
grep -q '^password = "\*\*\*" *# env SIP_PASSWORD$' "$dir/out" || fail "no masked password line"
grep -q '^api_key = "\*\*\*QRST" *# env OPENAI_API_KEY$' "$dir/out" || fail "no masked API key line"
grep -q '^registrar = "sip:127.0.0.1" *# env SIP_REGISTRAR$' "$dir/out" || fail "SIP_REGISTRAR not shown as from env"
grep -q '^expires = 600 *# file .*agent.example.toml:[0-9]*$' "$dir/out" || fail "file values not shown with their line"
grep -q '^mode = "register" *# default' "$dir/out" || fail "mode not derived from the registrar"

cd "$dir"
printf '[sip]\nregistar = "sip:pbx.example.com"\n' >agent.toml
run -- --check-config --config "$dir/agent.toml"
[ "$rc" = 2 ] || fail "a typo exited $rc, expected 2"
[ "$(wc -l <"$dir/err")" = 1 ] || fail "a typo gave not exactly one error line"
[ "$(cat "$dir/err")" = "$dir/agent.toml:2: unknown key 'sip.registar' (did you mean 'sip.registrar'?)" ] ||
  fail "unexpected error line"
[ ! -s "$dir/out" ] || fail "an invalid configuration printed something on stdout"

# ./agent.toml is the default; the .env beside it is read.
printf '[sip]\nuser = "1002"\n' >agent.toml
printf 'SIP_TRANSPORT=ftp\n' >.env
run -- --check-config
[ "$rc" = 2 ] || fail "a bad .env value exited $rc, expected 2"
[ "$(cat "$dir/err")" = ".env:1: SIP_TRANSPORT=ftp: must be udp, tcp or tls" ] || fail "unexpected .env error line"
run SIP_TRANSPORT=tcp -- --check-config  # the real environment wins: the .env value is not used
[ "$rc" = 0 ] || fail "the environment did not override the .env value (exit $rc)"
grep -q '^user = "1002" *# file agent.toml:2$' "$dir/out" || fail "./agent.toml not read by default"
grep -q '^transport = "tcp" *# env SIP_TRANSPORT$' "$dir/out" || fail "SIP_TRANSPORT from the environment not shown"
rm .env

run SIP_TRANSPORT=ftp -- --check-config
[ "$rc" = 2 ] || fail "a bad environment value exited $rc"
[ "$(cat "$dir/err")" = "SIP_TRANSPORT=ftp: must be udp, tcp or tls" ] || fail "unexpected environment error line"

run -- --check-config --config "$dir/missing.toml"
[ "$rc" = 2 ] || fail "a missing config file exited $rc"
grep -q "missing.toml: cannot read" "$dir/err" || fail "no clear message for a missing file"

run -- --frobnicate
[ "$rc" = 2 ] || fail "an unknown option exited $rc"

# --say synthesizes with the configured voice (offline by default) into a 16 kHz WAV.
run -- --say
[ "$rc" = 2 ] || fail "--say without text exited $rc, expected 2"
run -- --say "What time is it?"
[ "$rc" = 2 ] || fail "--say without --output exited $rc, expected 2"
run -- --say "What time is it?" --output "$dir/say.wav"
[ "$rc" = 0 ] || fail "--say exited $rc"
grep -q '^wrote .* seconds=' "$dir/out" || fail "--say did not say what it wrote"
size=$(stat -c %s "$dir/say.wav")
[ "$size" -gt 16000 ] || fail "--say wrote only $size bytes"
echo "ok: sipvoice-agent --help, --check-config, --say, errors and exit codes"
