"""GPU benchmark (issue 21): the sparse engine on CUDA at 25M and 100M planted ratings, one command.

Run by `benchmarks/gpu.sh` on a machine with an NVIDIA GPU (it installs what that
machine lacks from carried wheels first); a script, not a test. For each size it
draws planted data on the GPU, writes it as Parquet, then runs `reportgen build
--ratings FILE --device DEVICE -q` in a child process and prints one row: valid
RMSE, fit seconds, whole-process seconds, rating updates per second, the child's
peak RSS and the 1-minute load average.

    python3 benchmarks/gpu.py                         # 25m and 100m on cuda, 25m on the cpu beside it
    python3 benchmarks/gpu.py --sizes 1m --devices cpu   # a dry run on a machine without a GPU

The data is `benchmarks/scale.py`'s planted model (rank 10, noise sd 0.5, Zipf item
popularity, log-normal user activity, every pair at most once, rounded to 1-5), its
shapes (`25m`: MovieLens-25M's, `100m`: the Netflix prize's), drawn with torch on the
GPU: other random numbers than scale.py's numpy draw, so other files, the same
distribution. The noise floor is the RMSE of the noiseless score.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale import NOISE, RANK, SHAPES, ZIPF, Shape, load_average, measured  # noqa: E402


def planted(shape: Shape, device: str, seed: int = 0) -> tuple:
    """(user, item, rating) numpy arrays and the noise floor, drawn on `device`; ids from 1."""
    import torch

    g = torch.Generator(device=device).manual_seed(seed)
    activity = torch.exp(torch.randn(shape.n_users, generator=g, device=device, dtype=torch.float64))
    popularity = 1.0 / torch.arange(1, shape.n_items + 1, device=device, dtype=torch.float64) ** ZIPF
    popularity = popularity[torch.randperm(shape.n_items, generator=g, device=device)]
    keys = torch.empty(0, dtype=torch.int64, device=device)
    while len(keys) < shape.n_ratings:  # sample pairs, drop repeats, top up
        want = int((shape.n_ratings - len(keys)) * 1.15) + 1000
        users = torch.multinomial(activity, want, replacement=True, generator=g)
        items = torch.multinomial(popularity, want, replacement=True, generator=g)
        keys = torch.unique(torch.cat([keys, users * shape.n_items + items]))
    keys = keys[torch.randperm(len(keys), generator=g, device=device)[: shape.n_ratings]]
    users, items = keys // shape.n_items, keys % shape.n_items
    del keys
    scale = (0.8**2 / RANK) ** 0.25  # P_u·Q_i has sd 0.8
    p = torch.randn(shape.n_users, RANK, generator=g, device=device) * scale
    q = torch.randn(shape.n_items, RANK, generator=g, device=device) * scale
    bu = torch.randn(shape.n_users, generator=g, device=device) * 0.4
    bi = torch.randn(shape.n_items, generator=g, device=device) * 0.5
    score = torch.empty(shape.n_ratings, device=device)
    chunk = 8_000_000
    for start in range(0, shape.n_ratings, chunk):
        u, i = users[start : start + chunk], items[start : start + chunk]
        score[start : start + chunk] = 3.5 + bu[u] + bi[i] + (p[u] * q[i]).sum(1)
    noisy = score + torch.randn(shape.n_ratings, generator=g, device=device) * NOISE
    rating = torch.clamp(torch.round(noisy), 1, 5)
    floor = float(torch.sqrt(torch.mean((score.double() - rating.double()) ** 2)))
    as_numpy = (t.cpu().numpy() for t in ((users + 1).int(), (items + 1).int(), rating.to(torch.int8)))
    return (*as_numpy, floor)


def write_parquet(shape: Shape, folder: Path, device: str) -> tuple[Path, float, float]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    users, items, rating, floor = planted(shape, device)
    path = folder / f"planted-{shape.name}.parquet"
    pq.write_table(pa.table({"user": users, "item": items, "rating": rating}), path, row_group_size=4_000_000)
    return path, floor, time.perf_counter() - started


def run(path: Path, device: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="gpu-") as out:
        result = measured(
            [sys.executable, "-m", "reportgen", "build", "--ratings", str(path), "-o", out, "-q", "--device", device]
        )
        doc = json.loads((Path(out) / "report.json").read_text())
        page = (Path(out) / "report.html").stat().st_size
    runtime = doc["runtime"]
    epochs = len(doc["metrics"]["epochs"])
    return {
        **result,
        "rmse": doc["metrics"]["valid_rmse"],
        "fit_s": runtime["fit_seconds"],
        "updates_per_s": epochs * doc["metrics"]["n_train"] / runtime["fit_seconds"],
        "notes": f"engine {runtime.get('engine')}, {runtime.get('kernel') or 'torch'} loop, {runtime.get('threads')} thread(s), "
        f"{epochs} epochs, report.html {page / 1000:.0f} KB",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="25m,100m", help="comma-separated: " + ",".join(SHAPES))
    parser.add_argument("--devices", default="cuda", help="comma-separated devices for every size, e.g. cuda,cpu")
    parser.add_argument("--cpu-sizes", default="25m", help="sizes also run with --device cpu (empty: none)")
    parser.add_argument("--data", default=None, help="folder for the Parquet files (default: a temporary one)")
    args = parser.parse_args()
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(f"{gpu}; {os.cpu_count()} CPUs; torch {torch.__version__}; load {load_average():.2f}", flush=True)
    draw_on = "cuda" if torch.cuda.is_available() else "cpu"
    print(
        f"{'size':>5} {'device':<6} {'valid RMSE':>10} {'fit s':>7} {'process s':>9} {'updates/s':>9} {'peak RSS MB':>11} {'noise floor':>11} {'load':>5}  notes",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="gpu-data-") as tmp:
        folder = Path(args.data or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in (s for s in args.sizes.split(",") if s):
            path, floor, seconds = write_parquet(SHAPES[size], folder, draw_on)
            print(
                f"# {size}: drew and wrote {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {seconds:.1f} s on {draw_on}",
                flush=True,
            )
            devices = [d for d in args.devices.split(",") if d]
            devices += ["cpu"] if size in args.cpu_sizes.split(",") and "cpu" not in devices else []
            for device in devices:
                r = run(path, device)
                print(
                    f"{size:>5} {device:<6} {r['rmse']:>10.4f} {r['fit_s']:>7.1f} {r['process_s']:>9.1f} "
                    f"{r['updates_per_s'] / 1e6:>8.1f}M {r['peak_rss_mb']:>11.0f} {floor:>11.4f} {r['load']:>5.2f}  {r['notes']}",
                    flush=True,
                )
            path.unlink()


if __name__ == "__main__":
    main()
