#!/usr/bin/env python3
"""Whether two folders of training runs hold the same results, for a change
to the training code that must not change what it trains.

    scripts/same_bundles.py DIR_A DIR_B [--ignore training.some_key ...]

For every NAME.safetensors in DIR_A (scripts/same-training writes them):
the tensors must be the same to the byte, the bundle's description the same
once each folder's own path is replaced by one placeholder, and NAME.log the
same but for speeds and times. A description key a change adds on purpose
(a new option recorded in every bundle) is passed as --ignore, a dotted path
into the description. Prints one line per run; exits 1 when any differs.
"""
import argparse
import json
import pathlib
import re
import struct
import sys


def read_bundle(path):
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    # Offsets depend on the header's length, not on the values: compare
    # each tensor's dtype, shape and bytes by name.
    tensors = {}
    body = data[8 + length :]
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        tensors[name] = (entry["dtype"], entry["shape"], body[begin:end])
    return tensors, metadata


def description(metadata, folder):
    text = json.dumps(metadata)
    text = text.replace(str(folder.resolve()), "DIR")
    out = {}
    for key, value in json.loads(text).items():
        try:
            out[key] = json.loads(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def differences(a, b, path=""):
    """Dotted paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else key
            if key not in a:
                found.append(sub + " (only in B)")
            elif key not in b:
                found.append(sub + " (only in A)")
            else:
                found += differences(a[key], b[key], sub)
        return found
    return [] if a == b else [path]


def log_lines(path, folder):
    if not path.exists():
        return None
    text = path.read_text(errors="replace")
    text = text.replace(str(folder.resolve()), "DIR")
    # Speeds, times and the progress bar's redraws vary from run to run.
    text = re.sub(r"\d+(\.\d+)? (img|vol)/s", "", text)
    text = re.sub(r"ETA [0-9:]+", "", text)
    text = re.sub(r"\d+(\.\d+)? ?(s|ms|min)\b", "", text)
    return [line.rstrip() for line in text.split("\n")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=pathlib.Path)
    parser.add_argument("b", type=pathlib.Path)
    parser.add_argument("--ignore", action="append", default=[],
                        help="a description key expected to differ (dotted, e.g. training.erase_probability)")
    args = parser.parse_args()
    bundles = sorted(args.a.glob("*.safetensors"))
    bundles = [p for p in bundles if not p.name.endswith(".checkpoint.safetensors")]
    if not bundles:
        print(f"{args.a}: no bundles to compare", file=sys.stderr)
        return 2
    bad = 0
    for path_a in bundles:
        name = path_a.name[: -len(".safetensors")]
        path_b = args.b / path_a.name
        if not path_b.exists():
            print(f"{name}: missing in {args.b}")
            bad += 1
            continue
        tensors_a, meta_a = read_bundle(path_a)
        tensors_b, meta_b = read_bundle(path_b)
        problems = []
        differing = sorted(n for n in set(tensors_a) | set(tensors_b)
                           if tensors_a.get(n) != tensors_b.get(n))
        if differing:
            problems.append(f"{len(differing)} tensors differ (first: {differing[0]})")
        described = differences(description(meta_a, args.a), description(meta_b, args.b))
        ignored = [d for d in described
                   if any(d.split(" ")[0].endswith("." + k) or d.split(" ")[0] == k
                          for k in args.ignore)]
        described = [d for d in described if d not in ignored]
        if described:
            problems.append("description differs at " + ", ".join(described))
        if log_lines(args.a / f"{name}.log", args.a) != log_lines(args.b / f"{name}.log", args.b):
            problems.append("log differs")
        bad += bool(problems)
        note = f" (ignored: {', '.join(ignored)})" if ignored else ""
        print(f"{name}: " + ("; ".join(problems) if problems else "same") + note)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
