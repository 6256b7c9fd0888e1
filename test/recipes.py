#!/usr/bin/env python3
"""test/recipes.py: the README's recipes are what the suites run and print

The "Recipes" section of README.md shows the queries of examples/ and their
output.  The pg_regress suites examples, matview and cron run those files
against the mock and compare their output with expected/.  This checks,
without a database, that every ```sql block of the section is part of a file
the suites run (examples/*.sql, sql/*.sql) and that every output block (a
fence without a language) is part of an expected/*.out file, line for line
(trailing blanks aside): the README cannot drift from what is tested.

Usage: recipes.py README.md   (from the repository's root)
"""
import glob
import re
import sys

SECTION = "## Recipes"


def normalize(text):
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def section(readme):
    text = open(readme, encoding="utf-8").read()
    start = text.index(SECTION)
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def main():
    sources = {p: normalize(open(p, encoding="utf-8").read())
               for p in sorted(glob.glob("examples/*.sql") + glob.glob("sql/*.sql"))}
    outputs = {p: normalize(open(p, encoding="utf-8").read())
               for p in sorted(glob.glob("expected/*.out"))}
    fenced = re.findall(r"```(\w*)\n(.*?)```", section(sys.argv[1]), re.S)
    checked = failures = 0
    for n, (lang, body) in enumerate(fenced, 1):
        if lang == "sql":
            where, kind = sources, "SQL"
        elif lang == "":
            where, kind = outputs, "output"
        else:
            continue                    # configuration, shell
        checked += 1
        if not any(normalize(body) in text for text in where.values()):
            failures += 1
            print("recipes: block %d: this %s is in none of %s:\n%s"
                  % (n, kind, ", ".join(where), body))
    print("recipes: %d blocks checked, %d failed" % (checked, failures))
    sys.exit(1 if failures or not checked else 0)


if __name__ == "__main__":
    main()
