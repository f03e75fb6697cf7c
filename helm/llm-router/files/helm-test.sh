#!/bin/sh
# `helm test`: the gateway answers /healthz and /readyz, and decision and inventory report
# SERVING through the standard gRPC health service. Needs only sh, printf, od and curl (HTTP/2).
# Environment: GATEWAY_URL, DECISION_ADDR, INVENTORY_ADDR (host:port); with mutual TLS between
# the services also TLS_DIR and the names of TLS_CERT, TLS_KEY and TLS_CA in it.
set -u
fail=0

check_http() {
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1")
  if [ "$code" = 200 ]; then echo "ok   $1"; else echo "FAIL $1 -> HTTP $code"; fail=1; fi
}

# grpc.health.v1.Health/Check with {service: $2}, framed by hand: a 5-byte gRPC header, then
# field 1 (tag 0x0a) of length ${#service}. A SERVING answer is the frame 00 00000002 08 01.
check_grpc() {
  addr=$1 service=$2
  len=${#service}
  answer=$( {
      printf '\000\000\000\000'
      printf "\\$(printf '%03o' $((len + 2)))\\012\\$(printf '%03o' "$len")"
      printf '%s' "$service"
    } |
    if [ -n "${TLS_DIR:-}" ]; then
      curl -s --max-time 5 --http2 --cacert "$TLS_DIR/$TLS_CA" --cert "$TLS_DIR/$TLS_CERT" \
        --key "$TLS_DIR/$TLS_KEY" -X POST -H 'content-type: application/grpc' \
        -H 'te: trailers' --data-binary @- "https://$addr/grpc.health.v1.Health/Check"
    else
      curl -s --max-time 5 --http2-prior-knowledge -X POST \
        -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- \
        "http://$addr/grpc.health.v1.Health/Check"
    fi | od -An -tx1 | tr -d ' \n')
  if [ "$answer" = 00000000020801 ]; then
    echo "ok   grpc health $addr \"$service\""
  else
    echo "FAIL grpc health $addr \"$service\" -> ${answer:-no answer}"
    fail=1
  fi
}

check_http "$GATEWAY_URL/healthz"
check_http "$GATEWAY_URL/readyz"
check_grpc "$DECISION_ADDR" ""
check_grpc "$DECISION_ADDR" llmrouter.v1.DecisionService
check_grpc "$INVENTORY_ADDR" ""
check_grpc "$INVENTORY_ADDR" llmrouter.v1.InventoryService
exit $fail
