"""`make bench`: every benchmark, printed as tables (figures are recorded in BENCHMARKS.md)."""

from bench import (
    commits,
    dedup,
    filters,
    footprint,
    pipeline,
    quality,
    reblend,
    tokenize,
    train,
    verified,
)

if __name__ == "__main__":
    tokenize.main()
    tokenize.main_unseen()
    footprint.main()
    reblend.main()
    verified.main()
    commits.main()
    dedup.main()
    filters.main()
    quality.main()
    pipeline.main()
    pipeline.main(corpus="other-prose")
    train.main([])
