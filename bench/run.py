"""`make bench`: every benchmark, printed as tables."""

from bench import tokenize

if __name__ == "__main__":
    tokenize.main()
