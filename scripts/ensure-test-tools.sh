#!/usr/bin/env bash
# Makes sure the programs the test suite runs are installed: nginx (gateway test),
# chromium and chromedriver (the admin console's browser test),
# tesseract (KYC OCR test), moto's S3 server (KYC object-storage test). Used by `make test`
# and .ci/run. Python tools go into $VENV (default .venv-tools in the checkout), moto into
# $MOTO_VENV (default .venv-moto).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$root/.venv-tools}
MOTO_VENV=${MOTO_VENV:-$root/.venv-moto}

need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif need sudo; then sudo "$@"; else return 1; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# nginx: the gateway end-to-end test.
if ! need nginx && [ ! -x /usr/sbin/nginx ]; then
  echo "nginx is missing: installing nginx-light" >&2
  apt_install nginx-light || { echo "install nginx: sudo apt-get install -y nginx-light" >&2; exit 1; }
fi

# chromium + chromedriver: the admin console's browser test (crates/demo/tests/console.rs
# drives headless Chromium over WebDriver).
if ! need chromedriver || { [ ! -x /usr/lib/chromium/chromium ] && ! need chromium; }; then
  echo "chromium or chromedriver is missing: installing chromium chromium-driver" >&2
  apt_install chromium chromium-driver \
    || { echo "install them: sudo apt-get install -y chromium chromium-driver" >&2; exit 1; }
fi

# moto: a local S3 server for the KYC object-storage test (testkit's MotoServer finds it
# in $MOTO_VENV/bin, or through MOTO_SERVER). Its own venv: checkov, in $VENV, pins older
# boto3/botocore than moto needs.
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  echo "moto is missing: installing moto[server] into $MOTO_VENV" >&2
  need python3 || { echo "install python3: sudo apt-get install -y python3 python3-venv" >&2; exit 1; }
  if [ ! -x "$MOTO_VENV/bin/pip" ]; then
    python3 -m venv "$MOTO_VENV" || { echo "create a venv: sudo apt-get install -y python3-venv" >&2; exit 1; }
  fi
  "$MOTO_VENV/bin/pip" install -q 'moto[server]'
fi

# tesseract: the KYC OCR test (services/kyc checks::ocr).
if ! need tesseract; then
  echo "tesseract is missing: installing tesseract-ocr" >&2
  apt_install tesseract-ocr || { echo "install tesseract: sudo apt-get install -y tesseract-ocr" >&2; exit 1; }
fi
