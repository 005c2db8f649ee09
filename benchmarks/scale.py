"""Scale benchmark (issue 11): reportgen against cornac MF and surprise SVD on planted data.

A script, not a test: timings depend on the machine and on what else runs on it,
so every figure is printed beside the 1-minute load average taken when it was
measured. Run one benchmark at a time.

    .venv/bin/python benchmarks/scale.py --generate                 # 1M, 10M, 25M CSVs (nice'd)
    .venv/bin/python benchmarks/scale.py --generate --sizes 1m --parquet
    python3 benchmarks/scale.py --setup-peers                       # cornac + surprise, own venv
    .venv/bin/python benchmarks/scale.py --sizes 1m,10m             # reportgen (+ peers if set up)
    .venv/bin/python benchmarks/scale.py --sizes 1m --no-peers
    .venv/bin/python benchmarks/scale.py --sizes 1m --no-peers --nproc 1,2   # alone, then data-parallel

Data: ratings from a planted rank-10 model, `3.5 + user bias + item bias + P_u·Q_i`
plus Gaussian noise (sd 0.5), rounded and clipped to 1–5; item popularity is Zipf
(exponent 0.9), user activity log-normal (sigma 1); every (user, item) pair at most
once; rows in random order. The noise floor saved beside each file is the RMSE of
the noiseless planted score against the rounded noisy ratings: no model can beat
it on average.

reportgen runs as `reportgen build --ratings FILE -o TMP -q --split random` in a child process
(whole-process seconds and the child's peak RSS from `getrusage(RUSAGE_CHILDREN)`);
its valid RMSE and fit seconds come from report.json. The peers (cornac MF k=50,
surprise SVD, their default settings) train in `benchmarks/.venv-peers` on the very
split reportgen uses (`--split random`, not own data's default stable split:
`reportgen.train.sparse.split_indices`, handed over as .npy); their
RMSE is over every validation rating, as reportgen's is: predictions clipped to 1–5
(as both libraries clip), the training mean for the few users or items unseen in
training. Their fit seconds are the `fit` call alone (building their data sets
from Python tuples is not counted); whole-process seconds include it.

Measured on this 2-core machine (the 1-minute load average beside each row), reportgen
with the default (auto -> sparse) engine, after the loader, quality and history work:

     size tool       valid RMSE    fit s process s peak RSS MB noise floor  load
       1m reportgen      0.5953      2.0       7.2         982      0.5770  0.95
       1m cornac         0.6067      0.5       2.7         451      0.5770  0.96
       1m surprise       0.6625      9.5      10.5         575      0.5770  1.00
      10m reportgen      0.5866     36.5      48.7        1676      0.5751  0.96
      10m cornac         0.5936      9.4      29.4        3144      0.5751  1.02
      25m reportgen      0.5924     92.1     118.2        2902      0.5761  1.01
      25m cornac         0.5991     66.1     131.8        7396      0.5761  1.05

(`--sizes 1m,10m,25m --peers cornac`, then `--sizes 1m --no-reportgen --peers surprise`;
surprise SVD at 10M: 0.6110 in 197 s, an earlier run at load 2.5.) Generating the data
took 4.7 s (1M), 66 s (10M) and 222 s (25M, nice 10, load 2.9), at most 2 GB of memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
PEERS = HERE / ".venv-peers"
PEERS_PY = PEERS / "bin" / "python"


@dataclass(frozen=True)
class Shape:
    name: str
    n_users: int
    n_items: int
    n_ratings: int


SHAPES = {
    "100k": Shape("100k", 943, 1_682, 100_000),
    "300k": Shape("300k", 3_000, 1_500, 300_000),
    "1m": Shape("1m", 6_040, 3_706, 1_000_000),  # MovieLens-1M's numbers of users and items
    "10m": Shape("10m", 70_000, 10_000, 10_000_000),
    "25m": Shape("25m", 162_541, 59_047, 25_000_095),  # MovieLens-25M's shape
    "100m": Shape("100m", 480_189, 17_770, 100_480_507),  # the Netflix prize's shape (Parquet: --no-csv)
}
RANK, NOISE, ZIPF, ACTIVITY_SIGMA = 10, 0.5, 0.9, 1.0
CHUNK = 2_000_000  # rows per CSV write


def load_average() -> float:
    return os.getloadavg()[0]


# --------------------------------------------------------------------------- generation


def union(keys, new):
    """`np.unique(np.concatenate([keys, new]))` for a sorted, unique `keys`: only `new` is sorted.

    The same array (so the same planted data), without re-sorting 100M kept keys on every
    top-up round: the new keys not already kept are inserted in one O(n) pass.
    """
    import numpy as np

    fresh = np.unique(new)
    at = np.searchsorted(keys, fresh)
    kept = at < len(keys)
    kept[kept] = keys[at[kept]] == fresh[kept]
    return np.insert(keys, at[~kept], fresh[~kept])


def planted(shape: Shape, seed: int = 0) -> tuple:
    """(user, item, rating, noiseless score) arrays for `shape`; vectorised, O(n) memory."""
    import numpy as np

    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, shape.n_users)
    popularity = 1.0 / np.arange(1, shape.n_items + 1) ** ZIPF
    rng.shuffle(popularity)  # popularity unrelated to the item id
    p_user, p_item = activity / activity.sum(), popularity / popularity.sum()
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < shape.n_ratings:  # sample pairs, drop repeats, top up
        want = int((shape.n_ratings - len(keys)) * 1.15) + 1000
        users = rng.choice(shape.n_users, size=want, p=p_user).astype(np.int64)
        items = rng.choice(shape.n_items, size=want, p=p_item).astype(np.int64)
        keys = union(keys, users * shape.n_items + items)
    keys = rng.permutation(keys)[: shape.n_ratings]
    users, items = (keys // shape.n_items).astype(np.int32), (keys % shape.n_items).astype(np.int32)
    del keys
    scale = (0.8**2 / RANK) ** 0.25  # P_u·Q_i has sd 0.8
    p = rng.normal(0, scale, (shape.n_users, RANK)).astype(np.float32)
    q = rng.normal(0, scale, (shape.n_items, RANK)).astype(np.float32)
    bu = rng.normal(0, 0.4, shape.n_users).astype(np.float32)
    bi = rng.normal(0, 0.5, shape.n_items).astype(np.float32)
    score = np.empty(shape.n_ratings, dtype=np.float32)
    for start in range(0, shape.n_ratings, CHUNK):
        u, i = users[start : start + CHUNK], items[start : start + CHUNK]
        score[start : start + CHUNK] = 3.5 + bu[u] + bi[i] + np.einsum("ij,ij->i", p[u], q[i])
    noisy = score + rng.normal(0, NOISE, shape.n_ratings).astype(np.float32)
    rating = np.clip(np.rint(noisy), 1, 5).astype(np.int8)
    return users + 1, items + 1, rating, score  # ids from 1, like MovieLens


def generate(shape: Shape, parquet: bool, csv: bool = True) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    DATA.mkdir(exist_ok=True)
    started, load = time.perf_counter(), load_average()
    users, items, rating, score = planted(shape)
    floor = float(np.sqrt(np.mean((score.astype(np.float64) - rating) ** 2)))
    path = DATA / f"planted-{shape.name}.csv"
    tmp = path.with_suffix(".csv.part")

    def table(s: int) -> pa.Table:
        return pa.table({"user": users[s : s + CHUNK], "item": items[s : s + CHUNK], "rating": rating[s : s + CHUNK]})

    if csv:
        with pacsv.CSVWriter(tmp, table(0).schema, write_options=pacsv.WriteOptions(quoting_style="none")) as writer:
            for start in range(0, shape.n_ratings, CHUNK):
                writer.write_table(table(start))
        tmp.replace(path)
    if parquet:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(DATA / f"planted-{shape.name}.parquet.part", table(0).schema) as writer:
            for start in range(0, shape.n_ratings, CHUNK):  # row groups of CHUNK rows
                writer.write_table(table(start))
        (DATA / f"planted-{shape.name}.parquet.part").replace(DATA / f"planted-{shape.name}.parquet")
        path = DATA / f"planted-{shape.name}.parquet"
    meta = {
        "shape": shape.__dict__,
        "noise_floor_rmse": floor,
        "rank": RANK,
        "noise_sd": NOISE,
        "zipf": ZIPF,
        "users_rated": len(np.unique(users)),
        "items_rated": len(np.unique(items)),
    }
    (DATA / f"planted-{shape.name}.json").write_text(json.dumps(meta, indent=2))
    print(
        f"{shape.name}: {path} ({path.stat().st_size / 1e6:.0f} MB), noise floor {floor:.4f}, "
        f"{time.perf_counter() - started:.1f} s (load {load:.2f})",
        flush=True,
    )


# --------------------------------------------------------------------------- measuring a child process


def measured(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run `cmd` through `--child` (a fresh wrapper), so the peak RSS is that command's alone."""
    load = load_average()
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "--", *cmd],
        capture_output=True,
        check=False,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        raise SystemExit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load"] = load
    return result


def child(cmd: list[str]) -> None:
    """Run `cmd`; print its wall seconds, peak RSS and last stdout line as one JSON line."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(proc.returncode)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = proc.stdout.strip().splitlines()
    last = lines[-1] if lines and lines[-1].startswith("{") else "{}"
    print(json.dumps({"process_s": seconds, "peak_rss_mb": peak_kb / 1024, **json.loads(last)}))


# --------------------------------------------------------------------------- the tools


def run_reportgen(path: Path, nproc: int = 1, engine: str = "auto") -> dict:
    """`reportgen build` on `path`, alone or in `nproc` processes (`--nproc`; peak RSS: the largest one)."""
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        command = [sys.executable, "-m", "reportgen", "build", "--ratings", str(path), "-o", tmp, "-q"]
        command += ["--split", "random"]  # the peers' split (`split_for_peers`): the same rows for every tool
        command += ["--engine", engine] if engine != "auto" else []
        result = measured(command + (["--nproc", str(nproc)] if nproc > 1 else []))
        doc = json.loads((Path(tmp) / "report.json").read_text())
    runtime = doc.get("runtime", {})
    epochs = len(doc["metrics"].get("epochs") or ()) or doc["config"]["epochs"]
    return {
        **result,
        "updates_per_s": epochs * doc["metrics"]["n_train"] / runtime["fit_seconds"],
        "kernel": runtime.get("kernel"),
        "threads": runtime.get("threads"),
        "rmse": doc["metrics"]["valid_rmse"],
        "fit_s": runtime.get("fit_seconds"),
        "n_valid": doc["metrics"].get("n_valid"),
        "engine": runtime.get("engine", runtime.get("loader")),
        "world": runtime.get("world_size", 1),
    }


PEER_SCRIPT = r"""
import json, sys, time
started = time.perf_counter()
import numpy as np
import pandas as pd
path, folder, tool = sys.argv[1], sys.argv[2], sys.argv[3]
# The script reads the ratings file itself, as a user's script would (pandas on pyarrow),
# and trains on reportgen's own split (its training and validation row numbers).
frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path, engine="pyarrow")
u, i = (pd.factorize(frame[c])[0].astype(np.int32) for c in ("user", "item"))
r = frame["rating"].to_numpy(np.float32)
del frame
tr, va = np.load(f"{folder}/train.npy"), np.load(f"{folder}/valid.npy")
mean = float(r[tr].mean())
seen_u = np.bincount(u[tr], minlength=u.max() + 1) > 0
seen_i = np.bincount(i[tr], minlength=i.max() + 1) > 0
known = seen_u[u[va]] & seen_i[i[va]]
a, b = u[va][known], i[va][known]
pred = np.full(len(va), mean)
if tool == "libmf":
    # LIBMF's FPSGD (python bindings `libmf`), k=50 on both cores, 20 iterations, its own
    # defaults otherwise (eta 0.1, L2 0.04 on P and Q, no biases). The bindings' predict()
    # is broken, so the score is P_u . Q_i from p_factors()/q_factors().
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        from libmf import mf
    model = mf.MF(k=50, nr_threads=2, nr_iters=20, quiet=True)
    data = np.stack([u[tr].astype(np.float32), i[tr].astype(np.float32), r[tr]], axis=1)
    fit_started = time.perf_counter(); model.fit(data); fit_s = time.perf_counter() - fit_started
    del data
    p, q = model.p_factors(), model.q_factors()
    pred[known] = np.einsum("ij,ij->i", p[a], q[b])
    iterations = 20
elif tool == "cornac":
    import cornac
    data = cornac.data.Dataset.from_uir(list(zip(u[tr].tolist(), i[tr].tolist(), r[tr].astype(float).tolist())), seed=0)
    model = cornac.models.MF(k=50, max_iter=20, learning_rate=0.01, lambda_reg=0.02, use_bias=True, seed=0)
    fit_started = time.perf_counter(); model.fit(data); fit_s = time.perf_counter() - fit_started
    umap = np.full(u.max() + 1, -1); imap = np.full(i.max() + 1, -1)
    for raw, inner in data.uid_map.items(): umap[raw] = inner
    for raw, inner in data.iid_map.items(): imap[raw] = inner
    aa, bb = umap[a], imap[b]
    pred[known] = model.global_mean + model.u_biases[aa] + model.i_biases[bb] + np.einsum("ij,ij->i", model.u_factors[aa], model.i_factors[bb])
    iterations = 20
elif tool == "surprise":
    from collections import defaultdict
    from surprise import SVD, Trainset
    ur, ir = defaultdict(list), defaultdict(list)
    for x, y, v in zip(u[tr].tolist(), i[tr].tolist(), r[tr].astype(float).tolist()):
        ur[x].append((y, v)); ir[y].append((x, v))
    ids_u, ids_i = sorted(ur), sorted(ir)
    # inner ids = the codes themselves; surprise only needs the dicts to be consistent
    trainset = Trainset(ur, ir, max(ids_u) + 1, max(ids_i) + 1, len(tr), (1, 5), {k: k for k in ids_u}, {k: k for k in ids_i})
    model = SVD(random_state=0)
    fit_started = time.perf_counter(); model.fit(trainset); fit_s = time.perf_counter() - fit_started
    pred[known] = model.trainset.global_mean + model.bu[a] + model.bi[b] + np.einsum("ij,ij->i", model.pu[a], model.qi[b])
    iterations = model.n_epochs
else:
    raise SystemExit(f"unknown tool {tool}")
pred = np.clip(pred, 1, 5)  # the libraries clip to the rating scale when they predict
rmse = float(np.sqrt(np.mean((pred - r[va]) ** 2)))
print(json.dumps({"rmse": rmse, "fit_s": fit_s, "n_valid": int(len(va)), "unknown": int((~known).sum()),
                  "updates_per_s": iterations * len(tr) / fit_s, "script_s": time.perf_counter() - started}))
"""


def n_rows(path: Path) -> int:
    """The ratings in a planted file (no duplicates, so reportgen keeps them all)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) - 1  # less the header


def split_for_peers(path: Path, folder: Path) -> None:
    """reportgen's own split (seed 42, 20 % held out) as .npy row numbers for the peers."""
    import numpy as np

    from reportgen.train.sparse import split_indices

    train, valid = split_indices(n_rows(path), 0.2, 42)
    np.save(folder / "train.npy", train)
    np.save(folder / "valid.npy", valid)


def run_peer(tool: str, path: Path, folder: Path) -> dict:
    script = folder / "peer.py"
    script.write_text(PEER_SCRIPT)
    return measured([str(PEERS_PY), str(script), str(path), str(folder), tool])


def setup_peers() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    subprocess.run(
        [str(PEERS / "bin" / "pip"), "install", "-q", "libmf", "cornac", "scikit-surprise", "pandas", "pyarrow"],
        check=True,
    )


# --------------------------------------------------------------------------- main


def fmt(value: object, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1m,10m,25m", help="comma-separated: " + ",".join(SHAPES))
    parser.add_argument("--generate", action="store_true", help="write the planted data sets (nice'd) and stop")
    parser.add_argument("--parquet", action="store_true", help="with --generate: Parquet files too")
    parser.add_argument("--no-csv", action="store_true", help="with --generate: Parquet only (the 100m size)")
    parser.add_argument(
        "--setup-peers", action="store_true", help="create benchmarks/.venv-peers with cornac and surprise"
    )
    parser.add_argument(
        "--peers", default="libmf,cornac", help="peer tools to run when their venv exists: libmf, cornac, surprise"
    )
    parser.add_argument("--no-peers", action="store_true", help="reportgen only")
    parser.add_argument("--no-reportgen", action="store_true", help="peers only")
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"), help="the file to read where both exist")
    parser.add_argument(
        "--engines", default="auto", help="comma-separated --engine values for reportgen, e.g. auto,learner,sparse"
    )
    parser.add_argument("--nproc", default="1", help="comma-separated process counts for reportgen (--nproc), e.g. 1,2")
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SHAPES]
    if unknown:
        raise SystemExit(f"unknown sizes {unknown}; choose from {', '.join(SHAPES)}")
    if args.setup_peers:
        setup_peers()
        return
    if args.generate:
        os.nice(10)
        for size in sizes:
            generate(SHAPES[size], args.parquet or args.no_csv, csv=not args.no_csv)
        return
    peers = [] if args.no_peers or not PEERS_PY.exists() else [p for p in args.peers.split(",") if p]
    print(
        f"{'size':>5} {'tool':<16} {'valid RMSE':>10} {'fit s':>8} {'process s':>9} {'updates/s':>9} "
        f"{'peak RSS MB':>11} {'noise floor':>11} {'load':>5}  notes",
        flush=True,
    )
    for size in sizes:
        candidates = [DATA / f"planted-{size}.{ext}" for ext in (args.format, "csv", "parquet")]
        path = next((p for p in candidates if p.exists()), candidates[0])
        if not path.exists():
            raise SystemExit(f"{path} is missing: run benchmarks/scale.py --generate --sizes {size}")
        floor = json.loads((DATA / f"planted-{size}.json").read_text())["noise_floor_rmse"]
        results = []
        if not args.no_reportgen:
            for engine in (e for e in args.engines.split(",") if e.strip()):
                for nproc in (int(n) for n in args.nproc.split(",") if n.strip()):
                    name = ("reportgen" if nproc == 1 else f"rg x{nproc}") + ("" if engine == "auto" else f" {engine}")
                    results.append((name, run_reportgen(path, nproc, engine)))
                    print_row(size, *results[-1], floor)
        if peers:
            with tempfile.TemporaryDirectory(prefix="scale-peers-") as tmp:
                split_for_peers(path, Path(tmp))
                for tool in peers:
                    results.append((tool, run_peer(tool, path, Path(tmp))))
                    print_row(size, *results[-1], floor)


def print_row(size: str, tool: str, r: dict, floor: float) -> None:
    notes = f"engine {r['engine']}" if r.get("engine") else ""
    if r.get("kernel"):
        notes += f", {r['kernel']} loop"
    if r.get("threads"):
        notes += f", {r['threads']} thread(s)"
    if r.get("world", 1) > 1:
        notes += f", {r['world']} processes (gloo)"
    if r.get("unknown"):
        notes += f", {r['unknown']} valid ratings of unseen users/items predicted as the mean"
    notes = notes.removeprefix(", ")
    print(
        f"{size:>5} {tool:<16} {fmt(r.get('rmse'), '.4f'):>10} {fmt(r.get('fit_s'), '.1f'):>8} "
        f"{r['process_s']:>9.1f} {fmt(r.get('updates_per_s', 0) / 1e6, '.2f') + 'M':>9} "
        f"{r['peak_rss_mb']:>11.0f} {floor:>11.4f} {r['load']:>5.2f}  {notes}",
        flush=True,
    )


if __name__ == "__main__":
    main()
