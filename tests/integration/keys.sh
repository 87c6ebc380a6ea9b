#!/usr/bin/env bash
# Key management: key add / list / passwd / remove; every key opens the
# same data; removed or changed passphrases stop working; the key in use
# (or the last one) cannot be removed.
. "$(dirname "$0")/lib.sh"

PW1="first-pass-$RANDOM"; PW2="second-pass-$RANDOM"; PW3="third-pass-$RANDOM"
new_repo repo "$PW1"
printf '%s\n' "$PW1" >"$T/pw1"; printf '%s\n' "$PW2" >"$T/pw2"; printf '%s\n' "$PW3" >"$T/pw3"
export COFFER_PASSWORD_FILE=$T/pw1
K=$COFFER_REPOSITORY/keys

key_files() { (cd "$K" && ls -1); }
opens() { # opens PWFILE -> sets RC of `snapshots`
    run_c snapshots --password-file "$1"
}
assert_opens() { opens "$1"; expect_ok "$2"; }
assert_refused() {
    opens "$1"
    expect_rc 12 "$2"
    expect_err_match "$2" 'pass(phrase|word)|key'
}
assert_no_secrets() { # in $T/out and $T/err
    local s
    for s in "$PW1" "$PW2" "$PW3"; do expect_no_output_match "$1" "$s"; done
}

mkdir -p "$T/src"; gen_random 500000 k >"$T/src/data.bin"; printf 'k\n' >"$T/src/t.txt"
c_ok "backup with key 1" backup --name src "$T/src"

[ "$(key_files | wc -l)" = 1 ] || fail "fresh repository should have 1 key file, has: $(key_files | tr '\n' ' ')"
key1=$(key_files)
c_ok "key list (1 key)" key list
grep -Fq "${key1:0:8}" "$T/out" || fail "key list does not show key ${key1:0:8}"
assert_no_secrets "key list"

# ------------------------------------------------------------ add
COFFER_NEW_PASSWORD=$PW2 run_c key add
expect_ok "key add (COFFER_NEW_PASSWORD)"
assert_no_secrets "key add"
[ "$(key_files | wc -l)" = 2 ] || fail "after key add expected 2 key files, have: $(key_files | tr '\n' ' ')"
key2=$(key_files | grep -vx "$key1")
c_ok "key list (2 keys)" key list
grep -Fq "${key1:0:8}" "$T/out" || fail "key list does not show key ${key1:0:8}"
grep -Fq "${key2:0:8}" "$T/out" || fail "key list does not show new key ${key2:0:8}"
assert_no_secrets "key list"
assert_opens "$T/pw1" "passphrase 1 after key add"
assert_opens "$T/pw2" "passphrase 2 after key add"
c_ok "restore with passphrase 2" restore latest --source src --to "$T/r2" --password-file "$T/pw2"
compare_trees "$T/src" "$(restored_path "$T/r2" "$T/src")" "restore with added key"
c_ok "backup with passphrase 2" backup --name src2 --password-file "$T/pw2" "$T/src"
assert_refused "$T/pw3" "passphrase 3 before it was set"
note "key add ok"

# ------------------------------------------------------------ passwd (change key 2: pw2 -> pw3)
run_c key passwd --password-file "$T/pw2" --new-password-file "$T/pw3"
expect_ok "key passwd"
assert_no_secrets "key passwd"
assert_refused "$T/pw2" "old passphrase 2 after key passwd"
assert_opens "$T/pw3" "new passphrase 3 after key passwd"
assert_opens "$T/pw1" "passphrase 1 after changing the other key"
key_files >"$T/keys.now"
[ "$(wc -l <"$T/keys.now")" = 2 ] || fail "after key passwd expected 2 key files, have: $(tr '\n' ' ' <"$T/keys.now")"
grep -qx "$key1" "$T/keys.now" || fail "key passwd on key 2 removed key 1's file"
key2=$(grep -vx "$key1" "$T/keys.now")
note "key passwd ok"

# ------------------------------------------------------------ remove
run_c key remove "$key1" --password-file "$T/pw3"
expect_ok "key remove of key 1 (using key 2)"
[ -e "$K/$key1" ] && fail "key remove left keys/$key1 in place"
assert_refused "$T/pw1" "removed passphrase 1"
assert_opens "$T/pw3" "passphrase 3 after removing key 1"
c_ok "key list (1 key left)" key list --password-file "$T/pw3"
grep -Fq "${key1:0:8}" "$T/out" && fail "key list still shows removed key ${key1:0:8}"
grep -Fq "${key2:0:8}" "$T/out" || fail "key list does not show remaining key ${key2:0:8}"

run_c key remove "$key2" --password-file "$T/pw3"
expect_nonzero "key remove of the last key / the key in use"
expect_err_line "key remove of the last key"
[ -e "$K/$key2" ] || fail "refused key remove still deleted keys/$key2"
assert_opens "$T/pw3" "passphrase 3 after refused removal"

run_c key remove 0123456789abcdef --password-file "$T/pw3"
expect_nonzero "key remove of a nonexistent key id"

# the key in use cannot be removed even when another key exists
COFFER_NEW_PASSWORD=$PW1 run_c key add --password-file "$T/pw3"
expect_ok "key add back passphrase 1"
run_c key remove "$key2" --password-file "$T/pw3"
expect_nonzero "key remove of the key currently in use (2 keys exist)"
assert_opens "$T/pw3" "passphrase 3 after refused removal of current key"
assert_opens "$T/pw1" "re-added passphrase 1"

c_ok "restore with final key" restore latest --source src2 --to "$T/r3" --password-file "$T/pw3"
compare_trees "$T/src" "$(restored_path "$T/r3" "$T/src")" "restore after key changes"
c_ok "check --read-data after key changes" check --read-data --password-file "$T/pw3"
pass "key add/list/passwd/remove"
