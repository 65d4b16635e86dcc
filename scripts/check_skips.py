"""Fail CI on a test that skipped without being allowed to: `.ci/run` runs this after pytest.

    uv run python scripts/check_skips.py SKIPS_FILE [--allowed tests/allowed_skips.txt]

SKIPS_FILE holds one JSON object per skipped test ({"nodeid", "reason"}), appended by
tests/conftest.py when AGENT_CI_SKIPS names it. The allow-list has one entry a line,
`<node id glob> | <reason>`; blank lines and `#` comments are ignored. Exit 0 when every
skip is allowed, 1 when one is not (each listed with its own reason), 2 on a bad input.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_allowed(path: Path) -> list[tuple[str, str]]:
    """(pattern, reason) per entry; a missing reason is an error, not a silent allowance."""
    entries: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = (part.strip() for part in line.partition("|"))
        if not pattern or not reason:
            raise ValueError(f"{path}:{number}: want `<node id glob> | <reason>`, got {line!r}")
        entries.append((pattern, reason))
    return entries


def load_skips(path: Path) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def check(skips: list[dict[str, str]], allowed: list[tuple[str, str]]) -> list[str]:
    """The report's lines; those of unexpected skips start with 'NOT ALLOWED'."""
    lines = []
    for skip in skips:
        why = next((r for p, r in allowed if fnmatch.fnmatchcase(skip["nodeid"], p)), None)
        if why is None:
            lines.append(f"NOT ALLOWED {skip['nodeid']}: {skip['reason']}")
        else:
            lines.append(f"allowed     {skip['nodeid']} ({why})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("skips", type=Path)
    parser.add_argument("--allowed", type=Path, default=ROOT / "tests" / "allowed_skips.txt")
    args = parser.parse_args(argv)
    if not args.skips.exists():
        print(f"check_skips: {args.skips} is missing: did pytest run with AGENT_CI_SKIPS set?")
        return 2
    try:
        allowed = load_allowed(args.allowed)
        skips = load_skips(args.skips)
    except (OSError, ValueError) as exc:
        print(f"check_skips: {exc}")
        return 2
    lines = check(skips, allowed)
    bad = [line for line in lines if line.startswith("NOT ALLOWED")]
    print("\n".join(lines) if lines else "no test skipped")
    if bad:
        print(
            f"\n{len(bad)} test(s) skipped that must run on CI: give them what they need, or"
            f" list them with a reason in {args.allowed}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
