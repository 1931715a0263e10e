#!/usr/bin/env bash
# scripts/check-size.sh [MODULE]: fails when the module (policy.wasm) is larger than the budget in
# MODULE.budget (bytes). Every policy-server downloads and compiles the module, and the goal is
# at most 280,000 bytes (issue 20): raise the budget only with a reason.
set -euo pipefail
cd "$(dirname "$0")/.."
module=${1:-policy.wasm}
budget_file=$module.budget
budget=$(grep -o '^[0-9]\+' "$budget_file" | head -n1)
size=$(stat -c %s "$module")
echo "check-size: $module is $size bytes, budget $budget bytes ($budget_file): $((budget - size)) bytes to spare"
if [ "$size" -gt "$budget" ]; then
  echo "check-size: $module grew past its budget by $((size - budget)) bytes" >&2
  exit 1
fi
