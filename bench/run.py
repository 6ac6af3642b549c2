"""`make bench`: every benchmark, printed as tables (figures are recorded in BENCHMARKS.md)."""

from bench import commits, reblend, tokenize, train, verified

if __name__ == "__main__":
    tokenize.main()
    reblend.main()
    verified.main()
    commits.main()
    train.main([])
