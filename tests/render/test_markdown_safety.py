"""report.md renders no link, mention, image or heading from data, under GitHub's renderer and markdown-it.

GitHub renders a pull-request comment with cmark-gfm, whose autolinker runs on the text
after backslash escapes are removed (github/cmark-gfm#181), so `\\@` and `\\.` alone do not
stop `alice@example.com` from becoming a mailto: link; markdown-it-py with linkify finds
bare domains too. Each renderer gets every hostile value and the HTML it makes is read back.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from reportgen.render import markdown
from reportgen.render.markdown import WORD_JOINER, md, render_markdown
from reportgen.report import ListChange
from tests.helpers.commands import invoke
from tests.helpers.reports import hand_made_comparison, hand_made_report

cmarkgfm = pytest.importorskip("cmarkgfm", reason="the `test` extra installs cmarkgfm (GitHub's cmark-gfm)")
pytest.importorskip("linkify_it", reason="the `test` extra installs linkify-it-py (markdown-it's linkify)")
from markdown_it import MarkdownIt  # noqa: E402 - after the skips that say what is missing

GITHUB_LIMIT = 60_000  # characters: under GitHub's 65,536 for a comment, with room for a heading of one's own
HOSTILE = (
    # e-mail addresses and the schemes cmark-gfm links around them
    "alice@example.com",
    "Mail me: bob.smith+tag@mail.example.org (1999)",
    "mailto:carol@example.net",
    "xmpp:dave@jabber.example",
    "foo\\@bar.example",
    "a@b.co@c.de",
    # URLs: schemes, www., bare domains (linkify's fuzzy links), IPs, punycode
    "http://evil.example/path?q=1",
    "HTTPS://EVIL.EXAMPLE",
    "ftp://files.example/x",
    "www.evil.example",
    "WWW.Evil.Example",
    "see evil.example now",
    "xn--80ak6aa92e.com",
    "http://[::1]:8080/",
    "javascript:alert(1)",
    "user@[127.0.0.1]",
    # Markdown's own links, images, autolinks, references and HTML
    "[click](http://evil.example)",
    "![pixel](http://evil.example/p.png)",
    "<http://evil.example>",
    "<alice@example.com>",
    "[ref]: http://evil.example",
    "<img src=x onerror=alert(1)>",
    "&#64;entity &lt;b&gt; &#x2F;",
    # headings, mentions and issue references
    "# Heading",
    "Title\n# Injected heading",
    "Title\n===",
    "@octocat",
    "@github/security-team",
    "Movie #1",
    "owner/repo#12",
    "GH-12 :+1: $x$ ~~gone~~ **bold** `code` a | b",
)
ORDINARY = (  # ML-100k's kinds of title: report.md writes them as before
    ("Star Wars (1977)", "Star Wars (1977)"),
    ("Ace Ventura: Pet Detective (1994)", "Ace Ventura\\: Pet Detective (1994)"),
    ("Shawshank Redemption, The (1994)", "Shawshank Redemption, The (1994)"),
    (
        "Wallace & Gromit: The Best of Aardman Animation (1996)",
        "Wallace \\& Gromit\\: The Best of Aardman Animation (1996)",
    ),
    ("Dr. Strangelove (1963)", "Dr\\. Strangelove (1963)"),
)


def github(text: str) -> BeautifulSoup:
    """What GitHub shows: cmark-gfm with its extensions (tables, autolinks, strikethrough, tag filter)."""
    return BeautifulSoup(cmarkgfm.github_flavored_markdown_to_html(text), "html.parser")


def markdown_it(text: str) -> BeautifulSoup:
    return BeautifulSoup(MarkdownIt("gfm-like", {"linkify": True}).render(text), "html.parser")


RENDERERS = {"cmark-gfm": github, "markdown-it+linkify": markdown_it}


def assert_inert(soup: BeautifulSoup, headings: list[str]) -> None:
    """No link, image or HTML from data; only the report's own headings; no @mention or #reference left to find."""
    assert soup.find_all("a") == []
    assert soup.find_all(["img", "script", "iframe", "input"]) == []
    assert [h.name for h in soup.find_all(re.compile(r"^h[1-6]$"))] == headings
    text = soup.get_text()
    assert not re.search(r"@[A-Za-z0-9]", text)  # GitHub's mention filter runs on this text
    assert not re.search(r"#[0-9]", text)  # and its issue-reference filter
    assert not re.search(r"(?i)(www\.|://)", text)


def cell(value: str) -> str:
    return f"| # | Title |\n| ---: | --- |\n| 1 | {md(value)} |\n"


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("title", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_title_renders_as_its_own_text_in_its_cell(title: str, renderer: str) -> None:
    soup = RENDERERS[renderer](cell(title))
    assert_inert(soup, headings=[])
    (shown,) = [td.get_text() for td in soup.find_all("td")][1:]
    assert shown.replace(WORD_JOINER, "") == " ".join(title.split())  # every character, line breaks as spaces


@pytest.mark.parametrize(("title", "written"), ORDINARY)
def test_ordinary_titles_are_written_as_before(title: str, written: str) -> None:
    assert md(title) == written


def report_with(titles: tuple[str, ...], name: str = "ml-100k", n_lists: int = 1):
    """A hand-made report with `titles` in its bias tables and bias moves, and `n_lists` changed lists."""
    report = hand_made_report(titles)
    return dataclasses.replace(
        report,
        dataset=dataclasses.replace(report.dataset, name=name),
        comparison=hand_made_comparison(
            titles,
            previous=titles[0],
            previous_generated_at=titles[-1],
            lists=tuple(ListChange(f"{titles[i % len(titles)]} {i}", (titles[0],), ()) for i in range(n_lists)),
        ),
    )


# The report's own headings: its title, then validation error, changes, lowest, highest, the rest.
OWN_HEADINGS = ["h2", "h3", "h3", "h3", "h3", "h3"]


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("start", range(0, len(HOSTILE), 10))
def test_a_whole_report_of_hostile_titles_renders_inert(start: int, renderer: str) -> None:
    titles = (HOSTILE * 2)[start : start + 10]  # the last chunk wraps round to the first titles
    text = render_markdown(report_with(titles, name="alice@example.com www.evil.example", n_lists=3))
    assert_inert(RENDERERS[renderer](text), OWN_HEADINGS)


def test_report_md_stays_under_github_s_limit_at_any_data() -> None:
    """20,000-character titles of the characters that escaping doubles, 500 changed lists: still in budget."""
    long = tuple(f"{k} " + "@.#<" * 5000 for k in "ABCDEFGHIJ")
    text = render_markdown(report_with(long, name="x@y." * 5000, n_lists=500))
    assert len(text) <= GITHUB_LIMIT
    assert "and 490 more" in text
    for renderer in RENDERERS.values():
        assert_inert(renderer(text), OWN_HEADINGS)


def test_render_escapes_settings_a_crafted_report_json_holds(tmp_path: Path, undrawn: None) -> None:
    """`render` of a report.json whose epochs and factors are strings: escaped (or refused), never markup."""
    from reportgen.pipeline import write

    run = tmp_path / "run"
    write(hand_made_report(), run)
    doc = json.loads((run / "report.json").read_text(encoding="utf-8"))
    doc["config"]["epochs"] = "[click](http://evil.example) @octocat ![x](http://evil.example/x.png)\n# Owned"
    doc["config"]["factors"] = "mail@evil.example www.evil.example #1"
    (run / "report.json").write_text(json.dumps(doc), encoding="utf-8")
    result = invoke("render", run, "-o", tmp_path / "out")
    if result.exit_code != 0:  # refusing the setting is the other right answer
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert len([line for line in result.stderr.splitlines() if line.startswith("Error:")]) == 1
        return
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    for renderer in RENDERERS.values():
        assert_inert(renderer(text), OWN_HEADINGS)
    generated = next(line for line in text.splitlines() if line.startswith("- **Generated:**"))
    assert "Owned epochs" in generated.replace(WORD_JOINER, "") and markdown.md("www.evil.example") in generated
