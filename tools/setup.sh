#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing sipvoice need; only those missing.
# Works as root and through sudo. Usage: tools/setup.sh
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev
  # libsipvoice
  libasio-dev libssl-dev libopus-dev libspandsp-dev libsamplerate0-dev
  # tools and tests
  nlohmann-json3-dev catch2 libbenchmark-dev
  # sipvoice-agent (examples/agent): its TOML configuration, HTTP to the STT/LLM/TTS servers, the
  # offline speech recognizer with its English model, the offline speech synthesizer
  libtomlplusplus-dev libcurl4-openssl-dev libpocketsphinx-dev pocketsphinx-en-us flite1-dev
  # the agent's tools.timezone (IANA names under /usr/share/zoneinfo)
  tzdata
  # the agent's tests: the OpenAI-compatible test server (cpp-httplib), WAV building and checks (python3)
  libcpp-httplib-dev python3
  # the peer stacks the parser benchmark compares against
  libosip2-dev libsofia-sip-ua-dev libre-dev
  # interop tests (tests/interop/): a real registrar, SIP test clients, certificates, ss, pgrep/pkill
  kamailio kamailio-tls-modules kamailio-outbound-modules sipsak sip-tester openssl iproute2 procps
  # the DNS SRV interop test (tests/interop/cli_srv.sh): dnsmasq as the name server, without its service
  dnsmasq-base
  # call interop tests (tests/interop/call_*.sh): baresip as a headless softphone (its core package
  # only: no GUI, no GStreamer)
  baresip-core
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
