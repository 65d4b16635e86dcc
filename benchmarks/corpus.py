"""Accuracy of the reader on the corpus (tests/corpus/README.md): the figures the receipts
targets name, for each part (six encoders: train, heldout, fresh; POS software's layouts
through two more encoders: pos, pos-final), and the time.

    uv run python benchmarks/corpus.py [--failures]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.corpus_score import score  # noqa: E402


def main() -> None:
    for part in ("train", "heldout", "fresh", "pos", "pos-final"):
        started = time.process_time()
        result = score(part)
        seconds = time.process_time() - started
        print(result.report())
        print(f"  {seconds * 1000 / max(1, result.receipts):.1f} ms per receipt (CPU)")
        if "--failures" in sys.argv:
            for failure in result.failures:
                print("   ", failure)


if __name__ == "__main__":
    main()
