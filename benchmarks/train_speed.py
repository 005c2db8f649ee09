"""Training speed on MovieLens 100k: the tutorial path, the lean path, the fast preset, plain PyTorch.

A script, not a test: timings depend on the machine and on what else it runs, so
compare the variants side by side in one invocation, on a quiet machine (the load
average is printed; keep it under 0.5).

    .venv/bin/python benchmarks/train_speed.py                 # the fit, 4 variants x 3 runs
    .venv/bin/python benchmarks/train_speed.py --end-to-end    # reportgen build vs the tutorial script
    .venv/bin/python benchmarks/train_speed.py --threads-table # 1 vs all threads by batch size
    .venv/bin/python benchmarks/train_speed.py --sweep         # the search behind the fast preset

Every measurement runs in a fresh Python process, so peak RSS
(`getrusage(RUSAGE_SELF).ru_maxrss`) belongs to that variant alone, and each
number printed is the median of `--runs` runs; runs of the variants alternate,
so a change in the machine's load hits them all alike. All variants use the same
data and the same 80/20 split (seed 42):

- tutorial: `CollabDataLoaders` + `collab_learner` (`TrainConfig(loader="fastai")`)
- lean:     the default path (`TrainConfig()`): fastai's Learner fed from tensors
- fast:     the lean path with `PRESETS["fast"]`
- torch:    the floor: the same `EmbeddingDotBias` and split, the same one-cycle
            schedule and AdamW step (torch.optim), in a bare PyTorch loop with the
            tutorial's batch size and epochs

`fit s` is `fit_one_cycle` alone (the loop, for torch); `stage s` is the whole train
stage (split, loaders, model, fit). Every variant runs with `choose_threads`' count
(`--threads` overrides it): one thread at these batch sizes, which is also faster
for the tutorial path than torch's default of every core, so its times here are
its best, not the tutorial script's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VARIANTS = ("tutorial", "lean", "fast", "torch")


# --------------------------------------------------------------------------- one measurement (child process)


def child(spec: dict) -> dict:
    """Train one variant on ML-100k in this (fresh) process and report its numbers."""
    import warnings

    warnings.filterwarnings("ignore")
    from reportgen.data import dataset as data
    from reportgen.train import fitting as train

    ratings = data.load(download=None)
    variant = spec["variant"]
    overrides = {k: v for k, v in spec.get("overrides", {}).items()}
    if spec.get("threads") is not None:
        overrides["threads"] = spec["threads"]
    if variant == "torch":
        return torch_loop(ratings, train.TrainConfig(**overrides))
    if variant == "tutorial":
        config = train.TrainConfig(loader="fastai", **overrides)
    elif variant == "lean":
        config = train.TrainConfig(**overrides)
    elif variant == "fast":
        config = train.TrainConfig.from_preset("fast", **overrides)
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    model = train.fit(ratings, config)
    rt = model.runtime
    return {
        "fit_s": rt.fit_seconds,
        "stage_s": model.seconds,
        "steps": rt.steps,
        "mse": model.metrics.valid_mse,
        "threads": rt.threads,
        "device": rt.device,
        "bs": config.bs,
        "epochs": config.epochs,
        "lr": config.lr,
        "wd": config.wd,
    }


def torch_loop(ratings, config) -> dict:
    """The floor: the same model, split and schedule in a plain PyTorch loop."""
    import numpy as np
    import pandas as pd
    import torch
    import torch.nn.functional as F
    from fastai.collab import EmbeddingDotBias
    from fastai.torch_core import set_seed

    from reportgen.train import fitting as train
    from reportgen.train import learner as lean

    threads = config.threads if config.threads is not None else train.choose_threads(config.bs, "cpu")
    torch.set_num_threads(threads)
    started = time.perf_counter()
    set_seed(config.seed, reproducible=True)
    frame = ratings.frame[["user", "title", "rating"]].reset_index(drop=True)
    train_idx, valid_idx, classes = lean.lean_split(frame, config)
    codes = np.stack(
        [pd.Index(list(classes[n].items[1:])).get_indexer(frame[n]).astype(np.int64) + 1 for n in ("user", "title")],
        axis=1,
    )
    x, y = torch.from_numpy(codes), torch.from_numpy(frame["rating"].to_numpy(dtype=np.float32))
    xt, yt, xv, yv = x[train_idx], y[train_idx], x[valid_idx], y[valid_idx]
    model = EmbeddingDotBias.from_classes(config.factors, classes, y_range=config.y_range)
    steps_per_epoch = len(xt) // config.bs
    steps = steps_per_epoch * config.epochs
    # fastai's Adam with decoupled weight decay is AdamW; fit_one_cycle's defaults as OneCycleLR.
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.95, 0.99), eps=1e-5, weight_decay=config.wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=config.lr,
        total_steps=steps,
        pct_start=0.25,
        div_factor=25.0,
        final_div_factor=1e5 / 25.0,
        base_momentum=0.85,
        max_momentum=0.95,
    )
    generator = torch.Generator().manual_seed(config.seed)
    fit_started = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, steps_per_epoch * config.bs, config.bs):
            batch = order[start : start + config.bs]
            loss = F.mse_loss(model(xt[batch]), yt[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            mse = float(((model(xv).double() - yv.double()) ** 2).mean())
    fit_s = time.perf_counter() - fit_started
    return {
        "fit_s": fit_s,
        "stage_s": time.perf_counter() - started,
        "steps": steps,
        "mse": mse,
        "threads": threads,
        "device": "cpu",
        "bs": config.bs,
        "epochs": config.epochs,
        "lr": config.lr,
        "wd": config.wd,
    }


def measure(spec: dict) -> dict:
    """Run `child(spec)` in a fresh interpreter; add its peak RSS."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- printing


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# --------------------------------------------------------------------------- modes


def fit_mode(args: argparse.Namespace) -> None:
    variants = args.variants or list(VARIANTS)
    print(f"fit on ML-100k, median of {args.runs} runs, each in a fresh process; {load_line()}", flush=True)
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for run in range(args.runs):
        for variant in variants:
            r = measure({"variant": variant, "threads": args.threads})
            results[variant].append(r)
            print(
                f"  run {run + 1} {variant:<8} fit {r['fit_s']:6.2f} s  MSE {r['mse']:.4f}  RSS {r['rss_kb'] / 1024:5.0f} MB",
                flush=True,
            )
    base = median(results["tutorial"], "fit_s") if "tutorial" in results else None
    base_mse = median(results["tutorial"], "mse") if "tutorial" in results else None
    rows = []
    for variant, rs in results.items():
        fit_s = median(rs, "fit_s")
        r0 = rs[0]
        rows.append(
            [
                variant,
                f"{r0['bs']} x {r0['epochs']}, lr {r0['lr']:g}, wd {r0['wd']:g}",
                str(r0["threads"]),
                f"{r0['steps']}",
                f"{fit_s:.2f}",
                f"{median(rs, 'stage_s'):.2f}",
                f"{statistics.median(r['steps'] / r['fit_s'] for r in rs):.0f}",
                f"{median(rs, 'mse'):.4f}",
                f"{median(rs, 'rss_kb') / 1024:.0f}",
                f"{fit_s / base:.2f}" if base else "-",
                f"{base / fit_s:.1f}x" if base else "-",
                f"{median(rs, 'mse') - base_mse:+.4f}" if base_mse is not None else "-",
            ]
        )
    print()
    print(
        table(
            [
                "variant",
                "bs x epochs, lr, wd",
                "threads",
                "steps",
                "fit s",
                "stage s",
                "steps/s",
                "valid MSE",
                "peak RSS MB",
                "fit/tutorial",
                "speed-up",
                "MSE - tutorial",
            ],
            rows,
        )
    )
    print(f"\n{load_line()} (after)")


def end_to_end_mode(args: argparse.Namespace) -> None:
    """`reportgen build` (default, and with the fast preset's settings) vs the tutorial script, wall time."""
    from reportgen.train.config import PRESETS

    reportgen = str(Path(sys.executable).with_name("reportgen"))
    fast = [f"--{k}={v}" for k, v in PRESETS["fast"].changes.items()]
    commands = {
        "tutorial script": [sys.executable, str(HERE / "tutorial.py")],
        "reportgen build": [reportgen, "build", "--offline", "--quiet"],
        "reportgen build (fast)": [reportgen, "build", "--offline", "--quiet", *fast],
    }
    print(f"end to end on ML-100k, median of {args.runs} runs, each in a fresh process; {load_line()}", flush=True)
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        for run in range(args.runs):
            for name, command in commands.items():
                extra = (
                    ["--output", str(Path(tmp) / f"out{run}-{len(times[name])}")]
                    if "reportgen" in name
                    else ["--out", str(Path(tmp) / "plot.png")]
                )
                started = time.perf_counter()
                done = subprocess.run(
                    command + extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp, env=env
                )
                if done.returncode != 0:
                    raise SystemExit(f"{name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
                times[name].append(time.perf_counter() - started)
                print(f"  run {run + 1} {name:<24} {times[name][-1]:6.2f} s", flush=True)
    base = statistics.median(times["tutorial script"])
    rows = [
        [name, f"{statistics.median(ts):.2f}", " ".join(f"{t:.1f}" for t in ts), f"{statistics.median(ts) / base:.2f}"]
        for name, ts in times.items()
    ]
    print()
    print(table(["command", "median s", "runs s", "x tutorial script"], rows))
    print(f"\n{load_line()} (after)")


def threads_mode(args: argparse.Namespace) -> None:
    """The lean path with 1 thread and with every thread, by batch size, 1,250 steps each.

    `bs / 64` epochs at batch size `bs` make every row the same number of optimizer
    steps (the tutorial's one epoch), so the columns compare the cost of a step.
    """
    cores = len(os.sched_getaffinity(0))
    sizes = [64, 128, 256, 512, 1024, 2048, 4096]
    print(f"lean fit, 1,250 steps per row (bs/64 epochs), median of {args.runs}; {load_line()}", flush=True)
    results: dict[tuple[int, int], list[dict]] = {}
    for _ in range(args.runs):
        for bs in sizes:
            for threads in sorted({1, cores}):
                r = measure({"variant": "lean", "threads": threads, "overrides": {"bs": bs, "epochs": bs // 64}})
                results.setdefault((bs, threads), []).append(r)
    rows = []
    for bs in sizes:
        one = median(results[(bs, 1)], "fit_s")
        many = median(results[(bs, cores)], "fit_s")
        steps = results[(bs, 1)][0]["steps"]
        rows.append(
            [
                str(bs),
                str(bs // 64),
                f"{one:.2f}",
                f"{many:.2f}",
                f"{one / steps * 1e3:.2f}",
                f"{many / steps * 1e3:.2f}",
                f"{one / many:.2f}",
            ]
        )
    print(
        table(["bs", "epochs", "1 thread s", f"{cores} threads s", "ms/step 1", f"ms/step {cores}", "1 / many"], rows)
    )
    print(f"\n{load_line()} (after)")


def sweep_mode(args: argparse.Namespace) -> None:
    """Batch size x epochs x learning rate x weight decay on the lean path, in this one process.

    The search behind `PRESETS["fast"]`: fit seconds and valid MSE for each setting
    (one run each; time the finalists with the fit mode). Fits run one after the
    other in this process, so the imports are paid once.
    """
    import itertools
    import warnings

    warnings.filterwarnings("ignore")
    from reportgen.data import dataset as data
    from reportgen.train import fitting as train

    grid = {
        "bs": [256, 512, 1024, 2048],
        "epochs": [3, 5, 8],
        "lr": [0.005, 0.01, 0.02, 0.05],
        "wd": [0.1, 0.5],
        "seed": [42],
    }
    grid.update(json.loads(args.grid) if args.grid else {})
    ratings = data.load(download=None)
    print(f"sweep on ML-100k (lean path, one run each); {load_line()}", flush=True)
    rows = []
    for bs, epochs, lr, wd, seed in itertools.product(grid["bs"], grid["epochs"], grid["lr"], grid["wd"], grid["seed"]):
        model = train.fit(
            ratings, train.TrainConfig(bs=bs, epochs=epochs, lr=lr, wd=wd, seed=seed, threads=args.threads)
        )
        rt = model.runtime
        rows.append(
            [
                str(bs),
                str(epochs),
                f"{lr:g}",
                f"{wd:g}",
                str(seed),
                str(rt.threads),
                str(rt.steps),
                f"{rt.fit_seconds:.2f}",
                f"{model.metrics.valid_mse:.4f}",
            ]
        )
        print("  " + "  ".join(rows[-1]), flush=True)
    print()
    print(table(["bs", "epochs", "lr", "wd", "seed", "threads", "steps", "fit s", "valid MSE"], rows))
    good = [r for r in rows if float(r[-1]) <= 0.83]
    if good:
        best = min(good, key=lambda r: float(r[-2]))
        print(
            f"\nfastest with valid MSE <= 0.83: bs {best[0]}, epochs {best[1]}, lr {best[2]}, wd {best[3]}, seed {best[4]}: {best[-2]} s, MSE {best[-1]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per variant; the median is printed (default 3)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads for every variant (default: each one's rule)"
    )
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, help="fit mode: which variants (default: all)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--end-to-end", action="store_true", help="time `reportgen build` and the tutorial script in fresh processes"
    )
    mode.add_argument("--threads-table", action="store_true", help="1 thread vs all threads by batch size")
    mode.add_argument("--sweep", action="store_true", help="bs x epochs x lr x wd search for the fast preset")
    parser.add_argument(
        "--grid",
        help='sweep: JSON {"bs": [...], "epochs": [...], "lr": [...], "wd": [...], "seed": [...]} (each key optional)',
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(json.loads(args.child))
        result["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(result))
    elif args.end_to_end:
        end_to_end_mode(args)
    elif args.threads_table:
        threads_mode(args)
    elif args.sweep:
        sweep_mode(args)
    else:
        fit_mode(args)


if __name__ == "__main__":
    main()
