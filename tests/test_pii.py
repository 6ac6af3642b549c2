"""PIIRedactor: real-looking configs and sources, one table per kind, parseability, the standard library."""

from __future__ import annotations

import ast
import random
import sysconfig
from collections import Counter
from pathlib import Path

import pytest
from datatrove.data import Document

from mixer.errors import PlanError
from mixer.filters.pii import KINDS, PLACEHOLDERS, PIIRedactor, shannon_entropy

# Secrets made up for these tests, in the shapes the detectors look for.
GITHUB = "ghp_" + "Zq8mW3vLx9Tb2Rk7Ny4Pc6Hd1Jf5Gs0Ae3Uo"  # 36 after the prefix
SLACK = "xoxb-2461840392-4189230471-Lq7Vt2Mx9Rb4Nc8Kp3Wd6Hs1"
WEBHOOK_PATH = "T024BE7LD/B05QX3N7Z9K/8yZrVb2LmQk4Tx7Nc1Wd9Hs3"
AWS_ID = "AKIA2E0A8F3B244C9986"
AWS_TEMP_ID = "ASIAY34FZKBOKMUTVV7A"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_SECRET_2 = "Kx8pUz1D0vQ+7aGnT3yF5cL2hR9eW4sJ6bM0iN8o"
GCP = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AZURE = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def key_lines(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return ["".join(rng.choice(alphabet) for _ in range(64)) for _ in range(n)]


def test_fixture_shapes():
    assert len(GITHUB) == 40 and len(AWS_SECRET) == len(AWS_SECRET_2) == 40 and len(GCP) == 39
    assert len(AWS_ID) == len(AWS_TEMP_ID) == 20 and len(AZURE) == 88


def redact(text: str, path: str | None = None, **params) -> tuple[str, dict[str, int]]:
    return PIIRedactor(**params).redact(text, path=path)


# --- real-looking files -------------------------------------------------------------------------------------

ENV = f"""# database
DB_HOST=10.0.12.7
DB_USER=app
DB_PASSWORD=Xk9#mQ2vL7pW
DATABASE_URL=postgres://app:Xk9mQ2vL7pWq@db.acme-corp.io:5432/prod
REDIS_URL=redis://localhost:6379/0
AWS_ACCESS_KEY_ID={AWS_ID}
AWS_SECRET_ACCESS_KEY={AWS_SECRET}
GITHUB_TOKEN={GITHUB}
SLACK_BOT_TOKEN={SLACK}
SLACK_WEBHOOK_URL=https://hooks.slack.com/services/{WEBHOOK_PATH}
GOOGLE_MAPS_API_KEY={GCP}
AZURE_STORAGE=DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey={AZURE};EndpointSuffix=core.windows.net
SUPPORT_EMAIL=help@acme-corp.io
PUBLIC_IP=34.120.177.193
SECRET_KEY=changeme
DEBUG=false
"""

YAML = f"""database:
  host: 52.14.200.3
  port: 5432
  username: admin
  password: "s3cr3t-Passw0rd!"
smtp:
  user: alerts@acme-corp.io
  password: Tr0ub4dor&3xQ  # rotated 2024-01
api:
  token: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  audience: my-service
aws:
  access_key_id: {AWS_ID}
  secret_access_key: {AWS_SECRET_2}
admins: ["Jane Doe <jane.doe@acme-corp.io>"]
"""

SETTINGS_PY = '''"""Production settings."""
import os

DEBUG = False
ALLOWED_HOSTS = ["api.acme-corp.io", "35.190.247.13", "10.1.2.3"]
SECRET_KEY = "k#8v!2mq$zx9@w7p&4rt"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "10.1.2.3",
        "PASSWORD": "pg-Pa55word-2024",
        "USER": "app",
    }
}
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
ADMINS = [("Ops", "ops@acme-corp.io")]
STRIPE_API_KEY: str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
AUTH_TOKEN_HEADER = "Authorization"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
__version__ = "4.2.11.1"


def token():
    return os.environ["API_TOKEN"]
'''

SHELL = f"""#!/usr/bin/env bash
set -euo pipefail
export AWS_ACCESS_KEY_ID="{AWS_TEMP_ID}"
export AWS_SECRET_ACCESS_KEY="{AWS_SECRET_2}"
export API_KEY=f3a9c1d27b8e4f60a5d2c9e1b7f4a803
curl -H "Authorization: Bearer 7f9c2ba4e88f827d616045507605853e" https://api.acme-corp.io/v1/deploy
git clone git@github.com:acme/app.git
scp build.tar.gz ubuntu@54.201.33.17:/srv/
ssh deploy@192.168.10.4 'systemctl restart app'
echo "deployed, tell ops-team@acme-corp.io"
PASSWORD=hunter2 ./smoke-test.sh
"""

JS = f"""const API_BASE = "https://api.acme-corp.io";
const DEMO_JWT = "{JWT}";
export const config = {{
  apiKey: "{GCP}",
  clientSecret: 'a1b2c3d4e5f6a7b8c9d0e1f2',
  contact: "dev@acme-corp.io",
  version: "1.0.3",
}};
function auth(token) {{
  return fetch(API_BASE, {{ headers: {{ Authorization: `Bearer ${{token}}` }} }});
}}
"""


def private_key_py() -> str:
    body = "\n".join(key_lines(12)) + "\nq3Zx0w==\n"
    cert = "\n".join(key_lines(6, seed=1))
    return (
        '"""Fixtures for the TLS client tests."""\n\n'
        f'CLIENT_KEY = """-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\n"""\n\n'
        f'CLIENT_CERT = """-----BEGIN CERTIFICATE-----\n{cert}\n-----END CERTIFICATE-----\n"""\n\n'
        "def load():\n    return CLIENT_KEY, CLIENT_CERT\n"
    )


FILES = [
    # (name, text, expected counts, strings that must be gone, strings that must stay)
    (
        ".env",
        ENV,
        {
            "secret": 1,
            "url_password": 1,
            "aws_access_key": 1,
            "aws_secret_key": 1,
            "github_token": 1,
            "slack_token": 1,
            "slack_webhook": 1,
            "gcp_api_key": 1,
            "azure_key": 1,
            "email": 1,
            "ip_address": 1,
        },
        [
            "Xk9#mQ2vL7pW",
            "Xk9mQ2vL7pWq",
            AWS_ID,
            AWS_SECRET,
            GITHUB,
            SLACK,
            WEBHOOK_PATH,
            GCP,
            AZURE,
            "help@",
            "34.120",
        ],
        [
            "DB_PASSWORD=<SECRET>\n",
            "postgres://app:<PASSWORD>@db.acme-corp.io:5432/prod",
            "https://hooks.slack.com/services/<SLACK_WEBHOOK>\n",
            "AccountKey=<AZURE_KEY>;EndpointSuffix",
            "DB_HOST=10.0.12.7",
            "SECRET_KEY=changeme",
            "redis://localhost:6379/0",
        ],
    ),
    (
        "config/app.yaml",
        YAML,
        {"secret": 4, "email": 2, "ip_address": 1, "aws_access_key": 1},
        [
            "s3cr3t-Passw0rd!",
            "Tr0ub4dor&3xQ",
            "9f86d081884c7d65",
            AWS_ID,
            AWS_SECRET_2,
            "alerts@",
            "jane.doe@",
            "52.14",
        ],
        [
            'password: "<SECRET>"',
            "password: <SECRET>  # rotated 2024-01",
            "host: <IP_ADDRESS>",
            "audience: my-service",
            '"Jane Doe <<EMAIL>>"',
        ],
    ),
    (
        "app/settings.py",
        SETTINGS_PY,
        {"secret": 3, "email": 1, "ip_address": 1},
        ["k#8v!2mq", "pg-Pa55word-2024", "sk_live_4eC39", "ops@", "35.190"],
        [
            'SECRET_KEY = "<SECRET>"',
            '"PASSWORD": "<SECRET>"',
            'STRIPE_API_KEY: str = "<SECRET>"',
            '"10.1.2.3"',
            'os.environ.get("EMAIL_HOST_PASSWORD", "")',
            '"Authorization"',
            '"4.2.11.1"',
        ],
    ),
    (
        "deploy.sh",
        SHELL,
        {"aws_access_key": 1, "aws_secret_key": 1, "secret": 2, "email": 1, "ip_address": 1},
        [AWS_TEMP_ID, AWS_SECRET_2, "f3a9c1d27b8e", "7f9c2ba4e88f", "ops-team@", "54.201"],
        [
            "export API_KEY=<SECRET>\n",
            '"Authorization: Bearer <SECRET>"',
            "git@github.com:acme/app.git",
            "ubuntu@<IP_ADDRESS>:/srv/",
            "deploy@192.168.10.4",
            "PASSWORD=hunter2 ",
        ],
    ),
    (
        "web/src/config.js",
        JS,
        {"jwt": 1, "gcp_api_key": 1, "secret": 1, "email": 1},
        [JWT.split(".")[1], GCP, "a1b2c3d4e5f6", "dev@"],
        [
            'const DEMO_JWT = "<JWT>";',
            'apiKey: "<GCP_API_KEY>"',
            "clientSecret: '<SECRET>'",
            "`Bearer ${token}`",
        ],
    ),
    (
        "tests/fixtures.py",
        private_key_py(),
        {"private_key": 1},
        key_lines(12) + ["q3Zx0w==", "BEGIN RSA PRIVATE KEY"],
        ['CLIENT_KEY = """<PRIVATE_KEY>\n"""', "-----BEGIN CERTIFICATE-----\n" + key_lines(6, seed=1)[0]],
    ),
]


@pytest.mark.parametrize(("name", "text", "counts", "gone", "kept"), FILES, ids=[f[0] for f in FILES])
def test_real_looking_files(name, text, counts, gone, kept):
    out, got = redact(text, path=name)
    assert got == counts
    for secret in gone:
        assert secret not in out
    for piece in kept:
        assert piece in out
    for kind, n in counts.items():
        assert out.count(PLACEHOLDERS[kind]) == n
    if name.endswith(".py"):
        ast.parse(text)
        ast.parse(out)
    again, more = redact(out, path=name)  # placeholders are never redacted again
    assert (again, more) == (out, {})


def test_private_key_stays_inside_its_string():
    out, _ = redact(private_key_py(), path="tests/fixtures.py")
    values = {n.targets[0].id: n.value.value for n in ast.parse(out).body if isinstance(n, ast.Assign)}
    assert values["CLIENT_KEY"] == "<PRIVATE_KEY>\n"
    assert values["CLIENT_CERT"].startswith("-----BEGIN CERTIFICATE-----\n")


def test_private_key_split_over_string_literals():
    lines = key_lines(5, seed=2)
    text = (
        "KEY = (\n"
        '    "-----BEGIN EC PRIVATE KEY-----\\n"\n'
        + "".join(f'    "{line}\\n"\n' for line in lines)
        + '    "-----END EC PRIVATE KEY-----\\n"\n)\n'
    )
    out, counts = redact(text, path="k.py")
    assert counts == {"private_key": 1}
    assert not any(line in out for line in lines)
    assert ast.literal_eval(ast.parse(out).body[0].value) == (
        "-----BEGIN EC PRIVATE KEY-----\n" + "<PRIVATE_KEY>\n" * 5 + "-----END EC PRIVATE KEY-----\n"
    )


@pytest.mark.parametrize(
    "header",
    [
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "DSA PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
    ],
)
def test_private_key_headers(header):
    block = f"-----BEGIN {header}-----\\n" + "\\n".join(key_lines(3)) + f"\\n-----END {header}-----\\n"
    out, counts = redact('{"key": "' + block + '"}')
    assert (out, counts) == ('{"key": "<PRIVATE_KEY>\\n"}', {"private_key": 1})


def test_private_key_markers_without_a_key_are_kept():
    text = (
        'if pem.startswith("-----BEGIN RSA PRIVATE KEY-----") and "-----END RSA PRIVATE KEY-----" in pem:\n'
    )
    assert redact(text, path="x.py") == (text, {})


# --- one table per kind -------------------------------------------------------------------------------------

CASES = [
    # (id, text, path, parameters, expected text)
    # secrets assigned to secret-like names: length 8, a letter and a digit, entropy 3.0 bits
    ("secret 8 distinct", 'password = "abcdefg1"', "a.py", {}, 'password = "<SECRET>"'),
    ("secret 7 chars kept", 'password = "abcdef1"', "a.py", {}, 'password = "abcdef1"'),
    ("secret low entropy kept", 'password = "aabbcc11"', "a.py", {}, 'password = "aabbcc11"'),
    (
        "secret weak password kept",
        'password = "s3cr3tP4ss"',
        "a.py",
        {},
        'password = "s3cr3tP4ss"',
    ),  # 2.65 bits
    ("secret no digit kept", 'password = "abcdefgh"', "a.py", {}, 'password = "abcdefgh"'),
    ("secret template kept", 'password = "${DB_PASSWORD}"', "a.py", {}, 'password = "${DB_PASSWORD}"'),
    ("secret format kept", 'db_pass = "%(password)s1x"', "a.py", {}, 'db_pass = "%(password)s1x"'),
    ("secret jinja kept", "password: '{{ vault_pw_1 }}'", "a.yml", {}, "password: '{{ vault_pw_1 }}'"),
    ("secret shell var kept", "PASSWORD=$DB_PASS_2", "a.env", {}, "PASSWORD=$DB_PASS_2"),
    (
        "secret path kept",
        'private_key = "/etc/ssl/key-2024.pem"',
        "a.py",
        {},
        'private_key = "/etc/ssl/key-2024.pem"',
    ),
    (
        "secret url kept",
        'token_url = "https://oauth2.googleapis.com/token"',
        "a.py",
        {},
        'token_url = "https://oauth2.googleapis.com/token"',
    ),
    ("secret comparison", 'if passwd == "Sup3rS3cret!":', "a.py", {}, 'if passwd == "<SECRET>":'),
    ("secret json key", '{"api_key": "9f86d081884c7d65"}', "a.json", {}, '{"api_key": "<SECRET>"}'),
    ("secret camel case", 'const authToken = "Zk3Lm9Qp2Xw7";', "a.js", {}, 'const authToken = "<SECRET>";'),
    ("secret go", 'dbPassword := "Zk3Lm9Qp2Xw7"', "a.go", {}, 'dbPassword := "<SECRET>"'),
    (
        "secret ruby hash",
        'creds = { password: "Zk3Lm9Qp2Xw7" }',
        "a.rb",
        {},
        'creds = { password: "<SECRET>" }',
    ),
    ("secret php arrow", "'api_key' => 'Zk3Lm9Qp2Xw7',", "a.php", {}, "'api_key' => '<SECRET>',"),
    ("author is not auth", 'author = "jdoe1234x"', "a.py", {}, 'author = "jdoe1234x"'),
    ("tokens is not token", 'tokens = "abc123xyz9"', "a.py", {}, 'tokens = "abc123xyz9"'),
    ("tokenizer is not token", 'tokenizer = "gpt2-large-v1"', "a.py", {}, 'tokenizer = "gpt2-large-v1"'),
    ("unquoted in python kept", "PASSWORD = Zk3Lm9Qp2Xw7", "a.py", {}, "PASSWORD = Zk3Lm9Qp2Xw7"),
    ("unquoted in env", "PASSWORD=Zk3Lm9Qp2Xw7", ".env", {}, "PASSWORD=<SECRET>"),
    (
        "unquoted never",
        "PASSWORD=Zk3Lm9Qp2Xw7",
        ".env",
        {"unquoted_secrets": "never"},
        "PASSWORD=Zk3Lm9Qp2Xw7",
    ),
    (
        "unquoted always",
        "PASSWORD = Zk3Lm9Qp2Xw7",
        "a.py",
        {"unquoted_secrets": "always"},
        "PASSWORD = <SECRET>",
    ),
    ("unquoted no path", "password: Zk3Lm9Qp2Xw7", None, {}, "password: <SECRET>"),
    ("unquoted ini comment", "pwd = Zk3Lm9Qp2Xw7 ; old", "db.ini", {}, "pwd = <SECRET> ; old"),
    (
        "entropy parameter",
        'password = "abcdefg1"',
        "a.py",
        {"secret_min_entropy": 3.1},
        'password = "abcdefg1"',
    ),
    (
        "length parameter",
        'password = "abcdef1"',
        "a.py",
        {"secret_min_length": 7, "secret_min_entropy": 2.8},
        'password = "<SECRET>"',
    ),
    ("bearer", "Authorization: Bearer 7f9c2ba4e88f827d", None, {}, "Authorization: Bearer <SECRET>"),
    (
        "secret after text whose lower case is longer",
        'İİ = 1\napi_key = "Zk3Lm9Qp2Xw7"',
        "a.py",
        {},
        'İİ = 1\napi_key = "<SECRET>"',
    ),
    # token shapes
    ("github pat", "github_pat_11ABCDEFG0" + "x1Y2z3" * 10, None, {}, "<GITHUB_TOKEN>"),
    ("github short kept", "ghp_abc123", None, {}, "ghp_abc123"),
    ("aws id in prose", f"the key {AWS_ID} leaked", None, {}, "the key <AWS_ACCESS_KEY> leaked"),
    ("aws id too long kept", AWS_ID + "X", None, {}, AWS_ID + "X"),
    ("slack token", f"token={SLACK}", None, {}, "token=<SLACK_TOKEN>"),
    ("gcp key", f"key={GCP}&q=x", None, {}, "key=<GCP_API_KEY>&q=x"),
    ("jwt", f"Authorization: {JWT}", None, {}, "Authorization: <JWT>"),
    (
        "azure service bus",
        "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=Qm9vZ2xlR29vZ2xlR29vZ2xlR29vZ2xlR29vZ2w=",
        None,
        {},
        "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=<AZURE_KEY>",
    ),
    (
        "url password",
        "mongodb://root:Qw3rty9Zx@mongo.acme-corp.io/db",
        None,
        {},
        "mongodb://root:<PASSWORD>@mongo.acme-corp.io/db",
    ),
    (
        "url password word kept",
        "http://user:password@host.acme-corp.io/",
        None,
        {},
        "http://user:password@host.acme-corp.io/",
    ),
    (
        "url password template kept",
        "postgres://u:${PGPASS}@db.acme-corp.io/x",
        None,
        {},
        "postgres://u:${PGPASS}@db.acme-corp.io/x",
    ),
    # e-mail addresses
    ("email", "mail jane.doe+ml@acme-corp.co.uk now", None, {}, "mail <EMAIL> now"),
    ("email upper case", "JANE@ACME.IO", None, {}, "<EMAIL>"),
    ("email in angle brackets", "Jane <jane@acme-corp.io>", None, {}, "Jane <<EMAIL>>"),
    (
        "email example.com kept",
        "user@example.com, a@b.example, c@d.test",
        None,
        {},
        "user@example.com, a@b.example, c@d.test",
    ),
    ("email git remote kept", "git@github.com:acme/app.git", None, {}, "git@github.com:acme/app.git"),
    ("email f-string kept", "f'{user}@acme-corp.io'", "a.py", {}, "f'{user}@acme-corp.io'"),
    (
        "decorator kept",
        "@unittest.skipIf(x)\n@functools.cache\n",
        "a.py",
        {},
        "@unittest.skipIf(x)\n@functools.cache\n",
    ),
    ("decorators on lines kept", "@a.b\n@c.d\n", "a.py", {}, "@a.b\n@c.d\n"),
    ("matmul camel kept", "y = x@self.W", "a.py", {}, "y = x@self.W"),
    (
        "url userinfo kept",
        "http://User:Pass@www.acme-corp.io:80/",
        None,
        {},
        "http://User:Pass@www.acme-corp.io:80/",
    ),
    # IP addresses: public only, no version numbers
    ("ipv4 public", "connect to 34.120.177.193 now", None, {}, "connect to <IP_ADDRESS> now"),
    ("ipv4 sentence end", "It was 34.120.177.193.", None, {}, "It was <IP_ADDRESS>."),
    (
        "ipv4 cidr and port",
        "34.120.177.0/24 and 34.120.177.193:443",
        None,
        {},
        "<IP_ADDRESS>/24 and <IP_ADDRESS>:443",
    ),
    (
        "ipv4 private kept",
        "10.0.0.1 172.16.5.4 192.168.1.20 127.0.0.1 0.0.0.0",
        None,
        {},
        "10.0.0.1 172.16.5.4 192.168.1.20 127.0.0.1 0.0.0.0",
    ),
    (
        "ipv4 special kept",
        "169.254.1.1 192.0.2.33 224.0.0.251 255.255.255.255 100.64.0.1",
        None,
        {},
        "169.254.1.1 192.0.2.33 224.0.0.251 255.255.255.255 100.64.0.1",
    ),
    (
        "ipv4 private redacted on request",
        "10.0.0.1 0.0.0.0",
        None,
        {"redact_private_ips": True},
        "<IP_ADDRESS> 0.0.0.0",
    ),
    ("ipv4 invalid kept", "999.1.1.1 01.02.03.04", None, {}, "999.1.1.1 01.02.03.04"),
    ("version after v kept", "v12.4.33.10", None, {}, "v12.4.33.10"),
    ("version word kept", "Version: 10.0.19.41", None, {}, "Version: 10.0.19.41"),
    ("version python kept", '__version__ = "4.2.11.1"', "a.py", {}, '__version__ = "4.2.11.1"'),
    ("release kept", "release 4.19.112.1 notes", None, {}, "release 4.19.112.1 notes"),
    ("section kept", "see section 8.2.4.44 of the spec", None, {}, "see section 8.2.4.44 of the spec"),
    (
        "oid kept",
        "1.3.6.1.4.1.311.21.7 and 2.16.840.1.101",
        None,
        {},
        "1.3.6.1.4.1.311.21.7 and 2.16.840.1.101",
    ),
    ("reverse dns kept", "4.3.2.61.in-addr.arpa", None, {}, "4.3.2.61.in-addr.arpa"),
    ("single digits kept", "upgrade to 5.4.3.2", None, {}, "upgrade to 5.4.3.2"),
    ("single digits with dns", "dns server at 5.4.3.2", None, {}, "dns server at <IP_ADDRESS>"),
    (
        "public resolver kept",
        "nameserver 8.8.8.8\nnameserver 208.67.222.222",
        None,
        {},
        "nameserver 8.8.8.8\nnameserver 208.67.222.222",
    ),
    ("ipv6 public", "addr 2a03:2880:f12f:83:face:b00c:0:25de here", None, {}, "addr <IP_ADDRESS> here"),
    ("ipv6 in brackets", "https://[2a00:1450:4007:80e::200e]:443/", None, {}, "https://[<IP_ADDRESS>]:443/"),
    (
        "ipv6 special kept",
        "2001:db8::1 fe80::1ff:fe23:4567:890a ::1 ff02::1",
        None,
        {},
        "2001:db8::1 fe80::1ff:fe23:4567:890a ::1 ff02::1",
    ),
    ("ipv6 resolver kept", "2606:4700:4700::1111", None, {}, "2606:4700:4700::1111"),
    ("slice kept", "x = a[1::2] + b[10:20:2]", "a.py", {}, "x = a[1::2] + b[10:20:2]"),
    (
        "c++ scope kept",
        "std::vector<int> v; cb::add(1); a::b::c",
        "a.cpp",
        {},
        "std::vector<int> v; cb::add(1); a::b::c",
    ),
    (
        "times and macs kept",
        "at 12:34:56, mac 00:1a:2b:3c:4d:5e",
        None,
        {},
        "at 12:34:56, mac 00:1a:2b:3c:4d:5e",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "params", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_kind_table(text, path, params, expected):
    assert redact(text, path=path, **params)[0] == expected


def test_shannon_entropy():
    assert shannon_entropy("abcdefg1") == 3.0
    assert shannon_entropy("aabbcc11") == 2.0
    assert shannon_entropy("aaaa") == 0.0


def test_kinds_and_placeholders_parameters():
    text = "mail jane@acme-corp.io from 34.120.177.193"
    assert redact(text, kinds=["email"]) == ("mail <EMAIL> from 34.120.177.193", {"email": 1})
    assert redact(text, placeholders={"email": "[email]"})[0] == "mail [email] from <IP_ADDRESS>"
    with pytest.raises(PlanError, match="unknown kinds \\['phone'\\]"):
        PIIRedactor(kinds=["phone"])
    with pytest.raises(PlanError, match="unknown kinds \\['name'\\]"):
        PIIRedactor(placeholders={"name": "<NAME>"})
    assert set(PLACEHOLDERS) == set(KINDS)
    assert all('"' not in p and "'" not in p and "\\" not in p for p in PLACEHOLDERS.values())


def test_run_counts_in_metadata_and_stats():
    redactor = PIIRedactor()
    docs = [
        Document(text="a@acme-corp.io b@acme-corp.io", id="1", metadata={"redactions": {"email": 1}}),
        Document(text="nothing here", id="2", metadata={}),
        Document(text='password = "Zk3Lm9Qp2Xw7"\nip = "34.120.177.193"', id="3", metadata={"path": "s.py"}),
    ]
    out = list(redactor.run(iter(docs)))
    assert [d.text for d in out] == [
        "<EMAIL> <EMAIL>",
        "nothing here",
        'password = "<SECRET>"\nip = "<IP_ADDRESS>"',
    ]
    assert out[0].metadata["redactions"] == {"email": 3}  # added to what an earlier step counted
    assert "redactions" not in out[1].metadata
    assert out[2].metadata["redactions"] == {"secret": 1, "ip_address": 1}
    assert redactor.stats["redacted_email"].total == 2
    assert redactor.stats["redacted_secret"].total == 1
    assert redactor.stats["documents_redacted"].total == 2
    assert redactor.format("x jane@acme-corp.io") == "x <EMAIL>"


def test_language_decides_unquoted_values():
    text = "PASSWORD = Zk3Lm9Qp2Xw7\n"
    r = PIIRedactor()
    for path, language, redacted in [
        ("a.py", None, False),
        ("a.sh", None, True),
        (None, "Python", False),
        (None, "YAML", True),
    ]:
        doc = Document(
            text=text, id="d", metadata={k: v for k, v in (("path", path), ("language", language)) if v}
        )
        assert (next(r.run(iter([doc]))).text != text) is redacted, (path, language)


STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_stdlib_still_parses_after_redaction():
    """Every top-level standard-library module that parses still parses; the counts are printed (pytest -s)."""
    redactor = PIIRedactor()
    total: Counter = Counter()
    files = sorted(STDLIB.glob("*.py"))
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        out, counts = redactor.redact(text, path=path.name)
        total.update(counts)
        try:
            ast.parse(out)
        except SyntaxError as e:  # pragma: no cover - the assertion message is the point
            pytest.fail(f"{path.name} no longer parses after redaction ({counts}): {e}")
    print(f"\nredactions in {len(files)} standard-library modules: {dict(total)}")
    # the standard library holds authors' e-mail addresses and example IPs, but no keys, tokens or passwords
    assert set(total) <= {"email", "ip_address"}
    assert total["email"] > 20
