#!/usr/bin/env python3
"""update_doc.py DOC SUMMARY PNG DOC_PNG: put the summary of the last
make bench run between the bench markers of docs/PERFORMANCE.md, and
copy the plot next to it when it is small (< 100 KB)."""
import os
import shutil
import sys

BEGIN = '<!-- bench:begin (written by make bench; edit outside) -->'
END = '<!-- bench:end -->'


def main():
    doc, summary, png, doc_png = sys.argv[1:5]
    with open(summary) as f:
        body = f.read().rstrip() + '\n'
    if os.path.exists(png) and os.path.getsize(png) < 100 * 1024:
        shutil.copyfile(png, doc_png)
        body += '\n![creates/s vs upcalls in flight](%s)\n' % \
            os.path.basename(doc_png)
    with open(doc) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        text = text.rstrip() + '\n\n## Results of the last run\n\n' + \
            BEGIN + '\n' + END + '\n'
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(doc, 'w') as f:
        f.write(head + BEGIN + '\n' + body + END + tail)
    print('updated %s' % doc)


if __name__ == '__main__':
    main()
