"""No secret of a database URL in any line: every place libpq takes one, every way the URL arrives.

libpq reads a password from the userinfo (`user:pw@`, an unencoded `@` in it included) and from
the query string (`password=`, `sslpassword=`, `oauth_client_secret=`); the URL arrives by `--db`,
`REPORTGEN_DB` or a `--config` file. Whichever, the connection error shows the URL with `***` for
each secret, and no output (stdout, stderr, the output folder, `--debug`'s traceback, `build
--help`'s default) holds one. The redactor (`dburl.redact`) is checked against libpq's own list of
its connection parameters, so a parameter it does not know stays masked.
"""

from __future__ import annotations

import logging
import secrets
import urllib.parse
from pathlib import Path

import pytest

from reportgen.data.dburl import MASK, SHOWN, redact, redact_in, secrets_in
from tests.helpers.commands import PREVIOUS_HTML, PREVIOUS_JSON, assert_nothing_left, invoke, previous_report
from tests.helpers.postgres import PgServer, free_port, pg_server  # noqa: F401  (pg_server: the fixture)

FAST = ["--epochs", "1", "--factors", "8", "--lr", "0.01", "--seed", "7"]
REFUSED_LOGIN = (
    "the server refused the login (a wrong password or user); give the password in REPORTGEN_DB, PGPASSWORD or a "
    "~/.pgpass file"
)
REFUSED_CONNECTION = "cannot connect: the connection was refused (is the server running, and the port right?)"


# --------------------------------------------------------------------------- the redactor


@pytest.mark.parametrize(
    ("url", "shown", "secret"),
    [
        ("postgresql://reports:hunter2@db:5432/shop", "postgresql://reports:***@db:5432/shop", "hunter2"),
        ("postgresql://reports:top@SECRET@db/shop", "postgresql://reports:***@db/shop", "top@SECRET"),
        ("postgresql://reports:a/b?c#d@db/shop", "postgresql://reports:***@db/shop", "a/b?c#d"),
        ("postgresql://reports@db/shop?password=hunter2", "postgresql://reports@db/shop?password=***", "hunter2"),
        ("postgresql://db/shop?password=s@cret", "postgresql://db/shop?password=***", "s@cret"),
        (
            "postgresql://db/shop?sslmode=require&sslpassword=k3y&application_name=nightly",
            "postgresql://db/shop?sslmode=require&sslpassword=***&application_name=nightly",
            "k3y",
        ),
        (
            "postgresql://db/shop?oauth_client_secret=s3cr3t&oauth_client_id=rg",
            "postgresql://db/shop?oauth_client_secret=***&oauth_client_id=rg",
            "s3cr3t",
        ),
        ("postgresql://db/shop?scram_client_key=AAAA", "postgresql://db/shop?scram_client_key=***", "AAAA"),
        ("postgresql://db/shop?pass%77ord=hunter2", "postgresql://db/shop?pass%77ord=***", "hunter2"),  # libpq decodes
        ("postgresql://db/shop?pasword=hunter2", "postgresql://db/shop?pasword=***", "hunter2"),  # misspelt: masked
        ("postgresql://db/shop?hunter2", "postgresql://db/shop?***", "hunter2"),
        ("postgresql://u:to@p/S@db/shop", "postgresql://u:***@***", "p/S"),  # an @ left past the host: all masked
        ("postgres://u:hunter2@h1:5432,h2:5433/shop", "postgres://u:***@h1:5432,h2:5433/shop", "hunter2"),
        ("host=db password=hunter2", MASK, "hunter2"),  # libpq's key=value form is no URL: not shown at all
    ],
)
def test_the_redactor_masks_every_secret_libpq_reads_from_a_url(url: str, shown: str, secret: str) -> None:
    assert redact(url) == shown
    assert secret not in shown
    assert any(secret in found for found in secrets_in(url))  # what a server's message is scrubbed of


def test_a_url_without_secrets_is_shown_as_it_is() -> None:
    for url in (
        "sqlite:////var/shop/shop.db",
        "postgresql://reports@db.internal:5432/shop?sslmode=verify-full&application_name=nightly",
    ):
        assert redact(url) == url
        assert secrets_in(url) == set()


def test_only_libpqs_parameters_without_a_secret_keep_their_value() -> None:
    """SHOWN names real libpq parameters, none of them one that libpq itself hides ('*') or keeps for debugging ('D')."""
    psycopg = pytest.importorskip("psycopg")
    options = {o.keyword.decode(): o.dispchar.decode() for o in psycopg.pq.Conninfo.get_defaults()}
    assert SHOWN <= set(options), "SHOWN names a parameter libpq does not have"
    assert {"password", "sslpassword"} <= {k for k, c in options.items() if c == "*"}
    assert {k for k, c in options.items() if c in ("*", "D")} & SHOWN == set()


def test_a_line_quoting_a_url_is_redacted_wherever_the_url_stands() -> None:
    line = "could not reach postgresql://me:hunter2@db/shop?sslpassword=k3y (see https://sqlalche.me/e/21/e3q8)"
    assert redact_in(line) == (
        "could not reach postgresql://me:***@db/shop?sslpassword=*** (see https://sqlalche.me/e/21/e3q8)"
    )


def test_the_log_redacts_a_url_in_any_line(capsys: pytest.CaptureFixture[str]) -> None:
    from reportgen.cli.process import configure_logging

    configure_logging(quiet=False, interactive=True)
    logging.getLogger("reportgen").warning("warning: %s unreachable", "postgresql://me:hunter2@db/shop?password=x1")
    assert capsys.readouterr().err == "warning: postgresql://me:***@db/shop?password=*** unreachable\n"


# --------------------------------------------------------------------------- every way in, every output


def _cases(pg: PgServer) -> list[tuple[str, str, str]]:
    """(id, URL, the URL as the error shows it): a wrong secret in each place libpq reads one."""
    closed = free_port()
    base = f"{pg.host}:{pg.port}/{pg.database}"
    secret = "Q7secret" + secrets.token_hex(4)
    return [
        (
            "password in the query string",
            f"postgresql://{pg.user}@{base}?password={urllib.parse.quote(secret)}",
            f"postgresql://{pg.user}@{base}?password=***: {REFUSED_LOGIN}",
        ),
        (
            "sslpassword in the query string",
            f"postgresql://{pg.user}:{secret}@{pg.host}:{closed}/{pg.database}?sslmode=disable&sslpassword={secret}x",
            f"postgresql://{pg.user}:***@{pg.host}:{closed}/{pg.database}?sslmode=disable&sslpassword=***: "
            f"{REFUSED_CONNECTION}",
        ),
        (
            "an unencoded @ in the password",
            f"postgresql://{pg.user}:top@{secret}@{base}",
            f"postgresql://{pg.user}:***@{base}: {REFUSED_LOGIN}",
        ),
    ]


def _everything(out: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(out.rglob("*")) if p.is_file())


@pytest.mark.parametrize("route", ["--db", "REPORTGEN_DB", "--config"])
@pytest.mark.usefixtures("undrawn")
def test_a_secret_anywhere_in_the_url_is_in_no_output_whichever_way_the_url_came(
    route: str,
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
) -> None:
    for name, url, shown in _cases(pg_server):
        out = previous_report(tmp_path / name.replace(" ", "-"))
        args: list[object] = ["build", "--output", out, *FAST, "--table", "ratings"]
        env: dict[str, str] = {}
        if route == "--db":
            args += ["--db", url]
        elif route == "REPORTGEN_DB":
            env["REPORTGEN_DB"] = url
        else:
            config = tmp_path / f"{name.replace(' ', '-')}.toml"
            config.write_text(f'db = "{url}"\n')
            args += ["--config", config]
        result = invoke(*args, env=env)
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.splitlines()[-1] == f"Error: --db {shown}", name
        assert result.stdout == "" and "Traceback" not in result.output
        assert (out / "report.html").read_bytes() == PREVIOUS_HTML
        assert (out / "report.json").read_bytes() == PREVIOUS_JSON
        assert_nothing_left(out)
        debug = invoke(*args, "--debug", env=env)
        texts = [result.stdout, result.stderr, debug.stdout, debug.stderr, _everything(out)]
        leaked = {s for s in secrets_in(url) for text in texts if s in text}
        assert leaked == set(), name


def test_build_help_shows_the_config_files_url_only_redacted(tmp_path: Path) -> None:
    config = tmp_path / "nightly.toml"
    config.write_text('db = "postgresql://reports:top@SECRET@db.example/shop?sslpassword=k3y&sslmode=require"\n')
    result = invoke("build", "--config", config, "--help")
    assert result.exit_code == 0, result.output
    assert "SECRET" not in result.output and "k3y" not in result.output
    joined = "".join(result.output.split())  # the help wraps its lines anywhere
    assert "[default:postgresql://reports:***@db.example/shop?sslpassword=***&sslmode=require]" in joined
