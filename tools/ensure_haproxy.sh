#!/usr/bin/env bash
# HAProxy for the local cluster (`switchyard up --cluster`, tests/integration/test_cluster.py):
# HTTP/2 cleartext to the service replicas, Restate's ingress and admin over every node.
# Idempotent: does nothing when haproxy is already installed.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "haproxy is missing and apt-get is not available: install HAProxy (2.6 or newer) and put it on PATH" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian's haproxy package (the local cluster's load balancer) ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends haproxy >/dev/null
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]
