#!/usr/bin/env bash
# Static analysis of certmon's C code: clang-tidy (checks in .clang-tidy,
# every finding an error) and cppcheck (options below), over lib/, cli/,
# daemon/ and examples/. Exits non-zero on any finding. Suppressions live
# next to the code as `// cppcheck-suppress ID` or NOLINT comments, each
# with its reason.
set -uo pipefail
cd "$(dirname "$0")/.."
FLAGS="-std=c11 -D_GNU_SOURCE -Iinclude -Ilib $(pkg-config --cflags openssl libcurl sqlite3 jansson libmicrohttpd)"
FILES=$(ls lib/*.c cli/*.c daemon/*.c examples/*.c 2>/dev/null)
rc=0

echo "== clang-tidy ($(echo "$FILES" | wc -w) files)"
# shellcheck disable=SC2086
# one file per clang-tidy process: clang-tidy 14 carries analyser state
# from one file to the next (false valist.Uninitialized reports otherwise)
printf '%s\n' $FILES | xargs -P "$(nproc)" -n 1 \
    sh -c 'clang-tidy --quiet "$@" -- '"$FLAGS"' 2>&1' clang-tidy \
    >"${TMPDIR:-/tmp}/tidy.$$"
grep -E 'warning:|error:' "${TMPDIR:-/tmp}/tidy.$$" | sort -u
if grep -qE 'warning:|error:' "${TMPDIR:-/tmp}/tidy.$$"; then rc=1; fi
rm -f "${TMPDIR:-/tmp}/tidy.$$"

echo "== cppcheck"
# --enable=warning,portability: real defects, not style preferences.
# missingIncludeSystem: cppcheck need not parse the system headers.
# cppcheck-asn1.cfg: OpenSSL's ASN.1 template macros, which it cannot see.
# shellcheck disable=SC2086
if ! cppcheck --quiet --std=c11 --enable=warning,portability \
    --inline-suppr --error-exitcode=1 --suppress=missingIncludeSystem \
    --library=scripts/cppcheck-asn1.cfg -D_GNU_SOURCE -Iinclude -Ilib \
    $FILES; then
	rc=1
fi
if [ $rc -eq 0 ]; then echo "analysis: no findings"; fi
exit $rc
