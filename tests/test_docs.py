"""The docs stay true to the code: the options reference is the commands' own help, and no link is dead."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import click
from markdown_it import MarkdownIt

from reportgen.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]


def generator():
    """docs/generate_cli_reference.py, imported from its path (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location("generate_cli_reference", ROOT / "docs" / "generate_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sections(text: str) -> dict[str, str]:
    """The reference's `## reportgen …` sections by command name ("" for the group itself)."""
    found = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = block.partition("\n")
        if title.startswith("reportgen"):
            found[title.removeprefix("reportgen").strip()] = body
    return found


def commands() -> dict[str, click.Command]:
    return {"": cli, **cli.commands}


def test_the_cli_reference_is_what_the_commands_print_now() -> None:
    """Change a help text or an option without `python docs/generate_cli_reference.py`, and this fails."""
    committed = (ROOT / "docs" / "cli-reference.md").read_text(encoding="utf-8")
    assert committed == generator().reference()


def test_every_option_and_argument_of_every_command_is_in_the_reference() -> None:
    found = sections((ROOT / "docs" / "cli-reference.md").read_text(encoding="utf-8"))
    assert set(found) == set(commands())
    missing = []
    for name, command in commands().items():
        for param in command.params:
            names = (
                [*param.opts, *param.secondary_opts]
                if isinstance(param, click.Option)
                else [param.make_metavar(click.Context(command))]
            )
            missing += [
                f"reportgen {name} {n}".replace("  ", " ")
                for n in names
                if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", found[name])
            ]
    assert missing == []


def test_the_reference_says_what_each_value_of_the_choice_options_means() -> None:
    """A new value of --engine, --loader, --preset or --device cannot arrive unexplained."""
    intro = (ROOT / "docs" / "cli-reference.md").read_text(encoding="utf-8").partition("\n## reportgen\n")[0]
    bullets = {m.group(1): m.group(0) for m in re.finditer(r"^- `(--[\w-]+)[^`]*`:.*?(?=^- |\Z)", intro, re.M | re.S)}
    options = {o.opts[0]: o for o in cli.commands["build"].params if isinstance(o, click.Option)}
    for flag in ("--preset", "--engine", "--loader", "--device", "--threads"):
        assert flag in bullets, f"{flag} is not explained in docs/cli-reference.md"
        choices = getattr(options[flag].type, "choices", ())
        unexplained = [c for c in choices if f"`{c}`" not in bullets[flag]]
        assert unexplained == [], f"{flag}: {unexplained} not explained"


def slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    base = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


def parsed(path: Path) -> tuple[list[str], set[str]]:
    """The link and image targets in a Markdown file (code blocks left out), and its headings' anchors."""
    tokens = MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))
    targets, anchors, seen = [], set(), {}
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            anchors.add(slug(tokens[i + 1].content, seen))
        for child in token.children or ():
            if child.type == "link_open":
                targets.append(child.attrs["href"])
            elif child.type == "image":
                targets.append(child.attrs["src"])
    return targets, anchors


def test_every_relative_link_in_the_readme_and_the_docs_points_to_something_that_exists() -> None:
    anchors = {path.resolve(): parsed(path)[1] for path in DOCS}
    dead = []
    for path in DOCS:
        for target in parsed(path)[0]:
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check offline
                continue
            file, _, anchor = target.partition("#")
            where = (path.parent / file).resolve() if file else path.resolve()
            name = f"{path.relative_to(ROOT)}: {target}"
            if not where.exists():
                dead.append(f"{name} (no such file)")
            elif anchor and where.suffix == ".md" and anchor not in anchors.get(where, parsed(where)[1]):
                dead.append(f"{name} (no such heading)")
    assert dead == []


def test_the_readme_is_short_and_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_section = text.partition("\n## ")[0]
    assert len(text.splitlines()) <= 200
    assert "make report" in first_section and "make test" in first_section
