#!/bin/sh
# An alert command for run_pipeline: one line per alert to a log, and a mail if mail(1) is set up.
echo "$(date -u +%FT%TZ) $QF_ALERT_MESSAGE ($QF_ALERT_REPORT)" >> "${QF_ALERT_LOG:-/var/log/quantforge-alerts.log}"
if command -v mail > /dev/null 2>&1 && [ -n "$QF_ALERT_MAILTO" ]; then
  echo "$QF_ALERT_MESSAGE: see $QF_ALERT_REPORT" | mail -s "QuantForge alert: $QF_ALERT_METRIC" "$QF_ALERT_MAILTO"
fi
