"""Python problems for the sample corpus's ``verified/`` part: a fixed set of small generated problems.

:func:`generated_problems` is a fixed set of small problems; the solutions named in :data:`GENERATED_DEFECTS`
are deliberately wrong, one kind of mistake for each reason the verifier rejects a candidate with.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class _Generated:
    name: str
    prompt: str
    solution: str
    tests: str
    defect: tuple[str, str] | None = None  # (the verifier's reason, the mistake) for a deliberately wrong one


def _g(
    name: str, prompt: str, solution: str, tests: str, defect: tuple[str, str] | None = None
) -> _Generated:
    return _Generated(
        name, prompt, textwrap.dedent(solution).lstrip("\n"), textwrap.dedent(tests).lstrip("\n"), defect
    )


# fmt: off
_GENERATED = (
    _g("add", "Write `add(a, b)`: return the sum of two numbers.", """
        def add(a, b):
            return a + b
        """, """
        assert add(2, 3) == 5
        assert add(-1, 1) == 0
        assert add(0.5, 0.25) == 0.75
        """),
    _g("sum-to", "Write `sum_to(n)`: return 1 + 2 + ... + n, and 0 when n is 0.", """
        def sum_to(n):
            return sum(range(n))
        """, """
        assert sum_to(0) == 0
        assert sum_to(1) == 1
        assert sum_to(10) == 55
        """, ("failed_test", "off by one: range(n) stops before n")),
    _g("is-palindrome", "Write `is_palindrome(text)`: whether `text` reads the same backwards, ignoring case "
       "and everything but letters and digits.", """
        def is_palindrome(text):
            kept = [c.lower() for c in text if c.isalnum()]
            return kept == kept[::-1]
        """, """
        assert is_palindrome("A man, a plan, a canal: Panama")
        assert is_palindrome("")
        assert not is_palindrome("mixer")
        """),
    _g("rectangle-area", "Write `rectangle_area(width, height)`: the area of a rectangle.", """
        def rectangle_area(width, height):
            return width + height
        """, """
        assert rectangle_area(2, 2) == 4
        assert rectangle_area(3, 4) == 12
        assert rectangle_area(0, 7) == 0
        """, ("failed_test", "wrong operator: + instead of *")),
    _g("reverse-words", "Write `reverse_words(sentence)`: the words of `sentence` in reverse order, "
       "separated by single spaces.", """
        def reverse_words(sentence):
            return " ".join(reversed(sentence.split()))
        """, """
        assert reverse_words("the quick  brown fox") == "fox brown quick the"
        assert reverse_words("   ") == ""
        """),
    _g("count-vowels", "Write `count_vowels(text)`: how many of the letters in `text` are vowels (a, e, i, o, "
       "u, either case).", """
        def count_vowels(text):
            return sum(1 for c in text.lower() if c in "aeiou")
        """, """
        assert count_vowels("Hello, World") == 3
        assert count_vowels("rhythm") == 0
        assert count_vowels("AEIOU") == 5
        """),
    _g("factorial", "Write `factorial(n)`: n! for n >= 0.", """
        def factorial(n):
            if n == 1:
                return 1
            return n * factorial(n - 1)
        """, """
        assert factorial(5) == 120
        assert factorial(1) == 1
        assert factorial(0) == 1
        """, ("crash", "wrong base case: factorial(0) recurses without end (RecursionError)")),
    _g("fizzbuzz", "Write `fizzbuzz(n)`: the list of the numbers 1 to n as strings, with multiples of 3 "
       'replaced by "Fizz", of 5 by "Buzz" and of both by "FizzBuzz".', """
        def fizzbuzz(n):
            out = []
            for i in range(1, n + 1):
                word = ("Fizz" if i % 3 == 0 else "") + ("Buzz" if i % 5 == 0 else "")
                out.append(word or str(i))
            return out
        """, """
        assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]
        assert fizzbuzz(15)[-1] == "FizzBuzz"
        assert fizzbuzz(0) == []
        """),
    _g("gcd", "Write `gcd(a, b)`: the greatest common divisor of two non-negative integers (gcd(0, 0) is 0).",
       """
        def gcd(a, b):
            while b:
                a, b = b, a % b
            return a
        """, """
        assert gcd(12, 18) == 6
        assert gcd(17, 5) == 1
        assert gcd(0, 9) == 9
        assert gcd(0, 0) == 0
        """),
    _g("count-digits", "Write `count_digits(n)`: how many decimal digits the integer `n` has, ignoring its "
       "sign (0 has one).", """
        def count_digits(n):
            count = 1
            n //= 10
            while n != 0:
                count += 1
                n //= 10
            return count
        """, """
        assert count_digits(0) == 1
        assert count_digits(12345) == 5
        assert count_digits(-45) == 2
        """, ("timeout", "negative numbers never reach 0 by floor division (-1 // 10 == -1): an endless loop")),
    _g("is-prime", "Write `is_prime(n)`: whether the integer `n` is a prime number.", """
        def is_prime(n):
            if n < 2:
                return False
            i = 2
            while i * i <= n:
                if n % i == 0:
                    return False
                i += 1
            return True
        """, """
        assert [n for n in range(20) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19]
        assert is_prime(7919)
        assert not is_prime(-7)
        """),
    _g("fibonacci", "Write `fibonacci(n)`: the n-th Fibonacci number, with fibonacci(0) == 0 and "
       "fibonacci(1) == 1.", """
        def fibonacci(n):
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            return a
        """, """
        assert [fibonacci(n) for n in range(10)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
        assert fibonacci(90) == 2880067194370816120
        """),
    _g("is-ipv4", "Write `is_ipv4(address)`: whether `address` is a dotted-quad IPv4 address such as "
       '"192.168.0.1".', """
        import socket


        def is_ipv4(address):
            try:
                socket.inet_aton(address)
            except OSError:
                return False
            return True
        """, """
        assert is_ipv4("192.168.0.1")
        assert not is_ipv4("256.1.1.1")
        assert not is_ipv4("1.2.3")
        """, ("forbidden_import", "imports socket (which would also accept '1.2.3')")),
    _g("flatten", "Write `flatten(items)`: the non-list elements of a nested list, in order.", """
        def flatten(items):
            out = []
            for item in items:
                if isinstance(item, list):
                    out.extend(flatten(item))
                else:
                    out.append(item)
            return out
        """, """
        assert flatten([1, [2, [3, 4]], [], 5]) == [1, 2, 3, 4, 5]
        assert flatten([]) == []
        assert flatten([["a"], "bc"]) == ["a", "bc"]
        """),
    _g("chunks", "Write `chunks(items, size)`: `items` cut into lists of `size` elements (the last one "
       "may be shorter).", """
        def chunks(items, size):
            return [items[i : i + size] for i in range(0, len(items), size)]
        """, """
        assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
        assert chunks([], 3) == []
        """),
    _g("zeroed-buffer", "Write `zeroed_buffer(kib)`: a bytearray of `kib` kibibytes, all zero.", """
        def zeroed_buffer(kib):
            return bytearray(kib * 1024 ** 3)
        """, """
        assert len(zeroed_buffer(2)) == 2048
        assert zeroed_buffer(1).count(0) == 1024
        """, ("memory", "wrong unit: 1024 ** 3 (GiB) instead of 1024 bytes per KiB")),
    _g("celsius-to-fahrenheit", "Write `celsius_to_fahrenheit(c)`: the temperature `c` in degrees Celsius, "
       "in degrees Fahrenheit.", """
        def celsius_to_fahrenheit(c):
            return c * 9 / 5 + 32
        """, """
        assert celsius_to_fahrenheit(0) == 32
        assert celsius_to_fahrenheit(100) == 212
        assert celsius_to_fahrenheit(-40) == -40
        """),
    _g("word-frequencies", "Write `word_frequencies(text)`: a dict from each lower-cased word of `text` "
       "(runs of letters) to how often it occurs, in order of first occurrence.", """
        import re


        def word_frequencies(text):
            counts = {}
            for word in re.findall(r"[a-z]+", text.lower()):
                counts[word] = counts.get(word, 0) + 1
            return counts
        """, """
        assert word_frequencies("The cat and the hat.") == {"the": 2, "cat": 1, "and": 1, "hat": 1}
        assert list(word_frequencies("b a b")) == ["b", "a"]
        assert word_frequencies("") == {}
        """),
    _g("binary-search", "Write `binary_search(items, target)`: the index of `target` in the sorted list "
       "`items`, or -1 when it is not there.", """
        def binary_search(items, target):
            lo, hi = 0, len(items) - 1
            while lo <= hi:
                mid = (lo + hi) // 2
                if items[mid] == target:
                    return mid
                if items[mid] < target:
                    lo = mid + 1
                else:
                    hi = mid - 1
            return -1
        """, """
        items = [1, 3, 5, 7, 9, 11]
        assert [binary_search(items, x) for x in items] == [0, 1, 2, 3, 4, 5]
        assert binary_search(items, 4) == -1
        assert binary_search([], 1) == -1
        """),
    _g("fetch-all", "Write `fetch_all(keys, fetch)`: `fetch(key)` for every key, called concurrently "
       "(fetch may be slow), the results in the order of `keys`.", """
        import threading


        def fetch_all(keys, fetch):
            results = [None] * len(keys)

            def work(i, key):
                results[i] = fetch(key)

            threads = [threading.Thread(target=work, args=(i, key)) for i, key in enumerate(keys)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return results
        """, """
        import time


        def slow_square(x):
            time.sleep(0.2)
            return x * x


        assert fetch_all([1, 2, 3], slow_square) == [1, 4, 9]
        assert fetch_all(list(range(100)), slow_square) == [x * x for x in range(100)]
        """, ("resource_limit", "one thread per key: 100 keys need more threads than the sandbox allows")),
    _g("dedupe", "Write `dedupe(items)`: `items` without repeated elements, keeping the first occurrence "
       "of each.", """
        def dedupe(items):
            seen = set()
            out = []
            for item in items:
                if item not in seen:
                    seen.add(item)
                    out.append(item)
            return out
        """, """
        assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]
        assert dedupe("mississippi") == ["m", "i", "s", "p"]
        """),
    _g("is-anagram", "Write `is_anagram(a, b)`: whether the two words use the same letters the same number "
       "of times, ignoring case.", """
        def is_anagram(a, b):
            return sorted(a.lower()) == sorted(b.lower())
        """, """
        assert is_anagram("Listen", "Silent")
        assert not is_anagram("abc", "abd")
        """),
    _g("roman", "Write `roman(n)`: the integer 1 <= n <= 3999 in Roman numerals.", """
        def roman(n):
            numerals = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
            out = []
            for value, letters in numerals:
                count, n = divmod(n, value)
                out.append(letters * count)
            return "".join(out)
        """, """
        assert roman(1994) == "MCMXCIV"
        assert roman(3999) == "MMMCMXCIX"
        assert roman(4) == "IV"
        """),
    _g("median-of-three", "Write `median_of_three(a, b, c)`: the middle one of three numbers.", """
        def median_of_three(a, b, c)
            return sorted([a, b, c])[1]
        """, """
        assert median_of_three(3, 1, 2) == 2
        assert median_of_three(5, 5, 1) == 5
        """, ("syntax_error", "the def line lacks its colon")),
    _g("caesar", "Write `caesar(text, shift)`: `text` with every ASCII letter moved `shift` places along "
       "the alphabet (wrapping around, keeping case); other characters unchanged.", """
        def caesar(text, shift):
            out = []
            for c in text:
                if c.isascii() and c.isalpha():
                    base = ord("A") if c.isupper() else ord("a")
                    c = chr(base + (ord(c) - base + shift) % 26)
                out.append(c)
            return "".join(out)
        """, """
        assert caesar("Hello, World!", 3) == "Khoor, Zruog!"
        assert caesar(caesar("mixer", 11), -11) == "mixer"
        assert caesar("xyz", 3) == "abc"
        """),
    _g("max-subarray", "Write `max_subarray(numbers)`: the largest sum of a non-empty run of consecutive "
       "elements of `numbers`.", """
        def max_subarray(numbers):
            best = current = numbers[0]
            for x in numbers[1:]:
                current = max(x, current + x)
                best = max(best, current)
            return best
        """, """
        assert max_subarray([-2, 1, -3, 4, -1, 2, 1, -5, 4]) == 6
        assert max_subarray([-3, -1, -2]) == -1
        """),
    _g("merge-sorted", "Write `merge_sorted(a, b)`: one sorted list of the elements of the sorted lists "
       "`a` and `b`.", """
        def merge_sorted(a, b):
            out, i, j = [], 0, 0
            while i < len(a) and j < len(b):
                if a[i] <= b[j]:
                    out.append(a[i])
                    i += 1
                else:
                    out.append(b[j])
                    j += 1
            return out + a[i:] + b[j:]
        """, """
        assert merge_sorted([1, 4, 9], [2, 3, 10, 11]) == [1, 2, 3, 4, 9, 10, 11]
        assert merge_sorted([], [1]) == [1]
        """),
    _g("is-leap-year", "Write `is_leap_year(year)`: whether `year` is a leap year in the Gregorian calendar.",
       """
        def is_leap_year(year):
            return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        """, """
        assert is_leap_year(2024) and is_leap_year(2000)
        assert not is_leap_year(1900) and not is_leap_year(2023)
        """),
    _g("digit-sum", "Write `digit_sum(n)`: the sum of the decimal digits of the integer `n` (its sign "
       "ignored).", """
        def digit_sum(n):
            return sum(int(d) for d in str(abs(n)))
        """, """
        assert digit_sum(12345) == 15
        assert digit_sum(-909) == 18
        assert digit_sum(0) == 0
        """),
    _g("transpose", "Write `transpose(matrix)`: the transpose of a matrix given as a list of equally long "
       "rows.", """
        def transpose(matrix):
            return [list(column) for column in zip(*matrix)]
        """, """
        assert transpose([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]
        assert transpose([]) == []
        """),
    _g("balanced", "Write `balanced(text)`: whether the brackets (), [] and {} in `text` are balanced and "
       "properly nested.", """
        def balanced(text):
            pairs = {")": "(", "]": "[", "}": "{"}
            stack = []
            for c in text:
                if c in "([{":
                    stack.append(c)
                elif c in pairs:
                    if not stack or stack.pop() != pairs[c]:
                        return False
            return not stack
        """, """
        assert balanced("f(a[1], {b: (2)})")
        assert not balanced("(]")
        assert not balanced("((")
        assert balanced("")
        """),
    _g("run-length", "Write `run_length(text)`: the run-length encoding of `text` as a list of "
       "(character, count) pairs.", """
        def run_length(text):
            out = []
            for c in text:
                if out and out[-1][0] == c:
                    out[-1] = (c, out[-1][1] + 1)
                else:
                    out.append((c, 1))
            return out
        """, """
        assert run_length("aaabccdddd") == [("a", 3), ("b", 1), ("c", 2), ("d", 4)]
        assert run_length("") == []
        """),
)
# fmt: on

# The deliberately wrong solutions of :func:`generated_problems`: id -> the reason the verifier rejects it.
GENERATED_DEFECTS = {
    f"generated-{i:02d}-{p.name}": p.defect[0] for i, p in enumerate(_GENERATED, start=1) if p.defect
}


def generated_problems() -> list[dict[str, str]]:
    """A fixed set of small problems; the solutions in :data:`GENERATED_DEFECTS` are wrong on purpose.

    Each wrong one carries ``defect`` (the mistake) besides ``origin``; the others pass their tests.
    """
    out = []
    for i, p in enumerate(_GENERATED, start=1):
        record = {"id": f"generated-{i:02d}-{p.name}", "prompt": p.prompt, "solution": p.solution}
        record.update(tests=p.tests, origin="generated")
        if p.defect:
            record["defect"] = p.defect[1]
        out.append(record)
    return out
