"""PII and secret redaction with typed placeholders, as a datatrove formatter.

:class:`PIIRedactor` replaces e-mail and IP addresses and secrets with a placeholder naming their kind,
counts the replacements per kind in ``doc.metadata["redactions"]`` (only kinds that occurred) and in the
step's stats (``redacted_<kind>``). It is datatrove's ``BaseFormatter``; ``format(text)`` alone gives the
redacted text. datatrove's own ``PIIFormatter`` replaces e-mail and IP addresses with fake ones, counts
nothing and knows no secrets; we reuse its address check (``public_ip_validator``), not its e-mail
expression, whose local part allows quotes and braces: in code it would swallow the opening quote of
``f'{user}@example.com'`` and break the string.

=====================  ======================  ==============================================================
kind                   placeholder             what is replaced
=====================  ======================  ==============================================================
``private_key``        ``<PRIVATE_KEY>``       a ``-----BEGIN ... PRIVATE KEY-----`` ... ``-----END ...`` block
                                               (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP ... BLOCK) holding key
                                               material; when the block is split over several string
                                               literals, each base64 run of 40+ characters instead
``jwt``                ``<JWT>``               ``eyJ<header>.eyJ<payload>.<signature>`` (JSON Web Tokens)
``github_token``       ``<GITHUB_TOKEN>``      ``ghp_ gho_ ghu_ ghs_ ghr_`` + 36 or more alphanumerics,
                                               ``github_pat_`` + 22 or more
``slack_token``        ``<SLACK_TOKEN>``       ``xoxa- xoxb- xoxp- xoxo- xoxr- xoxs-`` tokens
``slack_webhook``      ``<SLACK_WEBHOOK>``     the path after ``https://hooks.slack.com/services/``
                                               (or ``/workflows/``); the host is kept
``aws_access_key``     ``<AWS_ACCESS_KEY>``    ``AKIA`` ``ASIA`` ``ABIA`` ``ACCA`` + 16 upper-case
                                               alphanumerics
``gcp_api_key``        ``<GCP_API_KEY>``       ``AIza`` + 35 characters (Google API keys)
``azure_key``          ``<AZURE_KEY>``         the value of ``AccountKey=`` / ``SharedAccessKey=`` in a
                                               connection string
``aws_secret_key``     ``<AWS_SECRET_KEY>``    40 base64 characters assigned to a name holding "aws" and
                                               "secret" (``aws_secret_access_key = ...``)
``url_password``       ``<PASSWORD>``          the password of ``scheme://user:password@host``
``secret``             ``<SECRET>``            a string assigned to a secret-like name (below)
``email``              ``<EMAIL>``             an e-mail address
``ip_address``         ``<IP_ADDRESS>``        a public IPv4 or IPv6 address (below)
=====================  ======================  ==============================================================

Kinds are applied in that order, so a GitHub token assigned to ``token`` is a ``github_token``, not a
``secret``. Replacements keep code parseable: only the secret itself is replaced, so
``password = "hunter2x9Q"`` becomes ``password = "<SECRET>"``; a private-key block inside a
triple-quoted string stays inside it; no placeholder contains a quote or a backslash.

**Generic secrets** (``secret``). A name containing ``password``, ``passwd``, ``pwd``, ``passphrase``,
``secret``, ``api_key``/``apikey``, ``access_key``, ``private_key``, ``auth`` (not "author"),
``token`` (not "tokens", "tokenize") or ``credential(s)`` (``DB_PASSWORD``, ``self.api_key``,
``"authToken"``), then ``=``, ``:``, ``:=``, ``=>`` or ``==``, then a value that is a quoted string, or
an unquoted word ending the assignment in configuration files (``.env``, YAML, INI, shell; see
``unquoted_secrets``). The value is redacted when it has at least ``secret_min_length`` (8)
characters, a letter and a digit, a Shannon entropy of at least ``secret_min_entropy`` (3.0) bits per
character, and is not a placeholder (``${VAR}``, ``%(x)s``, ``{{ x }}``, ``<...>``, ``xxxx``), a URL or
a path. detect-secrets (which BigCode's StarCoder pipeline used) flags keyword-less strings at 4.5 bits
(base64 alphabet) or 3.0 (hex); next to a secret-like name we accept 3.0 on any alphabet: eight distinct
characters reach it, "hunter2x9Q" (3.3) is redacted, "s3cr3tP4ss" (2.6) is not.

**IP addresses.** Like BigCode's StarCoder PII pipeline and datatrove's ``PIIFormatter`` (default
``only_remove_public_ips``), only public addresses are redacted: private, loopback, link-local,
documentation (192.0.2.0/24, 2001:db8::/32 ...), reserved and multicast ones are kept, as they identify
no one (``redact_private_ips`` changes that). Version numbers are not addresses: a dotted quad is kept when
it is part of a longer dotted number (``1.2.3.4.5``, OIDs, ``.in-addr.arpa`` names), follows a letter
(``v1.2.3.4``), directly follows "ver", "build", "rev", "firmware" or "kernel", or the 60 characters
before it mention a version, revision, release, section or chapter; and, as BigCode did, a quad of single
digits (``1.2.3.4``) is kept unless "dns", "server", "host" or "ip" appears within 100 characters. Well-known public DNS resolvers (8.8.8.8, 1.1.1.1, 9.9.9.9 ...) are kept: they are not
personal. An IPv6 candidate needs at least three non-empty groups and a digit, so C++ ``a::b`` and
Python slices ``x[1::2]`` are not addresses.

**E-mail addresses.** ``local@domain.tld`` with a top-level domain of 2 to 24 letters, all lower or all
upper case (``x@unittest.skipIf`` in code is not an address), and not the ``user:password@`` of a URL.
Addresses at the reserved example domains (``example.com/.org/.net``, ``*.example``, ``*.test``,
``*.invalid``, ``*.localhost``; RFC 2606) and ``git@host`` SSH remotes are kept: they are not personal.

Speed: every kind has a cheap pre-check before its expression (a substring test, or a short expression
that starts with a literal, which the engine finds at memchr speed); secret-like names are found with
``bytes.find`` on an ASCII-lower-cased copy and the assignment is matched only there; e-mail addresses
are searched from each ``@``, IP addresses from ``.d.d.`` and ``:h:`` seeds, rather than at every
position.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Literal

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.formatters.base import BaseFormatter
from datatrove.pipeline.formatters.pii import public_ip_validator
from datatrove.utils.typeshelper import StatHints

from mixer.errors import PlanError
from mixer.filters.code import language_from_path, normalise_language

PLACEHOLDERS: dict[str, str] = {
    "private_key": "<PRIVATE_KEY>",
    "jwt": "<JWT>",
    "github_token": "<GITHUB_TOKEN>",
    "slack_token": "<SLACK_TOKEN>",
    "slack_webhook": "<SLACK_WEBHOOK>",
    "aws_access_key": "<AWS_ACCESS_KEY>",
    "gcp_api_key": "<GCP_API_KEY>",
    "azure_key": "<AZURE_KEY>",
    "aws_secret_key": "<AWS_SECRET_KEY>",
    "url_password": "<PASSWORD>",
    "secret": "<SECRET>",
    "email": "<EMAIL>",
    "ip_address": "<IP_ADDRESS>",
}
KINDS = tuple(PLACEHOLDERS)  # the order in which they are applied

# Languages in which an unquoted right-hand side is an expression (a name, a call), never a literal secret.
EXPRESSION_LANGUAGES = frozenset(
    "python javascript typescript java c c++ c# go rust ruby php swift kotlin scala groovy r julia lua perl "
    "haskell ocaml f# elixir erlang clojure dart objective-c objective-c++ fortran zig nim cuda solidity vue".split()
)
PUBLIC_DNS_RESOLVERS = frozenset(
    "8.8.8.8 8.8.4.4 1.1.1.1 1.0.0.1 9.9.9.9 149.112.112.112 208.67.222.222 208.67.220.220 "
    "2001:4860:4860::8888 2001:4860:4860::8844 2606:4700:4700::1111 2606:4700:4700::1001".split()
)

# --- token-shaped secrets: (kind, pre-check, expression; group "v" is the part replaced, else all). Each
# pre-check starts with a literal, which the regex engine finds at memchr speed (~2 GB/s): one search is
# ~8x faster than testing its alternatives one by one with `in`.
_TOKENS: list[tuple[str, str | None, re.Pattern]] = [
    ("jwt", "eyJ", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    (
        "github_token",
        "gh[pousr]_|github_pat_",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ),
    ("slack_token", "xox", re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,250}")),
    (
        "slack_webhook",
        r"hooks\.slack\.com",
        re.compile(r"https?://hooks\.slack\.com/(?:services|workflows)/(?P<v>[A-Za-z0-9_/+-]{8,})"),
    ),
    (
        "aws_access_key",
        "A(?:KIA|SIA|BIA|CCA)",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    ),
    ("gcp_api_key", "AIza", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
    (
        "azure_key",
        "Key=",
        re.compile(r"(?:AccountKey|SharedAccessKey)=(?P<v>[A-Za-z0-9+/]{20,}={0,2})"),
    ),
    (
        "aws_secret_key",
        None,  # "aws" in the lower-cased text
        re.compile(
            r"(?i:aws)[A-Za-z0-9_.-]{0,20}?(?i:secret)[A-Za-z0-9_.-]{0,30}[\"']?\s*(?::=|=>|[:=])\s*[\"']?"
            r"(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
    ),
    (
        "url_password",
        "://",
        re.compile(r"://[^\s:/@\"'`<>]{1,64}:(?P<v>[^\s:/@\"'`<>]{1,128})@(?=[A-Za-z0-9\[])"),
    ),
]

_TOKEN_STEPS = [(kind, re.compile(hint) if hint else None, pattern) for kind, hint, pattern in _TOKENS]

_PRIVATE_KEY = re.compile(
    # (a group that took part in the match, even empty: Python's back references fail on one that did not)
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----(?P<body>.{0,65536}?)-----END \1PRIVATE KEY\2-----",
    re.DOTALL,
)
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/=]{40,}")
_QUOTES = re.compile(r"[\"'`]")

_SECRET_NAME = (
    r"(?i:passw(?:or)?d|pwd|passphrase|secret|api[_-]?key|access[_-]?key|private[_-]?key|credentials?"
    r"|auth|token)(?![a-z])"
)
_SECRET = re.compile(
    _SECRET_NAME + r"[A-Za-z0-9_.-]*[\"'\]]?[ \t]*"
    r"(?::[ \t]*[A-Za-z_][\w.\[\]|, ]{0,40}?[ \t]*(?==))?"  # a type annotation: api_key: str = "..."
    r"(?::=|=>|==|[:=])[ \t]*"
    r"(?:(?P<q>[\"'`])(?P<v>[^\"'`\s\\<>]{1,256})(?P=q)|(?P<uv>[^\s\"'`\\<>;,(){}\[\]]{1,256})(?=[ \t]*(?:[#;,]|$)))",
    re.MULTILINE,
)
_BEARER = re.compile(r"\b[Bb]earer[ \t]+(?P<v>[A-Za-z0-9._~+/-]{8,256}=*)(?![A-Za-z0-9._~+/=-])")
_SECRET_WORDS = (b"passw", b"pwd", b"passphrase", b"secret", b"key", b"credential", b"auth", b"token")
_KEY_PREFIX = re.compile(rb"(?:api|access|private)[_-]?\Z")
_TEMPLATE = re.compile(r"\$\{|\$\(|^\$\w|%\(|%s|\{")
_NOT_A_SECRET = re.compile(r"^(?:.*(?:\$\{|\$\(|%\(|%s|\{\{|://).*|\$\w+|[/~.].*|(.)\1*|\*+)$")
_PASSWORD_WORDS = frozenset("password pass passwd pwd pw secret passphrase xxx xxxx changeme".split())
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+-]{1,64}\Z")
_EMAIL_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([a-z]{2,24}|[A-Z]{2,24})(?![A-Za-z0-9-])"
)
_URL_BREAK = re.compile(r"[\s/\"'`<>]")
_EXAMPLE_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost)$", re.IGNORECASE
)

_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_IPV4_SEED = re.compile(r"\.\d{1,3}\.\d{1,3}\.")
_IPV6_SEED = re.compile(r":[0-9A-Fa-f]{0,4}:")
_HEX_OR_COLON = frozenset("0123456789abcdefABCDEF:")
_IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}")
_VERSION_CONTEXT = re.compile(r"version|revision|release|section|chapter|§", re.IGNORECASE)  # 60 chars before
_VERSION_PREFIX = re.compile(
    r"(?:\bver|\bbuild|\brev|\bfirmware|\bkernel)[\s:=#-]*\Z", re.IGNORECASE
)  # just before
_NETWORK_CONTEXT = re.compile(r"dns|server|host|\bip\b", re.IGNORECASE)
_WORD_OR_DOT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
_IPV6_NEIGHBOURS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:")


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


class PIIRedactor(BaseFormatter):
    """Replace e-mail and IP addresses and secrets with typed placeholders; count them per kind."""

    name = "🔒 PII redaction"

    def __init__(
        self,
        *,
        kinds: list[str] | None = None,
        placeholders: dict[str, str] | None = None,
        redact_private_ips: bool = False,
        secret_min_length: int = 8,
        secret_min_entropy: float = 3.0,
        unquoted_secrets: Literal["auto", "always", "never"] = "auto",
        language_keys: list[str] | None = None,
        path_keys: list[str] | None = None,
    ) -> None:
        """
        Args:
            kinds: the kinds to redact (module docstring), all by default.
            placeholders: replacement text per kind, over the defaults (``<EMAIL>``, ...).
            redact_private_ips: redact private, loopback and reserved addresses too.
            secret_min_length: shortest value of a secret-like name that is redacted.
            secret_min_entropy: lowest Shannon entropy (bits per character) of such a value.
            unquoted_secrets: "auto" redacts unquoted values (``PASSWORD=Zk3Lm9Qp2Xw7``) except in source code
                of the :data:`EXPRESSION_LANGUAGES`, where they are names, not literals.
            language_keys, path_keys: metadata keys holding the document's language and file path.
        """
        super().__init__()
        unknown = sorted(set(kinds or ()) - set(KINDS)) + sorted(set(placeholders or ()) - set(KINDS))
        if unknown:
            raise PlanError(f"pii: unknown kinds {unknown}; valid kinds: {', '.join(KINDS)}")
        self.kinds = frozenset(KINDS if kinds is None else kinds)
        self.placeholders = {**PLACEHOLDERS, **(placeholders or {})}
        self.redact_private_ips = redact_private_ips
        self.secret_min_length = secret_min_length
        self.secret_min_entropy = secret_min_entropy
        self.unquoted_secrets = unquoted_secrets
        self.language_keys = language_keys or ["language", "lang"]
        self.path_keys = path_keys or ["path", "max_stars_repo_path"]

    # --- datatrove ---------------------------------------------------------------------------------------

    def format(self, text: str) -> str:
        return self.redact(text)[0]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update(StatHints.total)
            meta = doc.metadata
            path = next((p for k in self.path_keys if isinstance(p := meta.get(k), str) and p), None)
            lang = next((v for k in self.language_keys if isinstance(v := meta.get(k), str) and v), None)
            with self.track_time():
                doc.text, counts = self.redact(doc.text, language=lang, path=path)
            if counts:
                merged = meta.setdefault("redactions", {})
                for kind, n in counts.items():
                    merged[kind] = merged.get(kind, 0) + n
                    self.stat_update(f"redacted_{kind}", value=n)
                self.stat_update("documents_redacted")
            yield doc

    # --- redaction ---------------------------------------------------------------------------------------

    def redact(
        self, text: str, language: str | None = None, path: str | None = None
    ) -> tuple[str, dict[str, int]]:
        """``text`` with every enabled kind replaced, and the number of replacements per kind (non-zero)."""
        counts: dict[str, int] = {}
        kinds = self.kinds

        def run(kind: str, present: bool, replace: Callable[[str], tuple[str, int]]) -> None:
            nonlocal text
            if present:
                text, n = replace(text)
                if n:
                    counts[kind] = n

        lower = _ascii_lower(text) if "secret" in kinds or "aws_secret_key" in kinds else b""
        run("private_key", "private_key" in kinds and "PRIVATE KEY" in text, self._private_keys)
        for kind, hint, pattern in _TOKEN_STEPS:
            present = kind in kinds and (hint.search(text) if hint is not None else b"aws" in lower)
            run(kind, bool(present), lambda t, k=kind, p=pattern: self._sub(p, t, k))
        if "secret" in kinds:
            if counts:  # the text changed: positions in the old lower-cased copy no longer hold
                lower = _ascii_lower(text)
            if any(h in lower for h in _SECRET_WORDS) or "earer" in text:
                lang = (
                    normalise_language(language) if language else (language_from_path(path) if path else None)
                )
                unquoted = self.unquoted_secrets == "always" or (
                    self.unquoted_secrets == "auto" and lang not in EXPRESSION_LANGUAGES
                )
                text, n = self._secrets(text, lower, unquoted)
                if n:
                    counts["secret"] = n
        run("email", "email" in kinds and "@" in text, self._emails)
        run("ip_address", "ip_address" in kinds, self._ips)
        return text, counts

    def _sub(self, pattern: re.Pattern, text: str, kind: str) -> tuple[str, int]:
        placeholder = self.placeholders[kind]
        group = "v" if "v" in pattern.groupindex else 0
        check = _is_url_password if kind == "url_password" else None
        count = 0

        def replace(m: re.Match) -> str:
            nonlocal count
            if check is not None and not check(m.group(group)):
                return m.group()
            count += 1
            return _splice(m, group, placeholder)

        return pattern.sub(replace, text), count

    def _private_keys(self, text: str) -> tuple[str, int]:
        placeholder = self.placeholders["private_key"]
        count = 0

        def replace(m: re.Match) -> str:
            nonlocal count
            body = m.group("body")
            if not _KEY_MATERIAL.search(body):  # a marker in docs or code, no key in it
                return m.group()
            count += 1
            if not _QUOTES.search(body):
                return placeholder
            # split over string literals ("-----BEGIN ...\n" "MIIE...\n" ...): replace only the key material
            return _splice(m, "body", _KEY_MATERIAL.sub(placeholder, body))

        return _PRIVATE_KEY.sub(replace, text), count

    def _secrets(self, text: str, lower: bytes, unquoted: bool) -> tuple[str, int]:
        # The names are found with bytes.find on the lower-cased copy (C speed), the assignment is then
        # matched at each: ~25x faster than letting one case-insensitive expression try every position.
        spans = []
        done = 0
        for start in _secret_name_starts(lower):
            if start < done:
                continue
            m = _SECRET.match(text, start)
            if m is None:
                continue
            group = "uv" if m.group("uv") is not None else "v"
            if (group == "v" or unquoted) and self.looks_secret(m.group(group)):
                spans.append(m.span(group))
                done = m.end()
        if "earer" in text:
            for m in _BEARER.finditer(text):
                if self.looks_secret(m.group("v")):
                    spans.append(m.span("v"))
        return _replace_spans(text, sorted(spans), self.placeholders["secret"])

    def looks_secret(self, value: str) -> bool:
        """Whether a value assigned to a secret-like name is redacted (module docstring)."""
        return (
            len(value) >= self.secret_min_length
            and _LETTER.search(value) is not None
            and _DIGIT.search(value) is not None
            and _NOT_A_SECRET.match(value) is None
            and shannon_entropy(value) >= self.secret_min_entropy
        )

    def _emails(self, text: str) -> tuple[str, int]:
        placeholder = self.placeholders["email"]
        out: list[str] = []
        done = count = 0
        at = text.find("@")
        while at != -1:
            local = _EMAIL_LOCAL.search(text, max(done, at - 64), at)
            domain = _EMAIL_DOMAIN.match(text, at + 1) if local else None
            if (
                local
                and domain
                and _is_personal_email(local.group(), domain.group())
                and not _in_url_userinfo(text, local.start())
            ):
                out += [text[done : local.start()], placeholder]
                done = domain.end()
                count += 1
            at = text.find("@", max(at + 1, done))
        if not count:
            return text, 0
        out.append(text[done:])
        return "".join(out), count

    def _ips(self, text: str) -> tuple[str, int]:
        # Seeds with a literal first character (".d.d." and ":h:") let the engine skip ahead; each seed is
        # then widened to its candidate address and checked.
        spans = []
        done = 0
        for seed in _IPV4_SEED.finditer(text):
            start = seed.start()
            while start > 0 and start > seed.start() - 4 and text[start - 1].isdigit():
                start -= 1
            if start < done or start == seed.start():
                continue
            m = _IPV4.match(text, start)
            if m and self._is_redactable_ipv4(text, start, m.end(), m.group()):
                spans.append(m.span())
                done = m.end()
        if ":" in text:
            done = 0
            for seed in _IPV6_SEED.finditer(text):
                start = seed.start()
                while start > 0 and start > seed.start() - 40 and text[start - 1] in _HEX_OR_COLON:
                    start -= 1
                if start < done:
                    continue
                m = _IPV6.match(text, start)
                if m and self._is_redactable_ipv6(text, start, m.end(), m.group()):
                    spans.append(m.span())
                    done = m.end()
        return _replace_spans(text, sorted(spans), self.placeholders["ip_address"])

    def _is_redactable_ipv6(self, text: str, start: int, end: int, value: str) -> bool:
        return (
            sum(1 for g in value.split(":") if g) >= 3
            and any(c.isdigit() for c in value)
            and (start == 0 or text[start - 1] not in _IPV6_NEIGHBOURS)
            and (end == len(text) or text[end] not in _IPV6_NEIGHBOURS)
            and value not in PUBLIC_DNS_RESOLVERS
            and self._is_redactable_ip(value)
        )

    def _is_redactable_ipv4(self, text: str, start: int, end: int, value: str) -> bool:
        if start and text[start - 1] in _WORD_OR_DOT:  # v1.2.3.4, 10.1.2.3.4 (a longer dotted number)
            return False
        if end < len(text) and text[end] in _WORD_OR_DOT:
            # a word or more dots follow (1.2.3.4.5, 4.3.2.1.in-addr.arpa); a full stop may end a sentence
            if text[end] != "." or text[end + 1 : end + 2] in _WORD_OR_DOT:
                return False
        if value in PUBLIC_DNS_RESOLVERS or not self._is_redactable_ip(value):
            return False
        if _VERSION_CONTEXT.search(text, max(0, start - 60), start) or _VERSION_PREFIX.search(
            text, max(0, start - 12), start
        ):
            return False
        if len(value) == 7:  # x.x.x.x: a version unless the context speaks of networks (BigCode's rule)
            return _NETWORK_CONTEXT.search(text[max(0, start - 100) : end + 100]) is not None
        return True

    def _is_redactable_ip(self, value: str) -> bool:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return False
        if self.redact_private_ips:
            return not ip.is_unspecified
        return public_ip_validator(value) and not ip.is_multicast and not ip.is_reserved


def _ascii_lower(text: str) -> bytes:
    """``text`` lower-cased in ASCII, one byte per character: positions agree with ``text`` (str.lower
    may change the length: "İ" becomes two characters)."""
    return text.encode("ascii", "replace").lower()


def _secret_name_starts(lower: bytes) -> list[int]:
    """Where a secret-like name may start in the lower-cased text (a superset; _SECRET decides)."""
    starts = []
    for word in _SECRET_WORDS:
        i = lower.find(word)
        while i != -1:
            if word == b"key":  # api_key, accesskey, private-key: start at the prefix
                m = _KEY_PREFIX.search(lower, max(0, i - 8), i)
                if m is not None:
                    starts.append(m.start())
            else:
                starts.append(i)
            i = lower.find(word, i + 1)
    return sorted(starts)


def _replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> tuple[str, int]:
    """``text`` with each span (sorted; one overlapping an earlier one is skipped) replaced, and how many."""
    if not spans:
        return text, 0
    out, done, count = [], 0, 0
    for start, end in spans:
        if start < done:
            continue
        out += [text[done:start], placeholder]
        done = end
        count += 1
    out.append(text[done:])
    return "".join(out), count


def _splice(m: re.Match, group: int | str, replacement: str) -> str:
    """The match's text with ``group`` replaced."""
    whole, offset = m.group(), m.start()
    return whole[: m.start(group) - offset] + replacement + whole[m.end(group) - offset :]


def _is_url_password(value: str) -> bool:
    """A real password, not a template (``${DB_PASS}``, ``%s``, ``{password}``) or a word standing for one."""
    return value.lower() not in _PASSWORD_WORDS and _TEMPLATE.search(value) is None and len(set(value)) > 1


def _in_url_userinfo(text: str, start: int) -> bool:
    """Whether ``start`` follows ``scheme://user:`` (the password of a URL, not an e-mail address)."""
    if start == 0 or text[start - 1] != ":":
        return False
    head = text[max(0, start - 128) : start]
    scheme = head.rfind("://")
    return scheme != -1 and _URL_BREAK.search(head, scheme + 3) is None


def _is_personal_email(local: str, domain: str) -> bool:
    if local.startswith(".") or local.endswith(".") or local == "git":
        return False
    return _EXAMPLE_DOMAIN.search(domain) is None
