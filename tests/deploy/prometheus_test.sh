#!/usr/bin/env bash
# Checks deploy/prometheus with Debian's promtool: the scrape configuration, the alert rules, and
# their unit tests (alerts_test.yml). Exit status is non-zero when anything fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here/deploy/prometheus"
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules alerts_test.yml
# Every metric the code registers, the alerts use and the dashboard shows is in docs/metrics.md.
python3 "$here/tests/deploy/check_dashboard.py" "$here/deploy/grafana/llm-router.json" \
  "$here/docs/metrics.md" alerts.yml "$here/services" "$here/common" "$here/tools"
echo "prometheus checks: ok"
