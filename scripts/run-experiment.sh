#!/usr/bin/env bash
# Sweep one experiment and write its report, timing the whole: what `make cifar10`,
# `make factorial` and `make families` run. Usage: run-experiment.sh BIN EXPERIMENT [TB_PORT]
# A failed sweep still gets its report (of the runs that finished) and a non-zero exit.
set -u
bin=$1 exp=$2 port=${3:-6006}
echo "== experiment $exp"
"$bin" sweep "$exp" --dry-run >/dev/null || exit $?
start=$(date +%s)
status=0
"$bin" sweep "$exp" || status=$?
"$bin" report "$exp" || status=$?
echo "== $exp took $(( $(date +%s) - start )) s"
echo "report:      report/$exp/index.html (open it in a browser)"
echo "TensorBoard: make tensorboard EXPERIMENT=$exp, then http://localhost:$port"
exit $status
