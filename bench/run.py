"""`make bench`: every benchmark, printed as tables (figures are recorded in BENCHMARKS.md)."""

from bench import commits, dedup, filters, reblend, tokenize, train, verified

if __name__ == "__main__":
    tokenize.main()
    reblend.main()
    verified.main()
    commits.main()
    dedup.main()
    filters.main()
    train.main([])
