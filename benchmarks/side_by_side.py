"""Benchmarks of this tree and of an earlier commit, run in turns in one run, so a change in
speed is told apart from a busy machine. Prints figures; not a test.

The earlier commit is checked out into a temporary git worktree, and this tree's `benchmarks/`
and `tests/` are copied over it: both sides run the same benchmark on the same inputs with
this tree's virtualenv, and only `agent/` and `drivers/` differ. Each round runs every
benchmark on both sides (the side that goes first alternates); each figure is the median of
its rounds, with the change from the earlier commit.

    uv run python benchmarks/side_by_side.py [--ref REV] [--rounds N] [BENCHMARK ...]

The default benchmarks are the reader's (`receipts.py`) and the decoder's (`escpos.py`); the
default REV is 5df57a2, the tree before issue 22's reader.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# Lines with figures in them; a line's label is its text with the figures taken out.
NOISE = ("Using hardware", "media.width", "load average")


Figures = list[tuple[str, list[float]]]  # a benchmark's lines with figures, in order


def figures(output: str) -> Figures:
    return [(line.rstrip(), [float(n.replace(",", "")) for n in NUMBER.findall(line)])
            for line in output.splitlines()
            if NUMBER.search(line) and not any(n in line for n in NOISE)]


def _label(text: str) -> str:
    return " ".join(NUMBER.sub("#", text).split())


def run(tree: Path, benchmark: str) -> Figures:
    done = subprocess.run([sys.executable, str(tree / "benchmarks" / benchmark)], cwd=tree,
                          capture_output=True, text=True, check=True)
    return figures(done.stdout)


def worktree(ref: str, into: Path) -> Path:
    tree = into / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet",
                    str(tree), ref], check=True)
    for part in ("benchmarks", "tests"):
        shutil.rmtree(tree / part)
        shutil.copytree(ROOT / part, tree / part,
                        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="5df57a2", help="the earlier commit")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("benchmarks", nargs="*", default=["receipts.py", "escpos.py"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as folder:
        base = worktree(args.ref, Path(folder))
        try:
            for benchmark in args.benchmarks:
                sides: dict[str, list[Figures]] = {"base": [], "this": []}
                for k in range(args.rounds):
                    order = [("base", base), ("this", ROOT)]
                    for name, tree in order if k % 2 == 0 else order[::-1]:
                        sides[name].append(run(tree, benchmark))
                report(benchmark, args.ref, args.rounds, sides)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(base)], check=False)


def report(benchmark: str, ref: str, rounds: int, sides: dict[str, list[Figures]]) -> None:
    """Line by line: the last figure that differs between the sides (the speed; sizes and
    counts are the same on both), as the median of the rounds."""
    print(f"{benchmark}: {ref} against this tree, median of {rounds} rounds in turns")
    print(f"  {'(per second: higher is faster; ms: lower)':58} {ref:>10} {'this':>10}  change")
    for n, (text, _) in enumerate(sides["this"][0]):
        label = _label(text)
        runs = {side: [r[n][1] for r in rs if n < len(r) and _label(r[n][0]) == label]
                for side, rs in sides.items()}
        if len(runs["base"]) < rounds or len(runs["this"]) < rounds:
            continue  # a line the earlier tree does not print
        base, this = ([statistics.median(v) for v in zip(*runs[side], strict=True)]
                      for side in ("base", "this"))
        moved = [i for i, (b, t) in enumerate(zip(base, this, strict=True)) if b != t]
        i = moved[-1] if moved else len(base) - 1
        spans = [m.span() for m in NUMBER.finditer(text)]
        head = text[: spans[moved[0] if moved else i][0]].strip()
        if moved and moved[0] != i:  # the figure shown is further on: name it by its unit
            head += " ... " + text[spans[i][1]:].split()[0]
        change = (this[i] - base[i]) / base[i] * 100 if base[i] else 0.0
        print(f"  {head[:58]:58} {base[i]:10.2f} {this[i]:10.2f}  {change:+6.1f} %")


if __name__ == "__main__":
    main()
