"""Import figures: `digest subscribers import` of a big CSV on PostgreSQL and SQLite.

    python -m bench.import_subscribers                    # 100,000 and 1,000,000 rows
    python -m bench.import_subscribers --rows 1000000     # one size only
    python -m bench.import_subscribers --engines postgresql --rows 100000 --rows 1000000
    python -m bench.import_subscribers --again            # and each file a second time

The CSV is made like a real list: distinct readers at a few hundred domains
(some international), names with accents and commas, some addresses typed in
capitals or mixed case, about 2 % of rows a reader already listed higher up
(some in another case), and one row in ten thousand not an address at all
(imported with --skip-invalid). Each import runs the real command in a
subprocess with DIGEST_STATE pointing at a fresh database (a throwaway durable
PostgreSQL cluster, or an SQLite file), and the figures are its wall time,
its peak resident memory (the kernel's high-water mark of that process
alone), and the time against the target of one minute per million rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testkit import postgres

TARGET = 60.0  # seconds for a million rows, on PostgreSQL
FIRST = ("anna", "bob", "chen", "dmitri", "élodie", "fatima", "giorgos", "hana", "ivan",
         "jörg", "kofi", "lena", "mateo", "nadia", "oscar", "priya", "quinn", "rosa",
         "søren", "tomás", "uma", "viktor", "wei", "xavier", "yuki", "zainab")  # fmt: skip
LAST = ("smith", "müller", "garcía", "kowalski", "nguyen", "okafor", "rossi", "tanaka",
        "dubois", "ivanova", "o'brien", "de la cruz", "andersson", "haddad", "lee")  # fmt: skip
TLDS = ("com", "org", "net", "de", "fr", "co.uk", "io", "nl", "es", "it", "se", "jp")
IDN = ("bücher.de", "exämple.fr", "smörgås.se", "straße.de", "españa.es", "日本語.jp")


def domains(rng: random.Random, count: int = 300) -> list[str]:
    """A few hundred mail domains, big ones listed often and some international."""
    names = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.de", "orange.fr"]
    names += list(IDN)
    while len(names) < count:
        stem = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        names.append(f"{stem}{rng.choice(('', '-mail', 'corp', '-uni'))}.{rng.choice(TLDS)}")
    return names


def make_csv(path: Path, rows: int, seed: int = 1) -> int:
    """Write `rows` rows; returns how many of them are not addresses."""
    rng = random.Random(seed)
    pool = domains(rng)
    weights = [50, 20, 15, 8, 8, 5] + [1] * (len(pool) - 6)
    invalid = 0
    earlier: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as target:
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(["email", "name"])
        for n in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first.title()} {last.title()}"
            roll = rng.random()
            if roll < 0.0001:
                invalid += 1
                email = rng.choice((f"{first}.{n}", f"{first}..{n}@{pool[0]}", f"{n}@x@y.org"))
            elif roll < 0.02 and earlier:
                email = rng.choice(earlier)  # listed twice, maybe in another case
                email = email.upper() if rng.random() < 0.5 else email
            else:
                local = re.sub(r"[^a-z.]", "", f"{first}.{last}".replace(" ", ""))
                local = f"{local or first}{n}" if rng.random() < 0.7 else f"{first[0]}{n}"
                if rng.random() < 0.05:
                    local = local.title()
                domain = rng.choices(pool, weights)[0]
                email = f"{local}@{domain.upper() if rng.random() < 0.01 else domain}"
                if len(earlier) < 10000 and rng.random() < 0.05:
                    earlier.append(email)
                if rng.random() < 0.1:
                    name = f"{last.title()}, {first.title()}"  # a comma: quoted by csv
            writer.writerow([email, name])
    return invalid


def run_import(csv_path: Path, state: str, folder: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS in KiB, last output line) of one `digest subscribers import`."""
    config = folder / "config.toml"
    config.write_text('[newsletter]\ntitle = "Bench"\n', encoding="utf-8")
    env = {**os.environ, "DIGEST_STATE": state}
    command = [sys.executable, "-m", "digest", "subscribers", "import", str(csv_path),
               "--skip-invalid", "-c", str(config)]  # fmt: skip
    with (folder / "out.txt").open("w+", encoding="utf-8") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        # wait4 gives this child's own rusage: ru_maxrss is its peak resident set, in KiB.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        said = out.read()
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}): {said.strip()[-2000:]}")
    peak = usage.ru_maxrss
    lines = [line for line in said.splitlines() if line.startswith("Imported")]
    return seconds, peak, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable)")
    parser.add_argument(
        "--engines", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"]
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--again", action="store_true", help="import each file a second time (all already there)"
    )
    args = parser.parse_args()
    sizes = sorted(args.rows or [100_000, 1_000_000])
    with tempfile.TemporaryDirectory(prefix="digest-import-") as name:
        folder = Path(name)
        files = {}
        for rows in sizes:
            started = time.perf_counter()
            files[rows] = folder / f"list-{rows}.csv"
            bad = make_csv(files[rows], rows, args.seed)
            size = files[rows].stat().st_size / 1e6
            print(f"{rows:>9,} rows: {size:.0f} MB CSV, {bad} invalid rows,"
                  f" made in {time.perf_counter() - started:.1f} s")  # fmt: skip
        results: list[tuple[str, int, float, int]] = []
        for engine in args.engines:
            if engine == "postgresql":
                reason = postgres.available()
                if reason:
                    print(f"postgresql: skipped ({reason})")
                    continue
                with postgres.cluster(durable=True) as server:
                    for rows in sizes:
                        database = postgres.new_database(server)
                        figures = run_import(files[rows], database, folder)
                        results.append(report(engine, rows, *figures))
                        if args.again:
                            report(
                                f"{engine} again", rows, *run_import(files[rows], database, folder)
                            )
            else:
                for rows in sizes:
                    state = str(folder / f"state-{rows}.sqlite")
                    figures = run_import(files[rows], state, folder)
                    results.append(report(engine, rows, *figures))
                    if args.again:
                        report(f"{engine} again", rows, *run_import(files[rows], state, folder))
        summarise(results)


def report(
    engine: str, rows: int, seconds: float, peak: int, said: str
) -> tuple[str, int, float, int]:
    print(f"{engine:>16} {rows:>9,} rows: {seconds:6.1f} s, {rows / seconds:>9,.0f} rows/s,"
          f" peak RSS {peak / 1024:.0f} MiB  | {said}")  # fmt: skip
    return engine, rows, seconds, peak


def summarise(results: list[tuple[str, int, float, int]]) -> None:
    for engine, rows, seconds, peak in results:
        per_million = seconds * 1_000_000 / rows
        ratio = per_million / TARGET
        verdict = "met" if ratio <= 1 else "MISSED"
        print(f"{engine:>16} {rows:>9,} rows: {per_million:.1f} s per million rows ="
              f" {ratio:.2f} × the {TARGET:.0f} s target ({verdict}),"
              f" peak RSS {peak / 1024:.0f} MiB")  # fmt: skip
    for engine in {r[0] for r in results}:
        mine = sorted((r for r in results if r[0] == engine), key=lambda r: r[1])
        if len(mine) > 1:
            small, big = mine[0], mine[-1]
            print(f"{engine:>16} memory: {big[3] / small[3]:.2f} × the peak RSS for"
                  f" {big[1] // small[1]} × the rows (flat is 1.0)")  # fmt: skip


if __name__ == "__main__":
    main()
