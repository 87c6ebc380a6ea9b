#!/usr/bin/env python3
"""deeptree.py — helpers for deeptree.sh: build a tree far deeper than
PATH_MAX allows to name in one path, and list a tree of any depth.

Both walk with chdir, one name at a time, and keep their own stack, so
neither Python's recursion limit nor PATH_MAX applies.

  deeptree.py make ROOT LEVELS     ROOT/d/d/.../d (LEVELS directories), a
                                   file every 1,000 levels and one at the
                                   bottom, a symlink near the bottom, and
                                   ROOT/long/... whose deepest file has an
                                   absolute path of exactly 4,096 bytes
  deeptree.py list ROOT            one line: entries, deepest level and a
                                   SHA-256 over every entry's depth, name,
                                   type, mode, size, mtime (ns), symlink
                                   target and content, in name order
"""
import hashlib
import os
import stat
import sys


def make(root, levels):
    os.makedirs(root, exist_ok=True)
    os.chdir(root)
    base = os.getcwd()
    for level in range(1, levels + 1):
        os.mkdir("d")
        os.chdir("d")
        if level % 1000 == 0:
            with open("f%d" % level, "w") as f:
                f.write("file at level %d\n" % level * 7)
        if level == levels - 1:
            os.symlink("../" * 3 + "target", "link")
    with open("bottom.txt", "wb") as f:
        f.write(b"the bottom of %d levels\n" % levels)
        f.write(os.urandom(70000))
    # A path of exactly 4,096 bytes: names of 200 bytes, then a last name
    # that makes the absolute path 4,096 bytes long.
    os.chdir(base)
    os.mkdir("long")
    os.chdir("long")
    path = base + "/long"
    while len(path) + 1 + 200 + 1 + 10 < 4096:
        name = "n" * 199 + str(len(path) % 10)
        os.mkdir(name)
        os.chdir(name)
        path += "/" + name
    last = "L" * (4096 - len(path) - 1)
    assert 1 <= len(last) <= 255, len(last)
    with open(last, "w") as f:
        f.write("a path of 4096 bytes\n")
    path += "/" + last
    assert len(path.encode()) == 4096, len(path)
    print(len(path.encode()))


def listing(root):
    h = hashlib.sha256()
    count = deepest = 0
    os.chdir(root)
    stack = [sorted(os.listdir(b"."), reverse=True)]
    while stack:
        names = stack[-1]
        if not names:
            stack.pop()
            if stack:
                os.chdir(b"..")
            continue
        name = names.pop()
        st = os.lstat(name)
        count += 1
        deepest = max(deepest, len(stack))
        kind = stat.S_IFMT(st.st_mode)
        h.update(b"%d\0%s\0%o\0%d\0" % (len(stack), name, st.st_mode, st.st_mtime_ns))
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(name))
        elif stat.S_ISREG(st.st_mode):
            h.update(b"%d\0" % st.st_size)
            with open(name, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        if kind == stat.S_IFDIR:
            os.chdir(name)
            stack.append(sorted(os.listdir(b"."), reverse=True))
    print("%d entries, %d levels, %s" % (count, deepest, h.hexdigest()))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    else:
        listing(sys.argv[2])
