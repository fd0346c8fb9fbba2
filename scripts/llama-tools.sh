#!/usr/bin/env bash
# Build llama.cpp's own tools (llama-server, llama-bench, llama-perplexity,
# llama-quantize), the peers the serving and inference benchmarks measure
# modelgate against, into a cache outside the repository, and print their bin
# dir. Idempotent: nothing is fetched or built when the binaries are there.
#
# No binary of them can be fetched here, but the llama-cpp-python sdist on PyPI
# vendors all of llama.cpp (vendor/llama.cpp, tools included). pip prepares the
# sdist's metadata when downloading it, which needs scikit-build-core and cmake:
# a small venv inside the cache holds the former. About 8 minutes on 2 cores.
#
#   MODELGATE_LLAMA_TOOLS  where to put them (default: ~/.cache/modelgate/llama-tools)
#   LLAMA_TOOLS_JOBS       parallel compile jobs (default: 2)
set -euo pipefail
version=0.3.36
tools=${MODELGATE_LLAMA_TOOLS:-$HOME/.cache/modelgate/llama-tools}
bin="$tools/bin"
targets=(llama-server llama-bench llama-perplexity llama-quantize)

have_all() {
  local t
  for t in "${targets[@]}"; do [ -x "$bin/$t" ] || return 1; done
}
if have_all; then
  echo "$bin"
  exit 0
fi
command -v cmake >/dev/null || { echo "llama-tools: cmake is needed (apt-get install -y cmake)" >&2; exit 1; }
mkdir -p "$tools"

sdist="$tools/sdist/llama_cpp_python-$version.tar.gz"
if [ ! -f "$sdist" ]; then
  venv="$tools/fetch-venv"
  if [ ! -x "$venv/bin/python" ]; then
    echo "llama-tools: creating $venv (scikit-build-core, to prepare the sdist's metadata)" >&2
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check scikit-build-core==1.1.2 >&2
  fi
  echo "llama-tools: downloading the llama-cpp-python==$version sdist" >&2
  "$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation --no-binary :all: --dest "$tools/sdist" "llama-cpp-python==$version" >&2
fi

src="$tools/src/llama_cpp_python-$version"
if [ ! -f "$src/vendor/llama.cpp/CMakeLists.txt" ]; then
  rm -rf "$tools/src" && mkdir -p "$tools/src"
  tar -xzf "$sdist" -C "$tools/src"
fi

# The same instruction set as modelgate's own llama.cpp (.cargo/config.toml:
# x86-64-v3, so AVX2/FMA/F16C, no AVX-512), so a comparison measures the
# serving stacks, not the kernels. Static libraries, so the binaries can be
# copied out of the build tree; no web
# UI (the server answers the API without it, and the prebuilt assets would be a
# download), no curl/OpenSSL (models come from local files), no tests or examples.
build="$tools/build"
echo "llama-tools: building ${targets[*]} in $build (nice'd; ~8 min on 2 cores)" >&2
cmake -S "$src/vendor/llama.cpp" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON >&2
nice -n 19 cmake --build "$build" -j "${LLAMA_TOOLS_JOBS:-2}" --target "${targets[@]}" >&2

mkdir -p "$bin"
for t in "${targets[@]}"; do
  install -m 0755 "$build/bin/$t" "$bin/$t"
done
echo "llama-cpp-python==$version (vendor/llama.cpp)" > "$tools/VERSION"
echo "$bin"
