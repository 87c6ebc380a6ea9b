#!/usr/bin/env bash
# hints.sh — every `coffer ...` command line that coffer's messages, advice
# and --help texts name (in backquotes, in src/) is one coffer takes: run
# with --help appended, each must parse (exit 0), so a "to do" never names
# a command or an option that does not exist. Placeholders (NAME, ID,
# SNAPSHOT, printf conversions) become a dummy word; [optional] parts are
# dropped; a line of alternatives (a | b) is tried one alternative at a
# time.
. "$(dirname "$0")/lib.sh"

python3 - "$REPO_ROOT/src" >"$T/hints" <<'PYEOF'
import os, re, sys
literal = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
for base, _, names in os.walk(sys.argv[1]):
    for name in sorted(names):
        if not name.endswith('.c'):
            continue
        text = open(os.path.join(base, name), encoding='utf-8').read()
        # Adjacent string literals are one string in C: join each run.
        joined, last_end, run = [], None, ''
        for m in literal.finditer(text):
            if last_end is not None and text[last_end:m.start()].strip() == '':
                run += m.group(1)
            else:
                if run:
                    joined.append(run)
                run = m.group(1)
            last_end = m.end()
        if run:
            joined.append(run)
        for s in joined:
            s = s.replace('\\n', ' ').replace('\\"', '"')
            for hint in re.findall(r'`(coffer [^`]*)`', s):
                print(hint)
PYEOF
sort -u "$T/hints" -o "$T/hints"
[ "$(wc -l <"$T/hints")" -ge 20 ] || fail "found only $(wc -l <"$T/hints") command lines in src/: the extraction is broken"

checked=0
while read -r hint; do
    line=${hint#coffer }
    case $line in *COMMAND*|--help|"%s --help") continue ;; esac # the generic "coffer COMMAND --help"
    line=$(printf '%s' "$line" | sed -E 's/\[[^]]*\]//g; s/%[-.0-9]*[sdzu]+/x/g; s/\.\.\.//g')
    IFS='|' read -ra alternatives <<<"$line"
    first=${alternatives[0]%% *}
    for alt in "${alternatives[@]}"; do
        alt=$(printf '%s' "$alt" | sed -E 's/^ +//; s/ +$//')
        case $alt in "${first}"*) ;; *) alt="$first $alt" ;; esac # "repair index | packs": "repair packs"
        # shellcheck disable=SC2046
        set -- $(printf '%s' "$alt" | sed -E 's/(^| )([A-Z][A-Z0-9_]*)(=| |$)/\1x\3/g; s/=([A-Z][A-Z0-9_]*)( |$)/=x\2/g')
        run_c "$@" --help
        [ "$RC" = 0 ] || { _show_last; fail "\`$hint\` (run as: coffer $* --help) is not a command line coffer takes"; }
        checked=$((checked + 1))
    done
done <"$T/hints"
note "$checked command lines checked"
pass "every command line coffer names parses"
