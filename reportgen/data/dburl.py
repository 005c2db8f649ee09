"""A database URL as text: the one redactor of every line that shows one, and what it holds secret.

libpq takes a secret in two places of a URL, and both are masked wherever reportgen shows
one (an error, `build --help`'s default from a `--config` file, the log):

- the userinfo's password, `user:PASSWORD@host`. The userinfo ends at the *last* `@`, so a
  password with an unencoded `@` (`reports:top@SECRET@host`) is masked whole; `parse_url`
  reads it the same way (`userinfo_quoted`), so the driver and the error agree on the host.
- the query string: libpq reads every connection parameter there too (`?password=…`,
  `sslpassword`, `oauth_client_secret`; PQconndefaults marks those three secret, and the
  SCRAM keys `scram_client_key`/`scram_server_key` stand in for a password). Only the
  parameters in `SHOWN`, which hold no secret, keep their value; every other one, known
  or misspelt, is shown as `***`.

A text that is not a URL (a libpq `key=value` string, say) is shown as `***` whole. Light:
no SQLAlchemy, no driver, so `build --help` can redact its default without loading either.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

MASK = "***"
# libpq's connection parameters (PostgreSQL 18's PQconndefaults) whose value is no secret.
SHOWN = frozenset(
    {
        "application_name",
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "dbname",
        "fallback_application_name",
        "gssdelegation",
        "gssencmode",
        "gsslib",
        "host",
        "hostaddr",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "load_balance_hosts",
        "max_protocol_version",
        "min_protocol_version",
        "oauth_client_id",
        "oauth_issuer",
        "oauth_scope",
        "options",
        "passfile",
        "port",
        "require_auth",
        "requirepeer",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcertmode",
        "sslcompression",
        "sslcrl",
        "sslcrldir",
        "sslkey",
        "sslmode",
        "sslnegotiation",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
        "user",
    }
)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_TRAILING = ":;,.)]}'\""  # what ends a sentence's word rather than a URL
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_NOT_A_USER = re.compile(r"[/?#=&\s]")
_SA_USERINFO = re.compile(r"[^:/]*(?::[^@]*)?@")  # SQLAlchemy's: the user, then a password up to its first '@'


@dataclass(frozen=True)
class _Parts:
    scheme: str
    user: str | None  # None: no userinfo; MASK: one that cannot be shown at all
    password: str | None  # None: no password in the userinfo
    where: str  # host, port and path (MASK where an '@' is left in them)
    query: tuple[str, ...]  # the query string's `key=value` pieces


def _split(text: str) -> _Parts | None:
    """A URL in the parts `redact` shows or masks; None for a text that is not one.

    The userinfo reaches as far as any reader of the URL takes it: SQLAlchemy's (a password
    up to its first `@`, past a `/` or `?` even) and libpq's and `parse_url`'s (the
    authority's last `@`); an `@` still left before the query masks the host and path too.
    """
    scheme, sep, rest = text.strip().partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    match = _SA_USERINFO.match(rest)
    end = max(authority.rfind("@") + 1, match.end() if match else 0)  # 0: no userinfo
    user = password = None
    if end:
        userinfo, rest = rest[: end - 1], rest[end:]
        user, colon, secret = userinfo.partition(":")
        password = secret if colon else None
        if _NOT_A_USER.search(user):
            user, password = MASK, userinfo
    where, question, query = rest.partition("?")
    return _Parts(scheme, user, password, MASK if "@" in where else where, tuple(query.split("&")) if question else ())


def redact(text: str) -> str:
    """The URL with every secret libpq could read from it as `***`: the userinfo's password, the query's values.

    `postgresql://reports:pw@db:5432/shop?sslmode=require&sslpassword=x` reads
    `postgresql://reports:***@db:5432/shop?sslmode=require&sslpassword=***`.
    """
    parts = _split(text)
    if parts is None:
        return MASK
    userinfo = ""
    if parts.user == MASK:
        userinfo = f"{MASK}@"
    elif parts.user is not None:
        userinfo = f"{parts.user}:{MASK}@" if parts.password is not None else f"{parts.user}@"
    shown = f"{parts.scheme}://{userinfo}{parts.where}"
    return shown + ("?" + "&".join(map(_shown_parameter, parts.query)) if parts.query else "")


def redact_in(text: str) -> str:
    """`text` with every URL in it redacted (a line that may quote one: an error, a log line)."""

    def redacted(match: re.Match[str]) -> str:
        url = match.group(0)
        url, end = url.rstrip(_TRAILING), url[len(url.rstrip(_TRAILING)) :]  # a sentence's ':' or ')' after it
        return redact(url) + end

    return _URL_IN_TEXT.sub(redacted, text)


def secrets_in(text: str) -> set[str]:
    """What `redact` masks in a URL (its password, its query's secret values), as written, decoded and quoted."""
    parts = _split(text)
    if parts is None:
        return {text.strip()} - {""}
    found = {parts.password or ""}
    if parts.where == MASK:
        found.add(text.strip().partition("://")[2])
    for piece in parts.query:
        key, equals, value = piece.partition("=")
        if urllib.parse.unquote(key) not in SHOWN:
            found.add(value if equals else piece)
    found |= {urllib.parse.unquote(secret) for secret in found}
    found |= {urllib.parse.quote(secret, safe="") for secret in found}
    return found - {""}


def userinfo_quoted(text: str) -> str:
    """The URL with an unencoded `@` in its password percent-encoded, so a parser reads the userinfo up to its
    last `@` as `redact` does (`reports:top@SECRET@db/shop`: the password `top@SECRET`, the host `db`)."""
    scheme, sep, rest = text.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not sep or authority.count("@") < 2:
        return text
    userinfo, _, host = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    quoted = f"{user}{colon}{password.replace('@', '%40')}" if colon else userinfo.replace("@", "%40")
    return f"{scheme}://{quoted}@{host}{rest[len(authority) :]}"


def _shown_parameter(piece: str) -> str:
    key, equals, _ = piece.partition("=")
    if urllib.parse.unquote(key) in SHOWN and equals:
        return piece
    return f"{key}={MASK}" if equals and not _NOT_A_USER.search(key) else MASK
