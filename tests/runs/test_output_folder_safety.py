"""Nothing outside the output folder is ever read, written or deleted (issue 20, items 1, 8 and 10).

Links, hard links and special files are planted where reportgen's own files go; every
test checks that what lies outside is byte-identical afterwards, and what the user sees:
the exact `Error:` or warning line and the exit code. The tests run as root, so an old run
that cannot be deleted is made with `chattr +i` (the immutable attribute stops root too)
where the file system has it, else by making `shutil.rmtree` raise EPERM for that one run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reportgen import __version__, pipeline
from reportgen.data.files import UnreadableFile
from reportgen.render.html import packaged_templates
from reportgen.runs import files, history, outputs
from tests.helpers.commands import invoke
from tests.helpers.planted import planted_frame
from tests.helpers.reports import hand_made_report

pytestmark = pytest.mark.usefixtures("undrawn")
QUICK = ["--epochs", "1", "--factors", "4", "--top-n", "20"]
DEAD_PID = 4_194_305  # above the largest pid_max Linux allows: never a live process
OLD_RUNS = ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z")


@pytest.fixture(scope="module")
def ratings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ratings file: a build of it takes well under a second."""
    path = tmp_path_factory.mktemp("data") / "ratings.csv"
    planted_frame(n_users=40, n_items=20, density=0.6).frame.to_csv(path, index=False)
    return path


def build(out: Path, ratings: Path, *args: object) -> object:
    return invoke("build", "--ratings", ratings, "--output", out, *QUICK, *args)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target under `root`, by relative path (links not followed)."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "folder"
    return found


def lines_with(text: str, needle: str) -> list[str]:
    """The lines of a log that contain `needle`, without the timestamp cron's log lines start with."""
    return [re.sub(r"^\S+ ", "", line, count=1) for line in text.splitlines() if needle in line]


def kept_run(out: Path, name: str) -> Path:
    """A finished run written as `build` writes one (from the hand-made report), in a folder reportgen has locked."""
    out.mkdir(parents=True, exist_ok=True)
    (out / outputs.LOCK).touch()
    report = dataclasses.replace(hand_made_report(), timings=None)
    return Path(pipeline.write(report, out / outputs.RUNS / name)).parent


def outside_report(folder: Path) -> Path:
    """A valid report.json outside the output folder whose RMSE any real run would 'regress' from."""
    run = kept_run(folder, OLD_RUNS[0])
    doc = json.loads((run / "report.json").read_text(encoding="utf-8"))
    doc["metrics"]["valid_rmse"] = doc["metrics"]["valid_mse"] = 0.001
    (run / "report.json").write_text(json.dumps(doc), encoding="utf-8")
    return run


@contextlib.contextmanager
def undeletable(run: Path) -> Iterator[str]:
    """`run` cannot be deleted, even by root, while inside; yields how (`chattr` or `rmtree`)."""
    inner = run / "report.json"
    try:
        made = subprocess.run(["chattr", "+i", str(inner)], capture_output=True).returncode == 0
    except FileNotFoundError:  # no chattr on this system
        made = False
    if made:
        try:
            yield "chattr"
        finally:
            subprocess.run(["chattr", "-i", str(inner)], check=True)
        return
    real = shutil.rmtree

    def refusing(path: object, *args: object, **kwargs: object) -> None:
        if Path(str(path)).name == run.name:
            raise PermissionError(errno.EPERM, "Operation not permitted", "report.json")
        real(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files.shutil, "rmtree", refusing)
        yield "rmtree"


# --------------------------------------------------------------------------- the lock


@pytest.mark.parametrize("kind", ["a file", "a missing file", "a folder"])
def test_a_symlinked_lock_is_refused_in_one_line_and_nothing_it_points_to_is_touched(
    tmp_path: Path, ratings: Path, kind: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(b"root's data\n")
    target = {"a file": outside / "precious", "a missing file": outside / "created", "a folder": outside}[kind]
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(outside)
    (out / ".reportgen.lock").symlink_to(target)
    result = build(out, ratings)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {out / '.reportgen.lock'}: is a symbolic link to {target}, not followed; "
        "remove it (reportgen makes its own lock)\n"
    )
    assert snapshot(outside) == before  # not truncated, not created
    assert sorted(p.name for p in out.iterdir()) == [".reportgen.lock"]  # nothing built either


def test_a_hard_linked_lock_is_refused_and_the_other_name_keeps_its_bytes(tmp_path: Path, ratings: Path) -> None:
    precious = tmp_path / "precious"
    precious.write_bytes(b"root's data\n")
    out = tmp_path / "out"
    out.mkdir()
    os.link(precious, out / ".reportgen.lock")
    result = build(out, ratings)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {out / '.reportgen.lock'}: is a file with 2 names (a hard link), not reportgen's own lock; "
        "remove it (reportgen makes its own lock)\n"
    )
    assert precious.read_bytes() == b"root's data\n"


def test_a_fifo_as_lock_is_refused_without_hanging(tmp_path: Path, ratings: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / ".reportgen.lock")
    result = build(out, ratings)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {out / '.reportgen.lock'}: is not a plain file; remove it (reportgen makes its own lock)\n"
    )


# --------------------------------------------------------------------------- runs/ a link


def test_runs_as_a_link_is_set_aside_and_nothing_is_removed_through_it(tmp_path: Path, ratings: Path) -> None:
    """Dead-pid staging folders and old runs in the link's target survive leftover removal and --keep 1."""
    outside = tmp_path / "outside"
    (outside / f".staging-{DEAD_PID}-deadbeef").mkdir(parents=True)
    (outside / f".staging-{DEAD_PID}-deadbeef" / "report.html").write_bytes(b"<p>someone's</p>")
    (outside / f".report.json.{DEAD_PID}.abcd.tmp").write_bytes(b"{}")
    for name in OLD_RUNS:
        (outside / name).mkdir()
        (outside / name / "report.json").write_bytes(name.encode())
    before = snapshot(outside)
    out = tmp_path / "out"
    out.mkdir()
    (out / "runs").symlink_to(outside)

    result = build(out, ratings, "--keep", "1")
    assert result.exit_code == 0, result.output
    assert snapshot(outside) == before
    (aside,) = [p for p in out.iterdir() if p.name.startswith("runs.not-reportgen-")]
    assert os.readlink(aside) == str(outside)  # the link itself, renamed; its target as it was
    assert lines_with(result.stderr, "not a folder of runs") == [
        f"warning: {out / 'runs'} was not a folder of runs; renamed it to {aside.name} and started a new history"
    ]
    assert [run.name for run in outputs.runs(out)] == [os.readlink(out / "latest").removeprefix("runs/")]


def test_leftover_removal_never_enters_a_linked_runs_and_removes_a_leftover_link_not_its_target(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    (outside / f".staging-{DEAD_PID}-x").mkdir(parents=True)
    (outside / f".staging-{DEAD_PID}-x" / "kept").write_bytes(b"kept")
    before = snapshot(outside)
    out = tmp_path / "out"
    out.mkdir()
    (out / "runs").symlink_to(outside)
    (out / f".latest.{DEAD_PID}.ab.tmp").symlink_to(outside / f".staging-{DEAD_PID}-x")
    assert outputs.remove_leftovers(out) == [out / f".latest.{DEAD_PID}.ab.tmp"]
    assert snapshot(outside) == before

    # A real runs/ whose leftover staging "folder" is a link: the link goes, its target stays.
    (out / "runs").unlink()
    (out / "runs").mkdir()
    (out / "runs" / f".staging-{DEAD_PID}-y").symlink_to(outside / f".staging-{DEAD_PID}-x")
    assert outputs.remove_leftovers(out) == [out / "runs" / f".staging-{DEAD_PID}-y"]
    assert snapshot(outside) == before


def test_prune_and_the_history_never_go_through_links(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for name in OLD_RUNS[:2]:
        kept_run(out, name)
    outside = kept_run(tmp_path / "elsewhere", OLD_RUNS[2])
    before = snapshot(outside)
    (out / "runs" / "20260104T000000Z").symlink_to(outside)  # a run-named link: not a run
    (out / "runs" / OLD_RUNS[1] / "report.json").unlink()
    (out / "runs" / OLD_RUNS[1] / "report.json").symlink_to(outside / "report.json")

    rows = {row.name: row.problem for row in history.collect(out)}
    assert rows == {
        OLD_RUNS[0]: None,
        OLD_RUNS[1]: "report.json is a symbolic link, not followed",
        "20260104T000000Z": "a symbolic link, not followed",
    }
    assert outputs.prune(out, keep=0) == [out / "runs" / name for name in OLD_RUNS[:2]]
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["20260104T000000Z"]
    assert snapshot(outside) == before


def test_links_planted_where_reportgen_writes_are_replaced_and_their_targets_untouched(
    tmp_path: Path, ratings: Path
) -> None:
    """index.html, report.html, report.md: a link there is replaced by reportgen's own file or link, never written through."""
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    for name in ("index.html", "report.html", "report.md"):
        (outside / name).write_bytes(b"someone else's " + name.encode())
        (out / name).symlink_to(outside / name)
    before = snapshot(outside)
    result = build(out, ratings)
    assert result.exit_code == 0, result.output
    assert snapshot(outside) == before
    assert [os.readlink(out / name) for name in ("report.html", "report.md")] == [
        "latest/report.html",
        "latest/report.md",
    ]
    assert not (out / "index.html").is_symlink() and b"<!DOCTYPE html>" in (out / "index.html").read_bytes()


def test_the_one_reader_refuses_a_link_anywhere_on_the_way(tmp_path: Path) -> None:
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "report.json").write_bytes(b"{}")
    (tmp_path / "runs" / "b").symlink_to("a")
    (tmp_path / "runs" / "a" / "link.json").symlink_to("report.json")
    assert files.read_in(tmp_path, "runs/a/report.json", 1 << 20, "a report.json") == b"{}"
    for relative, message in [
        ("runs/b/report.json", "b is not a folder of reportgen's (a link or a file, not followed)"),
        ("runs/a/report.json/x", "report.json is not a folder of reportgen's (a link or a file, not followed)"),
        ("runs/a/link.json", "a symbolic link to report.json, not followed"),
    ]:
        with pytest.raises(files.FollowError) as caught:
            files.read_in(tmp_path, relative, 1 << 20, "a report.json")
        assert caught.value.strerror == message
    os.mknod(tmp_path / "zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))  # /dev/zero's device: reads never end
    with pytest.raises(UnreadableFile) as refused:
        files.read_in(tmp_path, "zero", 1 << 20, "a report.json")
    assert refused.value.problem == "is a device, not a regular file"


# --------------------------------------------------------------------------- the previous run


@pytest.mark.parametrize("planted", ["report.json", "latest", "a run in runs/"])
def test_a_previous_report_linked_outside_is_no_previous_run_with_one_warning(
    tmp_path: Path, ratings: Path, planted: str
) -> None:
    """Not read, so no 'regression' from a stranger's numbers (exit 0 with --fail-on-regression), and replaced."""
    foreign = outside_report(tmp_path / "elsewhere")
    before = snapshot(foreign)
    out = tmp_path / "out"
    out.mkdir()
    if planted == "report.json":
        (out / "report.json").symlink_to(foreign / "report.json")
        why = f"a symbolic link to {foreign / 'report.json'}, not followed"
    elif planted == "latest":
        (out / "latest").symlink_to(foreign)
        (out / "report.json").symlink_to("latest/report.json")
        why = f"latest does not point to a run in runs/ (it is a symbolic link to {foreign}, not followed)"
    else:
        (out / "runs").mkdir()
        (out / "runs" / OLD_RUNS[1]).symlink_to(foreign)
        (out / "latest").symlink_to(f"runs/{OLD_RUNS[1]}")
        (out / "report.json").symlink_to("latest/report.json")
        why = f"latest does not point to a run in runs/ (it is a symbolic link to runs/{OLD_RUNS[1]}, not followed)"

    result = build(out, ratings, "--fail-on-regression", "5")
    assert result.exit_code == 0, result.output
    assert lines_with(result.stderr, "warning: not comparing") == [
        f"warning: not comparing with {out / 'report.json'}: {why}"
    ]
    assert "comparison" not in json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert os.readlink(out / "report.json") == "latest/report.json"
    assert outputs.latest_run(out) is not None  # tonight's run replaced the planted link
    assert snapshot(foreign) == before


@pytest.mark.parametrize("special", ["fifo", "folder"])
def test_a_special_file_as_the_previous_report_is_skipped_without_hanging(tmp_path: Path, special: str) -> None:
    out = tmp_path / "out"
    run = kept_run(out, OLD_RUNS[0])
    (out / "latest").symlink_to(f"runs/{run.name}")
    (out / "report.json").symlink_to("latest/report.json")
    (run / "report.json").unlink()
    os.mkfifo(run / "report.json") if special == "fifo" else (run / "report.json").mkdir()
    assert outputs.previous_report(out) is None


# --------------------------------------------------------------------------- pruning


def test_an_undeletable_old_run_is_one_warning_the_others_are_pruned_and_the_build_succeeds(
    tmp_path: Path, ratings: Path
) -> None:
    out = tmp_path / "out"
    runs = [kept_run(out, name) for name in OLD_RUNS]
    stuck = runs[1]
    with undeletable(stuck):
        result = build(out, ratings, "--keep", "1")
        assert result.exit_code == 0, result.output
        assert lines_with(result.stderr, "warning: cannot delete") == [
            f"warning: cannot delete the old run {stuck} (Operation not permitted: report.json); it is kept for now"
        ]
        assert result.stdout.strip() == str(out / "report.html")
        published = outputs.latest_run(out)
        assert [run.name for run in outputs.runs(out)] == [stuck.name, published.name]
        assert (stuck / "report.json").is_file()  # a partly deleted run keeps what it could not lose
        page = (out / "index.html").read_text(encoding="utf-8")  # rebuilt after the failed deletion
        assert published.name in page and OLD_RUNS[0] not in page and OLD_RUNS[2] not in page

        again = build(out, ratings, "--keep", "1")  # night after night: still exit 0, still one warning
        assert again.exit_code == 0
        assert len(lines_with(again.stderr, "warning: cannot delete")) == 1
    final = build(out, ratings, "--keep", "1")  # deletable again: pruned like any other
    assert final.exit_code == 0
    assert [run.name for run in outputs.runs(out)] == [outputs.latest_run(out).name]


def test_prune_goes_on_past_every_run_it_cannot_delete(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    runs = [kept_run(out, name) for name in (*OLD_RUNS, "20260104T000000Z")]
    with undeletable(runs[0]), caplog.at_level(logging.WARNING):
        assert outputs.prune(out, keep=1) == runs[1:3]
    assert [m for m in caplog.messages if "cannot delete" in m] == [
        f"warning: cannot delete the old run {runs[0]} (Operation not permitted: report.json); it is kept for now"
    ]
    assert outputs.runs(out) == [runs[0], runs[3]]


def test_a_leftover_that_cannot_be_removed_is_a_warning_and_the_build_goes_on(tmp_path: Path, ratings: Path) -> None:
    out = tmp_path / "out"
    staging = out / "runs" / f".staging-{DEAD_PID}-deadbeef"
    staging.mkdir(parents=True)
    (staging / "report.json").write_bytes(b"{}")
    with undeletable(staging):
        result = build(out, ratings)
    assert result.exit_code == 0, result.output
    assert lines_with(result.stderr, str(staging)) == [
        f"warning: cannot remove {staging}, left by a run that did not finish: Operation not permitted"
    ]
    assert outputs.latest_run(out) is not None


# --------------------------------------------------------------------------- render


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """An output folder with two kept runs, the second published."""
    out = tmp_path / "out"
    for name in OLD_RUNS[:2]:
        kept_run(out, name)
    outputs.publish(out / "runs" / OLD_RUNS[1], out)
    return out


RULE = "render writes only into the run's own folder ({run}) or into an empty or new one"


@pytest.mark.parametrize(
    ("where", "what"),
    [
        (f"runs/{OLD_RUNS[1]}", "is the published run of {out}"),
        ("latest", "is the published run of {out}"),
        (".", "is not empty"),
        ("dangling", "is not a folder"),
    ],
)
def test_render_never_writes_into_another_kept_run_or_the_output_folder(published: Path, where: str, what: str) -> None:
    out, run = published, published / "runs" / OLD_RUNS[0]
    (out / "dangling").symlink_to(out.parent / "nowhere")  # a link to nothing: its target is not created
    target = out / where
    before = snapshot(out.parent)
    result = invoke("render", run, "-o", target)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {target}: {what.format(out=out)}; {RULE.format(run=run)}\n"
    assert snapshot(out.parent) == before


def test_render_refuses_another_kept_run_that_is_not_published(published: Path) -> None:
    run, other = published / "runs" / OLD_RUNS[1], published / "runs" / OLD_RUNS[0]
    result = invoke("render", run, "-o", other)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {other}: is another kept run of {published}; {RULE.format(run=run)}\n"


def test_render_adds_no_run_of_its_own_to_an_output_folder(published: Path) -> None:
    target = published / "runs" / "20990101T000000Z"
    result = invoke("render", published / "runs" / OLD_RUNS[0], "-o", target)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {target}: is inside the runs of the output folder {published}, where only build adds runs\n"
    )
    assert not target.exists()


def test_render_into_its_own_folder_or_an_empty_one_gives_the_same_bytes(published: Path, tmp_path: Path) -> None:
    run = published / "runs" / OLD_RUNS[1]
    assert invoke("render", run).exit_code == 0  # the page as this process draws it (figures: see `undrawn`)
    before = snapshot(run)
    assert invoke("render", run).exit_code == 0
    assert invoke("render", published / "latest").exit_code == 0  # the published run, by its link: its own folder
    assert snapshot(run) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("render", run, "-o", empty)
    assert result.exit_code == 0, result.output
    assert {name: (empty / name).read_bytes() for name in outputs.PUBLISHED} == {
        name: before[name] for name in outputs.PUBLISHED
    }


def test_render_waits_for_no_one_and_writes_nothing_while_a_build_holds_the_lock(published: Path) -> None:
    run = published / "runs" / OLD_RUNS[1]
    before = snapshot(run)
    with outputs.RunLock(published):
        result = invoke("render", run)
    assert result.exit_code == 75
    assert result.stderr == f"Error: another reportgen run holds {published / '.reportgen.lock'} (pid {os.getpid()})\n"
    assert snapshot(run) == before


@pytest.fixture
def changing_templates(tmp_path: Path) -> Path:
    """Templates that change the page, so that a replaced report.html would show."""
    mine = tmp_path / "templates"
    mine.mkdir()
    source = packaged_templates() / "_top_items.html.j2"
    (mine / "_top_items.html.j2").write_text(
        source.read_text(encoding="utf-8").replace("<h2", '<h2 class="mine"', 1), encoding="utf-8"
    )
    return mine


def test_a_render_that_fails_late_leaves_all_three_files_as_they_were(
    published: Path, changing_templates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """report.md failing after the page rendered: report.json, report.html and report.md all stay."""
    run = published / "runs" / OLD_RUNS[1]
    before = snapshot(run)

    def broken(report: object) -> str:
        raise ValueError("no Markdown tonight")

    monkeypatch.setattr(pipeline, "render_markdown", broken)
    result = invoke("render", run, "--templates", changing_templates)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {run / 'report.json'}: cannot be rendered with the templates in {changing_templates} "
        "(ValueError: no Markdown tonight)\n"
    )
    assert snapshot(run) == before


def test_a_render_whose_report_md_is_a_folder_replaces_nothing(published: Path, changing_templates: Path) -> None:
    run = published / "runs" / OLD_RUNS[0]
    (run / "report.md").unlink()
    (run / "report.md").mkdir()
    before = snapshot(run)
    result = invoke("render", run, "--templates", changing_templates)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {run}: cannot write the report (report.md is a folder)\n"
    assert snapshot(run) == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("template", ["{{ 1/0 }}", '{% include "_top_items.html.j2" %}'])
def test_a_failing_template_is_one_line_and_a_new_folder_is_not_left_behind(
    published: Path, tmp_path: Path, template: str
) -> None:
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "_top_items.html.j2").write_text(template, encoding="utf-8")
    run, target = published / "runs" / OLD_RUNS[0], tmp_path / "new" / "folder"
    result = invoke("render", run, "-o", target, "--templates", mine)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: template error in {mine}: ")
    assert result.stderr.count("\n") == 1
    assert not target.exists()


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_render_reads_a_runs_report_json_only_as_a_plain_file_of_its_own(
    published: Path, tmp_path: Path, kind: str
) -> None:
    foreign = outside_report(tmp_path / "elsewhere")
    before = snapshot(foreign)
    run = published / "runs" / OLD_RUNS[0]
    (run / "report.json").unlink()
    if kind == "link":
        (run / "report.json").symlink_to(foreign / "report.json")
        why = f"a symbolic link to {foreign / 'report.json'}, not followed"
    else:
        os.mkfifo(run / "report.json")
        why = "is a FIFO, not a regular file"
    page = (run / "report.html").read_bytes()
    result = invoke("render", run)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {run / 'report.json'}: cannot read it as a report.json ({why})\n"
    assert (run / "report.html").read_bytes() == page
    assert snapshot(foreign) == before


def test_a_crafted_report_json_that_cannot_be_rendered_is_one_line_exit_2(published: Path) -> None:
    """A string where a number goes is refused by the reader, value by value: one line, no traceback."""
    run = published / "runs" / OLD_RUNS[0]
    doc = json.loads((run / "report.json").read_text(encoding="utf-8"))
    doc["metrics"]["valid_rmse"] = "low"
    (run / "report.json").write_text(json.dumps(doc), encoding="utf-8")
    before = snapshot(run)
    result = invoke("render", run)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {run / 'report.json'}: not a complete report.json of reportgen {__version__} "
        "(metrics.valid_rmse is 'low', not a finite number)\n"
    )
    assert snapshot(run) == before
