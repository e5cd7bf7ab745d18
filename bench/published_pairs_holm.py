#!/usr/bin/env python3
"""The over-seeds tests of every paired table a results document publishes,
read back from the document itself:

    published_pairs_holm.py docs/results.md

For each table whose header starts "| B vs A |", every row's per-seed AUC
differences (the signed numbers of its second column, once the parentheses
with their CIs and p-values are taken out) give the mean with its t-based
95 % CI, the one-sample t-test's p, Holm's adjustment over the rows of that
table (the pairs one bench call tabled together) and the seeds a CI clear
of 0 would take. The tables print the differences to three decimals, so
each p also comes with its range over every rounding of them (each value
moved by up to 0.0005 either way): a reading that flips inside that range
is not one to lean on.

Why from the document: the older tables were made before
bench/questions_table.py adjusted for multiple pairs, and their runs are
gone; their published per-seed differences are what there is. A row whose
mean column disagrees with the mean of its parsed differences by more than
the rounding allows is reported as a parse error, so a table in an
unexpected form cannot pass silently. Standard library only.
"""
import itertools
import re
import statistics
import sys

from paired_stats import holm, mean_ci, p_text, seeds_to_decide, t_test_p

SIGNED = re.compile(r"[+-]\d+\.\d+")
# A data set as the text names it: by name, or by the bench scripts' set name.
DATA_SET = re.compile(r"BreastMNIST|PneumoniaMNIST|AdrenalMNIST3D|"
                      r"questions\.sh (breast|pneumonia|adrenal3d)\b")
SET_NAMES = {"breast": "BreastMNIST", "pneumonia": "PneumoniaMNIST", "adrenal3d": "AdrenalMNIST3D"}
PARENTHESES = re.compile(r"\([^)]*\)")


def cells(line):
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def per_seed_differences(cell):
    return [float(x) for x in SIGNED.findall(PARENTHESES.sub("", cell.replace("**", "")))]


def p_range_over_rounding(values, half_step=0.0005):
    ps = [t_test_p([v + s * half_step for v, s in zip(values, signs)])
          for signs in itertools.product((-1, 1), repeat=len(values))]
    return min(ps), max(ps)


def tables(lines):
    """(heading, data set, line number, rows) for each "| B vs A |" table;
    rows are lists of cells. The data set is the last one the text names
    before the table (the documents name it in the heading or the paragraph
    that introduces the table)."""
    heading, data_set = "", "?"
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if not line.startswith("|"):
            for match in DATA_SET.finditer(line):
                data_set = SET_NAMES.get(match.group(1), match.group())
        if line.startswith("| B vs A |"):
            start, rows = i + 1, []
            i += 2  # the header and its |---| line
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            yield heading, data_set, start, rows
            continue
        i += 1


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: published_pairs_holm.py RESULTS.md")
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
    out = ["| line | section | set | B vs A | seeds | mean (95 % CI over seeds) | t-test p "
           "(range over the rounding) | Holm within the table | seeds for a CI clear of 0 "
           "| reading |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    errors = 0
    for heading, data_set, line_number, rows in tables(lines):
        parsed = []
        for row in rows:
            values = per_seed_differences(row[1])
            published_mean = SIGNED.search(row[2].replace("**", ""))
            if len(values) < 2 or published_mean is None or \
                    abs(statistics.mean(values) - float(published_mean.group())) > 0.0011:
                errors += 1
                print(f"line {line_number}: could not read the row '{row[0]}'", file=sys.stderr)
                continue
            parsed.append((row[0], values))
        adjusted = holm([t_test_p(values) for _, values in parsed])
        for (pair, values), p_holm in zip(parsed, adjusted):
            mean, low, high = mean_ci(values)
            p = t_test_p(values)
            p_low, p_high = p_range_over_rounding(values)
            clear = low > 0 or high < 0
            if not clear:
                reading = "not decidable"
            elif p_holm < 0.05:
                reading = "CI clear of 0, also after Holm"
            else:
                reading = "CI clear of 0, not after Holm"
            if (p < 0.05) != (p_high < 0.05) or (p < 0.05) != (p_low < 0.05):
                reading += "; the rounding could flip it"
            out.append(f"| {line_number} | {heading} | {data_set} | {pair} | {len(values)} | "
                       f"{mean:+.3f} ({low:+.3f}, {high:+.3f}) | {p_text(p)} "
                       f"({p_text(p_low)}-{p_text(p_high)}) | {p_text(p_holm)} | "
                       f"{seeds_to_decide(values) or 'over 100'} | {reading} |")
    print("\n".join(out))
    if errors:
        sys.exit(f"{errors} rows could not be read")


if __name__ == "__main__":
    main()
