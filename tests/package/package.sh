#!/usr/bin/env bash
# package.sh — #15: coffer as a Debian package. Builds it from this
# checkout (cmake --install layout under /usr, cpack -G DEB), then:
#   - lintian reports no error (nor warning) on the .deb;
#   - `dpkg -i` installs it: coffer --version, `man -w coffer` and
#     `man -w coffer.yaml`, the bash and zsh completions, the coffer system
#     user, /var/lib/coffer (coffer's, 0700), the example /etc/coffer/coffer.yaml
#     as a conffile, and a coffer.service that `systemd-analyze verify`
#     passes (its man page is there now);
#   - the installed completion offers the daemon's options;
#   - `dpkg --purge` removes it again.
# Needs root (dpkg); the release test run has it. Not run under ASan: it
# builds its own release binary.
. "$(dirname "$0")/../integration/lib.sh"
[ "$(id -u)" = 0 ] || fail "package.sh installs a package: run it as root"
for tool in cpack lintian dpkg-deb man systemd-analyze; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done
dpkg-query -W -f='${Status}' coffer 2>/dev/null | grep -q "install ok installed" &&
    fail "a coffer package is installed already: this test would replace it"

B=$T/build
cmake -S "$REPO_ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DCOFFER_TESTS=OFF >"$T/cmake.log" 2>&1 ||
    fail "cmake: $(tail -n 20 "$T/cmake.log")"
cmake --build "$B" -j"$(nproc)" >>"$T/cmake.log" 2>&1 || fail "build: $(tail -n 20 "$T/cmake.log")"
(cd "$B" && cpack -G DEB) >"$T/cpack.log" 2>&1 || fail "cpack: $(tail -n 20 "$T/cpack.log")"
DEB=$(ls "$B"/coffer_*_amd64.deb)
note "built $(basename "$DEB"), $(stat -c %s "$DEB") bytes"

lintian --tag-display-limit 0 "$DEB" >"$T/lintian.out" 2>&1
grep -E '^(E|W):' "$T/lintian.out" && fail "lintian: $(grep -E '^(E|W):' "$T/lintian.out")"
note "lintian: no errors, no warnings"
dpkg-deb -I "$DEB" conffiles | grep -qx /etc/coffer/coffer.yaml || fail "/etc/coffer/coffer.yaml is not a conffile"

on_exit "dpkg --purge coffer >/dev/null 2>&1"
DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" >"$T/dpkg.out" 2>&1 || fail "dpkg -i: $(cat "$T/dpkg.out")"
[ "$(/usr/bin/coffer --version)" = "coffer $(sed -n 's/^project(coffer VERSION \([0-9.]*\).*/\1/p' "$REPO_ROOT/CMakeLists.txt")" ] ||
    fail "coffer --version: $(/usr/bin/coffer --version)"
man -w coffer | grep -q '/usr/share/man/man1/coffer.1.gz' || fail "man -w coffer: $(man -w coffer 2>&1)"
man -w 5 coffer.yaml | grep -q '/usr/share/man/man5/coffer.yaml.5.gz' || fail "man -w coffer.yaml"
man coffer 2>/dev/null | grep -q "coffer daemon" || fail "coffer(1) does not describe coffer daemon"
[ -f /usr/share/bash-completion/completions/coffer ] || fail "no bash completion"
[ -f /usr/share/zsh/vendor-completions/_coffer ] || fail "no zsh completion"
getent passwd coffer >/dev/null || fail "no coffer user"
[ "$(stat -c '%U %a' /var/lib/coffer)" = "coffer 700" ] || fail "/var/lib/coffer: $(stat -c '%U %a' /var/lib/coffer)"
/usr/bin/coffer config check --config /etc/coffer/coffer.yaml >"$T/check.out" 2>&1
grep -q "is valid" "$T/check.out" || fail "the example coffer.yaml does not load: $(cat "$T/check.out")"
systemd-analyze verify /usr/lib/systemd/system/coffer.service >"$T/verify.out" 2>&1 ||
    fail "systemd-analyze verify coffer.service: $(cat "$T/verify.out")"
grep -qx "ExecStart=/usr/bin/coffer daemon --config /etc/coffer/coffer.yaml" /usr/lib/systemd/system/coffer.service ||
    fail "coffer.service does not run the installed binary"
words=$(bash -c '. /usr/share/bash-completion/completions/coffer; COMP_WORDS=(coffer daemon --); COMP_CWORD=2; _coffer; echo "${COMPREPLY[*]}"')
for w in --once --now --job --config; do
    [[ " $words " == *" $w "* ]] || fail "the bash completion of 'coffer daemon --' lacks $w: $words"
done

dpkg --purge coffer >"$T/dpkg.out" 2>&1 || fail "dpkg --purge: $(cat "$T/dpkg.out")"
[ ! -e /usr/bin/coffer ] && [ ! -e /var/lib/coffer ] || fail "dpkg --purge left /usr/bin/coffer or /var/lib/coffer"

pass "the .deb passes lintian, installs (binary, man pages, completions, user, state directory, conffile, a verified unit) and purges"
