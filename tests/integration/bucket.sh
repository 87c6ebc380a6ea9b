#!/usr/bin/env bash
# bucket.sh — the bucket source (type: bucket) against the loopback S3
# server of tests/s3, the bucket filled by tests/s3/objects.js as an
# application would fill it:
#  - 2,500 objects under nested prefixes (three listing pages), a 0-byte
#    object, keys with spaces, unicode, '+', '!' and a leading "%%", a key
#    that is also a folder ("x" beside "x/y"), one 50 MB object: a backup,
#    and a restore to a directory that holds every object byte-identical
#    under its key (the folder-colliding one under its escaped name);
#  - a second backup downloads nothing; after one object is changed and
#    one added, the third downloads exactly those two (GETs counted in the
#    proxy's log);
#  - exclude patterns leave objects out;
#  - restore --to s3://BUCKET/OTHER uploads every object under its own key
#    (compared byte for byte on the server's disk), and is refused into a
#    location that holds objects unless --force;
#  - a drill of the source passes;
#  - a wrong secret fails, exit 1, naming the bucket, and records nothing.
# (Keys such as "a/../../x" or "a//b" cannot be stored by s3rver, which
# keeps keys as file paths; fuzz_bucketkey checks their names.)
. "$(dirname "$0")/lib.sh"

export COFFER_S3_TEST_PORT=${COFFER_S3_TEST_PORT:-27520}
s3_test_server
export COFFER_S3_TEST_ACCESS_KEY=$AWS_ACCESS_KEY_ID COFFER_S3_TEST_SECRET_KEY=$AWS_SECRET_ACCESS_KEY # objects.js's
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY # the source reads its own credentials file
new_repo repo
OBJ="node $REPO_ROOT/tests/s3/objects.js $COFFER_S3_ENDPOINT $COFFER_S3_BUCKET"
export NODE_PATH=$REPO_ROOT/tests/s3/node_modules
BUCKET_DIR=$COFFER_S3_DIR/data/$COFFER_S3_BUCKET
LOG=$COFFER_S3_DIR/proxy.log

printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$COFFER_S3_TEST_ACCESS_KEY" "$COFFER_S3_TEST_SECRET_KEY" >"$T/creds"
chmod 600 "$T/creds"
write_config() { # write_config CREDENTIALS_FILE
    cat >"$T/coffer.yaml" <<EOF
repository: $COFFER_REPOSITORY
sources:
  uploads:
    type: bucket
    url: s3://$COFFER_S3_BUCKET/public/
    endpoint: $COFFER_S3_ENDPOINT
    region: us-east-1
    path_style: true
    credentials_file: $1
    exclude: ["*.tmp", "cache/"]
EOF
}
write_config "$T/creds"
export COFFER_CONFIG=$T/coffer.yaml

# The objects, as files under $T/want/KEY.
W=$T/want
mkdir -p "$W"
for d in $(seq 1 25); do
    mkdir -p "$W/img/d$d/sub"
    for f in $(seq 1 100); do printf 'object %s of folder %s\n' "$f" "$d" >"$W/img/d$d/sub/f$f.txt"; done
done
: >"$W/empty"
mkdir -p "$W/with space" "$W/x"
printf 'a space\n' >"$W/with space/name +plus ü.txt"
printf 'bang\n' >"$W/x!"
printf 'percent\n' >"$W/%%z"
printf 'I am x\n' >"$W/x.file"
printf 'I am x/y\n' >"$W/x/y"
gen_random 50000000 1 >"$W/big.bin"
mkdir -p "$W/cache"
printf 'left out\n' >"$W/cache/c"
printf 'left out\n' >"$W/part.tmp"

commands() { # the put lines for every file under $W ("x.file" is the object "x")
    (cd "$W" && find . -type f | sed 's|^\./||' | sort) | while IFS= read -r f; do
        key=$f
        [ "$f" = x.file ] && key=x
        printf 'put\tpublic/%s\t%s\n' "$key" "$W/$f"
    done
}
commands >"$T/puts"
[ "$(wc -l <"$T/puts")" -gt 2500 ] || fail "fewer objects than meant"
$OBJ <"$T/puts" || fail "cannot fill the bucket"

gets() { grep -c " GET /$COFFER_S3_BUCKET/public/" "$LOG" || true; }
: >"$LOG"
c_ok "first backup of the bucket" backup
pages=$(grep -c "GET /$COFFER_S3_BUCKET?.*list-type=2" "$LOG")
[ "$pages" -ge 3 ] || fail "the listing took $pages pages, not 3 or more"
objects=$(($(wc -l <"$T/puts") - 2)) # without the two excluded
big_parts=6 # 50 MB in 8 MiB parts
[ "$(gets)" = $((objects - 1 + big_parts)) ] || fail "first backup: $(gets) object GETs, not $((objects - 1 + big_parts))"

c_ok "restore to a directory" restore latest --source uploads --to "$T/r1"
# Two names are escaped (bucket.h): x beside the folder x/, and a part starting "%%".
unescape() { mv "$1/%%!x" "$1/x.file" && mv "$1/%%%25%25z" "$1/%%z"; }
unescape "$T/r1" || fail "the objects x and %%z are not under their escaped names"
rm -r "$W/cache" "$W/part.tmp"
diff -r "$W" "$T/r1" >"$T/diff" 2>&1 || fail "the restored bucket differs from its objects: $(head -5 "$T/diff")"

: >"$LOG"
c_ok "second backup, nothing changed" backup
[ "$(gets)" = 0 ] || fail "an unchanged bucket was downloaded again ($(gets) GETs)"

printf 'changed\n' >"$W/img/d3/sub/f7.txt"
printf 'new\n' >"$W/img/d9/new.txt"
printf 'put\tpublic/img/d3/sub/f7.txt\t%s\nput\tpublic/img/d9/new.txt\t%s\n' "$W/img/d3/sub/f7.txt" \
    "$W/img/d9/new.txt" | $OBJ || fail "cannot change the bucket"
: >"$LOG"
c_ok "third backup, one changed and one new" backup
got=$(grep " GET /$COFFER_S3_BUCKET/public/" "$LOG" | sed 's/.* GET \([^ ]*\) .*/\1/' | sort | tr '\n' ' ')
[ "$got" = "/$COFFER_S3_BUCKET/public/img/d3/sub/f7.txt /$COFFER_S3_BUCKET/public/img/d9/new.txt " ] ||
    fail "the third backup downloaded '$got', not exactly the two objects changed"
c_ok "restore the third" restore latest --source uploads --to "$T/r3"
unescape "$T/r3" || fail "the third snapshot lacks the escaped names"
diff -r "$W" "$T/r3" >/dev/null || fail "the third snapshot differs from the bucket"

# Restore into another prefix of the bucket.
c_ok "restore to s3://…/copy" restore latest --source uploads --to "s3://$COFFER_S3_BUCKET/copy"
grep -q "objects uploaded" "$T/out" "$T/err" || fail "restore to a bucket does not say what it uploaded"
(cd "$W" && find . -type f | sed 's|^\./||') | while IFS= read -r f; do
    key=$f
    [ "$f" = x.file ] && key=x
    cmp -s "$W/$f" "$BUCKET_DIR/copy/$key._S3rver_object" || { echo "$key"; break; }
done >"$T/bad"
[ ! -s "$T/bad" ] || fail "copy/$(cat "$T/bad") is not the object backed up"
run_c restore latest --source uploads --to "s3://$COFFER_S3_BUCKET/copy"
expect_rc 1 "restore into a location that holds objects"
grep -q -- "--force" "$T/err" || fail "the refusal does not name --force"

c_ok "drill of the bucket source" drill --source uploads

# A wrong secret: refused, naming the bucket; no snapshot recorded.
c_ok "snapshots before" snapshots --json
before=$(jq_out 'length')
sed 's/^aws_secret_access_key = .*/aws_secret_access_key = wrongwrongwrong/' "$T/creds" >"$T/bad-creds"
write_config "$T/bad-creds"
run_c backup
expect_rc 1 "backup with a wrong secret"
grep -q "s3://$COFFER_S3_BUCKET/public" "$T/err" || fail "the error does not name the bucket: $(cat "$T/err")"
write_config "$T/creds"
c_ok "snapshots after" snapshots --json
[ "$(jq_out 'length')" = "$before" ] || fail "a failed backup recorded a snapshot"

pass
