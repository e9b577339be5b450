#!/usr/bin/env bash
# Coverage-guided fuzzing (Jazzer) of the IMAP frame decoder, the head and argument parsers, the
# modified UTF-7 codec, SASL decoding, the inbound PROXY protocol path, the MIME parser and the
# inflate path of COMPRESS=DEFLATE.
# `mvn verify` only replays each target's committed inputs; this script looks for new ones: every
# @FuzzTest target fuzzes for FUZZ_SECONDS (default 5: about 55 s of fuzzing for the eleven targets,
# plus some 10 to 15 s of Maven and JVM start-up per target, far more on a loaded machine).
#
#   .ci/fuzz.sh                                  all targets
#   FUZZ_SECONDS=300 .ci/fuzz.sh CommandHeadFuzzTest#parse
#
# Prints executions per second and total runs of each target, and fails on any finding: Jazzer
# writes the input to the target's Inputs directory under src/test/resources (commit it once
# fixed: the replay in `mvn verify` keeps it fixed) and prints it in base64.
set -euo pipefail

cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-5}
# module, target (TestClass#method) and, where Jazzer's default (the io.postern classes) is not
# enough, the classes to instrument for coverage; every @FuzzTest of the repository is listed here
all_targets=(
  "imap ImapFrameDecoderFuzzTest#commands"
  "imap ImapFrameDecoderFuzzTest#responses"
  "imap CommandHeadFuzzTest#parse"
  "imap ResponseHeadFuzzTest#parse"
  "imap ArgumentReaderFuzzTest#operations"
  "imap ArgumentReaderFuzzTest#roundTrip"
  "imap ModifiedUtf7FuzzTest#codec"
  "proxy SaslFuzzTest#plain"
  "proxy ProxyProtocolFuzzTest#header io.postern.**,io.netty.handler.codec.haproxy.**"
  "policies MimeParserFuzzTest#parse"
  "proxy InflateFuzzTest#inflate"
)

declared=$(grep -rhE --include='*.java' '^[[:space:]]*@FuzzTest' imap/src/test proxy/src/test policies/src/test | wc -l)
[ "$declared" -eq "${#all_targets[@]}" ] || {
  echo "fuzz: the sources declare $declared @FuzzTest targets, ${#all_targets[@]} are listed here" >&2
  exit 1
}

targets=()
if [ $# -eq 0 ]; then
  targets=("${all_targets[@]}")
else
  for want in "$@"; do
    found=
    for t in "${all_targets[@]}"; do
      rest=${t#* }
      [ "${rest%% *}" = "$want" ] && targets+=("$t") && found=1
    done
    [ -n "$found" ] || { echo "fuzz: unknown target $want" >&2; exit 2; }
  done
fi

logs=$(mktemp -d)
# The generated corpus (.cifuzz-corpus in each module) is scratch: a fresh one each run.
cleanup() { rm -rf imap/.cifuzz-corpus proxy/.cifuzz-corpus policies/.cifuzz-corpus "$logs"; }
trap cleanup EXIT
rm -rf imap/.cifuzz-corpus proxy/.cifuzz-corpus policies/.cifuzz-corpus

passed=0
failed=0
summary=()
for t in "${targets[@]}"; do
  module=${t%% *}
  rest=${t#* }
  target=${rest%% *}
  instrument=()
  [ "$rest" = "$target" ] || instrument=(-Djazzer.instrument="${rest#* }")
  log="$logs/${target/\#/-}.log"
  printf '\n=== fuzz %s (%s s)\n' "$target" "$seconds"
  started=$(date +%s)
  status=0
  # -am: the proxy target needs the imap, tls and policies classes of this checkout
  JAZZER_FUZZ=1 mvn -B -ntp -pl "$module" -am test \
    -Dtest="$target" -Dsurefire.failIfNoSpecifiedTests=false \
    "${instrument[@]}" -Djazzer.internal.arg.0=fuzz -Djazzer.internal.arg.1=-max_total_time="$seconds" \
    >"$log" 2>&1 || status=$?

  # libFuzzer's last status line: "#123456  DONE  cov: ... exec/s: 7890 rss: ..."
  done_line=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  runs=$(sed -nE 's/^#([0-9]+)[[:space:]]+DONE.*/\1/p' <<<"$done_line")
  execs=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$done_line")
  finding=$(grep -aoE 'Test unit written to .*' "$log" | head -1 | sed 's/^Test unit written to //' || true)

  result=ok
  if [ -n "$finding" ]; then
    result="FINDING $finding"
    echo "--- finding"
    grep -aE '^(== Java Exception|Caused by)' "$log" | awk '!seen[$0]++' | head -4 || true
    grep -aE '^Base64: ' "$log" | head -1 || true
    echo "input: $finding"
  elif [ "$status" -ne 0 ]; then
    result="FAILED (mvn exit $status)"
    tail -n 60 "$log"
  elif [ -z "$runs" ]; then
    result="FAILED (no fuzzing status from Jazzer)"
    tail -n 60 "$log"
  elif grep -aq 'no interesting inputs were found' "$log"; then
    result="FAILED (no coverage: is the code instrumented?)"
  fi
  if [ "$result" = ok ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  took=$(($(date +%s) - started))
  echo "$target: ${execs:-?} exec/s, ${runs:-?} runs, $took s in all: $result"
  summary+=("$(printf '%-42s %9s %11s %6s  %s' "$target" "${execs:--}" "${runs:--}" "$took" "$result")")
done

printf '\n=== fuzz summary (%s s per target)\n' "$seconds"
printf '%-42s %9s %11s %6s  %s\n' target exec/s runs 'wall s' result
printf '%s\n' "${summary[@]}"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
