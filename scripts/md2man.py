#!/usr/bin/env python3
"""md2man.py IN.md NAME SECTION TITLE > OUT — the subset of Markdown that
coffer's docs use (headings, paragraphs, fenced code, tables, lists,
`code`, **bold**, [links](...)) as a roff man page, so that coffer.yaml(5)
is docs/config.md and cannot drift from it. Run by the package build."""
import os
import re
import sys
import time

src, name, section, title = sys.argv[1:5]


def esc(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return text


def inline(text):
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for p in parts:
        if p.startswith("`") and p.endswith("`") and len(p) >= 2:
            out.append("\\fB" + esc(p[1:-1]) + "\\fR")
        else:
            p = esc(p)
            p = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", p)
            out.append(p)
    line = "".join(out)
    return ("\\&" + line) if line.startswith((".", "'")) else line


def cells(row):
    return [c.strip() for c in row.strip().strip("|").split("|")]


lines = open(src).read().splitlines()
epoch = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
out = ['.\\" Written by scripts/md2man.py from %s; do not edit.' % os.path.basename(src),
       '.TH %s %s "%s" "coffer" "%s"' % (name.upper(), section, time.strftime("%Y-%m-%d", time.gmtime(epoch)), title)]
i = 0
in_code = False
header = None
while i < len(lines):
    line = lines[i]
    if line.startswith("```"):
        out.append(".fi" if in_code else ".PP\n.nf")
        in_code = not in_code
    elif in_code:
        out.append(("\\&" if line.startswith((".", "'")) else "") + esc(line))
    elif line.startswith("# "):
        out.append(".SH NAME\n%s \\- %s\n.SH DESCRIPTION" % (name, esc(title)))
    elif line.startswith("## "):
        out.append(".SH " + inline(line[3:]).upper())
    elif line.startswith("### "):
        out.append(".SS " + inline(line[4:]))
    elif line.startswith("|"):
        row = cells(line)
        if i + 1 < len(lines) and re.match(r"^\|[-| :]+\|$", lines[i + 1].strip()):
            header = row
            i += 1
        else:
            out.append(".TP\n" + inline(row[0]))
            rest = ["%s: %s" % (header[k], row[k]) if header and k < len(header) and k < len(row) - 1 else row[k]
                    for k in range(1, len(row))]
            out.append(inline("; ".join(r for r in rest if r)))
    elif re.match(r"^\s*[-*] ", line):
        out.append(".IP \\(bu 2\n" + inline(re.sub(r"^\s*[-*] ", "", line)))
    elif not line.strip():
        out.append(".PP")
        header = None
    else:
        out.append(inline(line.strip()))
    i += 1
text = "\n".join(out) + "\n"
text = re.sub(r"(\.PP\n)+", ".PP\n", text)
sys.stdout.write(text)
