#!/usr/bin/env bash
# The project's whole check, exactly as CI runs it (.ci/run calls this script):
#   cargo fmt --check, cargo clippy --all-targets -D warnings, cargo test --all-targets.
# The integration tests start real BIRD 2, GoBGP, FRR and ExaBGP on 127/8 (Debian packages
# bird2 gobgpd frr exabgp; see README "Testing"). Without them those tests are skipped with a
# message, unless CI is set, where a missing router fails the run.
# Extra arguments go to cargo test (a name filter, or -- --nocapture): integration/test.sh bird_
set -euo pipefail
cd "$(dirname "$0")/.."

locked=()
if [ -f Cargo.lock ]; then locked=(--locked); fi

started=$SECONDS
step=""
summary() {
  local rc=$?
  if [ "$rc" = 0 ]; then
    echo "integration/test.sh: PASSED (fmt, clippy, tests) in $((SECONDS - started)) s"
  else
    echo "integration/test.sh: FAILED at step: ${step:-setup} (exit $rc, after $((SECONDS - started)) s)"
  fi
}
trap summary EXIT

run() {
  step="$*"
  echo "==> $*"
  "$@"
}

run cargo fmt --check
run cargo clippy "${locked[@]}" --all-targets -- -D warnings
run cargo test "${locked[@]}" --all-targets "$@"
