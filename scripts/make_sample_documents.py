"""Write the synthetic sample documents of the batch document review demo: documents, per-page Textract
analyses and ground truth, deterministic for the seed (the same seed gives byte-identical files).

    python scripts/make_sample_documents.py [--out DIR] [--count N] [--seed S]

The layout and the convention the pipeline follows to find each page's analysis: see demo.samples.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # demo/ lives in the repository, not in the package
from demo.samples import (
    ANALYSES_DIR,
    DEFAULT_COUNT,
    DEFAULT_OUT,
    DEFAULT_SEED,
    DOCUMENTS_DIR,
    GROUND_TRUTH_FILE,
    write_samples,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT,
                        help=f"number of documents (default {DEFAULT_COUNT})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = write_samples(args.out, seed=args.seed, count=args.count)
    print(f"Wrote sample documents to {args.out} (seed {args.seed}):")
    print(f"  documents:             {summary.documents} ({summary.pdf} PDF, {summary.png} PNG) in "
          f"{args.out / DOCUMENTS_DIR}")
    print(f"  pages:                 {summary.pages} (one analysis each in {args.out / ANALYSES_DIR})")
    print(f"  multi-page PDFs:       {summary.multi_page}")
    print(f"  fields:                {summary.fields} (ground truth in {args.out / GROUND_TRUTH_FILE})")
    print(f"  low-confidence fields: {summary.low_confidence}")
    print(f"  wrong values:          {summary.wrong_values}")
    print(f"  missing keys:          {summary.missing_keys}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
