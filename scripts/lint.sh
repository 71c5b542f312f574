#!/usr/bin/env bash
# Lints the C and C++ files changed since the commit in .ci/lint-base: clang-format (check mode)
# on every changed source and header, the BPF C in bpf/ included; clang-tidy on the changed C++
# translation units, reporting findings in them and in the changed headers they include.
# "Changed" means committed since the base, staged, unstaged or untracked; build/ and generated
# files are never checked. clang-tidy reads build/compile_commands.json, so build first
# (scripts/build.sh; .ci/run lints after scripts/test.sh has built).
#
# Usage: scripts/lint.sh [--fix] [--format-only] [--base REV] [-j N]
#   --fix          rewrite the changed files with clang-format in place, then check
#   --format-only  skip clang-tidy (needs no build)
#   --base REV     compare with REV instead of the commit in .ci/lint-base
#   -j N           clang-tidy processes at once (default: the number of cores)
# Exits 0 when clean, 1 on any finding, 2 when it cannot run (bad usage, no build, no base).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
started=$SECONDS

fix=false
format_only=false
base=""
jobs=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --fix) fix=true ;;
    --format-only) format_only=true ;;
    --base) base=${2:?--base needs a revision}; shift ;;
    -j) jobs=${2:?-j needs a number}; shift ;;
    -j*) jobs=${1#-j} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lint: unknown argument '$1' (see scripts/lint.sh --help)" >&2; exit 2 ;;
  esac
  shift
done

clang_format=${CLANG_FORMAT:-clang-format}
clang_tidy=${CLANG_TIDY:-clang-tidy}
for tool in "$clang_format" "$clang_tidy"; do
  if ! command -v "$tool" >/dev/null; then
    echo "lint: $tool not found: install it with scripts/install-deps.sh" >&2
    exit 2
  fi
done

# The base: the first word of the first line of .ci/lint-base that is not a comment.
if [ -z "$base" ]; then
  if [ ! -f .ci/lint-base ]; then
    echo "lint: .ci/lint-base is missing: it holds the commit to compare with (or use --base REV)" >&2
    exit 2
  fi
  base=$(grep -v '^[[:space:]]*\(#\|$\)' .ci/lint-base | head -n1 | awk '{print $1}')
fi
if ! git rev-parse --quiet --verify "$base^{commit}" >/dev/null; then
  echo "lint: base '$base' (from .ci/lint-base or --base) is not a commit in this clone" \
    "(a shallow clone? fetch its history)" >&2
  exit 2
fi

# Changed C/C++ files that still exist: tracked ones that differ from the base, and untracked
# ones that git does not ignore.
files=()
while IFS= read -r f; do
  case "$f" in
    build/* | build-*/*) continue ;;
    *.c | *.cc | *.cpp | *.cxx | *.h | *.hh | *.hpp) [ -f "$f" ] && files+=("$f") ;;
  esac
done < <({ git diff --name-only --diff-filter=d "$base" --; git ls-files --others --exclude-standard; } | sort -u)

short_base=$(git rev-parse --short "$base")
if [ ${#files[@]} -eq 0 ]; then
  echo "lint: no C/C++ file changed since $short_base: nothing to check"
  exit 0
fi
echo "lint: C/C++ files changed since $short_base: ${#files[@]}"

# --- clang-format ---------------------------------------------------------------------------
if $fix; then
  echo "lint: clang-format -i on ${#files[@]} files"
  "$clang_format" --style=file -i "${files[@]}"
fi
unformatted=()
for f in "${files[@]}"; do
  if ! d=$("$clang_format" --style=file "$f" | diff -u --label "$f" --label "$f (clang-formatted)" "$f" -); then
    unformatted+=("$f")
    echo "lint: FORMAT $f is not clang-formatted (fix: scripts/lint.sh --fix, or clang-format -i $f):"
    printf '%s\n' "$d" | sed -n '1,40p'
    [ "$(printf '%s\n' "$d" | wc -l)" -le 40 ] || echo "    ... (more: clang-format $f | diff $f -)"
  fi
done
echo "lint: clang-format: ${#files[@]} checked, ${#unformatted[@]} not formatted"

# --- clang-tidy -----------------------------------------------------------------------------
# Translation units are the changed C++ sources that have a compile command. BPF C (bpf/) is
# compiled for the BPF target by custom commands and is formatted only; the headers in
# bpf/shared are C shared with C++ and are not tidied either. A changed header is tidied
# through its own .cc, or else through a built source that includes it; --header-filter lets
# through the findings in exactly the changed headers, none from others.
tidy_findings=0
report=""
tidy_failed=()
tidied=0
if ! $format_only; then
  db=build/compile_commands.json
  tus=()
  headers=()
  for f in "${files[@]}"; do
    case "$f" in
      bpf/*) ;;
      *.h | *.hh | *.hpp) headers+=("$f") ;;
      *) tus+=("$f") ;;
    esac
  done
  if [ $((${#tus[@]} + ${#headers[@]})) -gt 0 ]; then
    if [ ! -f "$db" ]; then
      echo "lint: $db is missing: build first (scripts/build.sh), or run scripts/lint.sh --format-only" >&2
      exit 2
    fi
    mapfile -t db_files < <(sed -n 's|^ *"file": *"'"$root"'/\(.*\)",\{0,1\}$|\1|p' "$db" | sort -u)
    # A set, not a grep over a pipe: with pipefail an early grep -q match fails the pipe.
    declare -A db_set=()
    for f in "${db_files[@]}"; do db_set[$f]=1; done
    in_db() { [ -n "${db_set[$1]:-}" ]; }
    selected=()
    for f in "${tus[@]}"; do
      if in_db "$f"; then
        selected+=("$f")
      else
        echo "lint: note: $f has no compile command in $db (not built here): format-checked only"
      fi
    done
    header_re=()
    for h in "${headers[@]}"; do
      header_re+=("$(printf '%s' "$h" | sed 's/[][\.*^$+?(){}|]/\\&/g')")
      tu=""
      stem=${h%.*}
      for ext in cc cpp cxx; do
        if in_db "$stem.$ext"; then tu="$stem.$ext"; break; fi
      done
      if [ -z "$tu" ]; then
        for s in "${selected[@]}" "${db_files[@]}"; do
          case "$s" in build/*) continue ;; esac
          if [ -f "$s" ] && grep -qF "#include \"$h\"" "$s"; then tu=$s; break; fi
        done
      fi
      if [ -z "$tu" ]; then
        echo "lint: note: no built source includes $h directly: format-checked only"
      elif ! printf '%s\n' "${selected[@]}" | grep -xF -- "$tu" >/dev/null; then
        selected+=("$tu")
      fi
    done
    root_re=$(printf '%s' "$root" | sed 's/[][\.*^$+?(){}|]/\\&/g')
    if [ ${#header_re[@]} -gt 0 ]; then
      header_filter="^$root_re/($(IFS='|'; echo "${header_re[*]}"))\$"
    else
      header_filter='^$'  # no changed header: report findings in the main files only
    fi

    if [ ${#selected[@]} -gt 0 ]; then
      tmp=$(mktemp -d)
      trap 'rm -rf "$tmp"' EXIT
      echo "lint: clang-tidy on ${#selected[@]} translation units, $jobs at a time"
      tidy_one() {
        local idx=$1 f=$2 t0=$SECONDS rc=0
        "$CLANG_TIDY_BIN" -p build --quiet --header-filter="$HEADER_FILTER" "$ROOT/$f" \
          >"$TMP/$idx.out" 2>&1 || rc=$?
        echo "$rc" >"$TMP/$idx.rc"
        local n
        n=$(grep -cE '^/[^ ]*:[0-9]+:[0-9]+: (warning|error): ' "$TMP/$idx.out" || true)
        printf 'lint: tidy [%d/%d] %s: %s (%ds)\n' "$idx" "$TOTAL" "$f" \
          "$([ "$n" -eq 0 ] && [ "$rc" -eq 0 ] && echo ok || echo "$n diagnostics")" $((SECONDS - t0))
      }
      export -f tidy_one
      export CLANG_TIDY_BIN=$clang_tidy HEADER_FILTER=$header_filter ROOT=$root TMP=$tmp
      export TOTAL=${#selected[@]}
      for i in "${!selected[@]}"; do printf '%d\n%s\n' $((i + 1)) "${selected[$i]}"; done |
        xargs -d '\n' -n 2 -P "$jobs" bash -c 'tidy_one "$@"' _
      tidied=${#selected[@]}

      # One report: every finding once (a header's findings come from each TU including it),
      # paths relative to the repository.
      report=$(for i in $(seq 1 "$tidied"); do cat "$tmp/$i.out"; done | awk -v root="$root/" '
        /^\/[^ ]*:[0-9]+:[0-9]+: (warning|error): / { key = $0; keep = !(key in seen); seen[key] = 1 }
        /^[0-9]+ (warning|error)s? generated\.$/ { next }
        /^Suppressed [0-9]+ warnings/ || /^Use -header-filter=/ { next }
        keep { while ((i = index($0, root)) > 0) $0 = substr($0, 1, i - 1) substr($0, i + length(root))
               print }')
      tidy_findings=$(printf '%s\n' "$report" | grep -cE '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' || true)
      if [ -n "$report" ]; then
        echo "lint: TIDY findings:"
        printf '%s\n' "$report"
      fi
      for i in $(seq 1 "$tidied"); do
        if [ "$(cat "$tmp/$i.rc")" -ne 0 ] && ! grep -qE ': (warning|error): ' "$tmp/$i.out"; then
          tidy_failed+=("${selected[$((i - 1))]}")
          echo "lint: clang-tidy failed on ${selected[$((i - 1))]} without a finding:"
          cat "$tmp/$i.out"
        fi
      done
    fi
  fi
  echo "lint: clang-tidy: $tidied translation units, $tidy_findings findings"
else
  echo "lint: clang-tidy skipped (--format-only)"
fi

# --- verdict --------------------------------------------------------------------------------
elapsed=$((SECONDS - started))
if [ ${#unformatted[@]} -eq 0 ] && [ "$tidy_findings" -eq 0 ] && [ ${#tidy_failed[@]} -eq 0 ]; then
  echo "lint: ok (${#files[@]} files since $short_base, ${elapsed}s)"
  exit 0
fi
echo "lint: FAILED (${elapsed}s)"
if [ ${#unformatted[@]} -gt 0 ]; then
  echo "  not clang-formatted (${#unformatted[@]}): ${unformatted[*]}"
  echo "  fix: scripts/lint.sh --fix   (clang-format -i on the changed files)"
fi
if [ "$tidy_findings" -gt 0 ]; then
  echo "  clang-tidy findings (above): $tidy_findings. Fix the code; where a check is wrong for one"
  echo "  line, end it with // NOLINT(check-name) and say why. Then: scripts/lint.sh"
  if printf '%s\n' "$report" | grep '\[clang-diagnostic-error\]' >/dev/null; then
    echo "  clang could not compile some of them: is the build current? (scripts/build.sh)"
  fi
fi
if [ ${#tidy_failed[@]} -gt 0 ]; then
  echo "  clang-tidy could not run on: ${tidy_failed[*]} (is the build current? scripts/build.sh)"
fi
exit 1
