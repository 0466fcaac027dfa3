# Sourced by tools/check and tools/quickstart: installs what the build needs
# from Debian's packages, only when missing. Node.js and npm come with the
# machine (NodeSource build); Debian's npm conflicts with it and is never installed.

phx_debian_packages=(
  build-essential cmake pkg-config
  libcaf-dev libwebsocketpp-dev rapidjson-dev
  libboost-test-dev libboost-system-dev libssl-dev openssl
  # permessage-deflate (transport/)
  zlib1g-dev
  # phx's prompt (BSD-licensed line editing), the API reference (target docs),
  # the man pages, and the checks of the Debian packages (test deb_packages).
  libedit-dev doxygen help2man lintian
  # phx-fleet's report: Chart.js inlined into report.html, and the headless
  # browser its test opens the report in (tools/fleet/report).
  libjs-chart.js chromium
)

# The fuzz step of tools/check: clang with libFuzzer (tests/fuzz/run).
phx_fuzz_packages=(clang libclang-rt-14-dev)

phx_install_deps() {
  local missing=()
  local pkg
  for pkg in "${phx_debian_packages[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs)
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "installing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures and builds into $1 with extra CMake arguments.
phx_build() {
  local build_dir=$1
  shift
  cmake -S "$phx_root" -B "$build_dir" "$@" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
}
