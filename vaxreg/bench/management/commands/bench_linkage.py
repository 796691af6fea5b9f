import argparse
import json
import resource
import time
from itertools import combinations
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from config.env import child_environment
from vaxreg.bench.scratch import DEFAULT_PG_URL, rows_hold_back, run_in_scratch_database, run_phase

# A duplicate share well above the default file's, so that the measure has enough true pairs to be precise.
DUPLICATE_SHARE = 0.05
RELATIVES_SHARE = 0.06


class Command(BaseCommand):
    help = (
        "Measure record linkage: generate N synthetic persons (Huế) with duplicates as they arise (5% of "
        "persons recorded twice: diacritics, middle names, typos, swapped or year-only birth dates, missing or "
        "other IDs, other phones and communes, the doses split between the two records) and hard non-matches "
        "(6% twins, siblings, parents, children, namesakes), import them into a scratch database, then in one "
        "child process: read the records as a linkage run does (read seconds), score them with the stored "
        "model as `vaxreg linkage run` does (predict seconds: the pairs at or above the review threshold, less "
        "those a likelier pair rules out) and cluster them (cluster seconds); then train a model on this run's "
        "labels (train seconds) and score with it. For each: pairs scored, pair and cluster precision/recall/F1 "
        "against the ground truth at the default review threshold; the child's peak memory after the stored "
        "model's scoring and at the end; beside them, on the same records and blocking, a baseline: Splink's "
        "standard comparisons (no Vietnamese folding, no household, no doses). --save-model writes the trained "
        "model to vaxreg/linkage/data/model-vN.json. The database is a temporary SQLite file, or "
        f"the PostgreSQL database of VAXREG_BENCH_DATABASE_URL (default {DEFAULT_PG_URL}) with --db postgres."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--persons", type=int, default=100_000, help="how many persons (default 100,000)")
        parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
        parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--save-model", action="store_true", help="store the trained model in the repository"
        )
        parser.add_argument(
            "--incremental",
            type=int,
            default=10_000,
            help="dose rows held back from the first import and imported afterwards with linking on, into the "
            "database of all the others, as a facility's later file (default 10,000; 0: none)",
        )
        parser.add_argument(
            "--phase", choices=["run", "import", "link", "incremental"], default="", help=argparse.SUPPRESS
        )
        parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
        parser.add_argument("--truth", type=Path, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        phase = options["phase"]
        if phase == "import":
            self.stdout.write(json.dumps(_phase_import(options["file"])))
        elif phase == "link":
            self.stdout.write(json.dumps(_phase_link(options)))
        elif phase == "incremental":
            self.stdout.write(json.dumps(_phase_incremental(options["file"], options["truth"])))
        elif phase == "run":
            self._phase_run(options)
        else:
            argv = ["bench", "linkage", "--phase", "run", "--persons", str(options["persons"]), "--db", options["db"], "--seed", str(options["seed"]), "--engine", options["engine"], "--incremental", str(options["incremental"])]  # fmt: skip
            if options["json"]:
                argv.append("--json")
            if options["save_model"]:
                argv.append("--save-model")
            self.stdout.write(run_in_scratch_database(db=options["db"], args=argv))

    def _phase_run(self, options: dict[str, Any]) -> None:
        from vaxreg.places.services import facilities_generate, reference_load
        from vaxreg.synth.defects import DefectRates
        from vaxreg.synth.generator import KinRates
        from vaxreg.synth.services import synth_write
        from vaxreg.vaccinations.services import catalogue_load

        call_command("migrate", verbosity=0)
        reference_load(verbosity=0)
        catalogue_load()
        facilities_generate(province_code="46", seed=options["seed"])
        path = Path(settings.VAR_DIR) / "bench.csv"
        persons_out = Path(settings.VAR_DIR) / "bench.persons.csv"
        rates = DefectRates(duplicate_suspect=DUPLICATE_SHARE)
        started = time.perf_counter()
        synth_write(
            out=path,
            persons=max(2, options["persons"]),
            province_code="46",
            seed=options["seed"],
            rates=rates,
            kin=KinRates(relatives=RELATIVES_SHARE),
            persons_out=persons_out,
        )
        generate_seconds = time.perf_counter() - started
        later = Path(settings.VAR_DIR) / "bench.later.csv"
        held = rows_hold_back(path, later, rows=options["incremental"], seed=options["seed"])
        connection.close()
        env = child_environment(VAXREG_LINKAGE_ON_IMPORT="0")
        imported = run_phase(["bench", "linkage", "--phase", "import", "--file", str(path)], env=env)
        path.unlink()
        link_args = [
            "bench",
            "linkage",
            "--phase",
            "link",
            "--file",
            str(persons_out),
            "--engine",
            options["engine"],
        ]
        if options["save_model"]:
            link_args.append("--save-model")
        measured = run_phase(link_args, env=env)
        if held:
            later_args = ["bench", "linkage", "--phase", "incremental", "--file", str(later), "--truth", str(persons_out)]  # fmt: skip
            measured["incremental"] = run_phase(
                later_args, env=child_environment(VAXREG_LINKAGE_ON_IMPORT="1")
            )
            later.unlink()
        result = {
            "db": options["db"],
            "engine": options["engine"],
            "persons_generated": options["persons"],
            "person_records": imported["persons_created"],
            "generate_seconds": round(generate_seconds, 2),
            "import_seconds": round(imported["seconds"], 2),
            **measured,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        lines = [
            f"bench linkage ({options['engine']}, {options['db']}): {result['person_records']:,} person records "
            f"from {options['persons']:,} persons; {measured['true_pairs']:,} true pairs; read from the database "
            f"in {measured['read_seconds']:.1f} s; peak memory {measured['peak_rss_mb_stored']:.0f} MB with the "
            f"stored model, {measured['peak_rss_mb']:.0f} MB with training",
            f"  {'':<10}{'train s':>8}{'predict s':>10}{'cluster s':>10}{'pairs':>10}"
            f"{'pair P':>8}{'pair R':>8}{'pair F1':>8}{'clus P':>8}{'clus R':>8}{'clus F1':>8}",
        ]
        rows = (
            ("stored", measured["stored"]),
            ("trained", measured["model"]),
            ("baseline", measured["baseline"]),
        )
        for name, m in rows:
            lines.append(
                f"  {name:<10}{m['train_seconds']:>8.1f}{m['predict_seconds']:>10.1f}{m['cluster_seconds']:>10.1f}"
                f"{m['pairs_scored']:>10,}{m['pair_precision']:>8.4f}{m['pair_recall']:>8.4f}{m['pair_f1']:>8.4f}"
                f"{m['cluster_precision']:>8.4f}{m['cluster_recall']:>8.4f}{m['cluster_f1']:>8.4f}"
            )
        lines.append(
            f"  blocking recall (true pairs among the blocked pairs): {measured['blocking_recall']:.4f}"
        )
        if "incremental" in measured:
            inc = measured["incremental"]
            lines.append(
                f"  incremental: {inc['rows_stored']:,} rows held back, imported with linking on into "
                f"{inc['persons_before']:,} persons: {inc['import_seconds']:.1f} s for the import (its "
                f"{inc['persons_touched']:,} persons linked in its transaction: the warnings commit with it); "
                f"linking them again {inc['link_seconds']:.1f} s; pairs of theirs suspected {inc['pairs_suspected']:,}: "
                f"P {inc['pair_precision']:.4f} R {inc['pair_recall']:.4f} F1 {inc['pair_f1']:.4f}; "
                f"DUPLICATE_SUSPECT open on {inc['persons_warned']:,} of them"
            )
        self.stdout.write("\n".join(lines))


def _phase_import(path: Path) -> dict[str, Any]:
    from vaxreg.imports.services import import_batch_create, import_batch_run

    started = time.perf_counter()
    batch = import_batch_create(file_name=path.name, path=path)
    batch = import_batch_run(batch_id=batch.pk)
    return {
        "rows_stored": batch.rows_stored,
        "persons_created": batch.persons_created,
        "seconds": time.perf_counter() - started,
    }


def _phase_incremental(path: Path, persons_file: Path) -> dict[str, Any]:
    """Import the held-back rows with linking on (inline: the import links the persons it touched against
    everyone in its own transaction); the time, and how well the pairs of those persons were found."""
    from vaxreg.imports.services import import_batch_create, import_batch_run
    from vaxreg.linkage.models import PairState, SuspectedPair
    from vaxreg.linkage.selectors import truth_of_persons
    from vaxreg.linkage.services import linkable_persons, linkage_link_persons
    from vaxreg.quality.models import Finding
    from vaxreg.vaccinations.models import Dose

    persons_before = linkable_persons().count()
    started = time.perf_counter()
    batch = import_batch_create(file_name=path.name, path=path)
    batch = import_batch_run(batch_id=batch.pk)
    import_seconds = time.perf_counter() - started
    touched = set(Dose.objects.filter(created_batch_id=batch.pk).values_list("person_id", flat=True))
    suspected = {
        (a, b)
        for a, b in SuspectedPair.objects.filter(state=PairState.OPEN).values_list(
            "person_a_id", "person_b_id"
        )
        if a in touched or b in touched
    }
    warned = Finding.objects.filter(code="DUPLICATE_SUSPECT", is_open=True, person_id__in=touched).count()
    truth = truth_of_persons(persons_file)
    linkable = set(linkable_persons().values_list("id", flat=True))
    groups: dict[str, list[int]] = {}
    for pid, key in truth.items():
        if pid in linkable:
            groups.setdefault(key, []).append(pid)
    true = {
        pair
        for ids in groups.values()
        for pair in combinations(sorted(ids), 2)
        if pair[0] in touched or pair[1] in touched
    }
    precision, recall, f1 = _prf(suspected, true)
    started = time.perf_counter()
    linkage_link_persons(person_ids=touched)  # the same work the import did inline, timed on its own
    link_seconds = time.perf_counter() - started
    return {
        "rows_stored": batch.rows_stored,
        "persons_before": persons_before,
        "persons_touched": len(touched),
        "import_seconds": round(import_seconds, 2),
        "link_seconds": round(link_seconds, 2),
        "true_pairs": len(true),
        "pairs_suspected": len(suspected),
        "pair_precision": precision,
        "pair_recall": recall,
        "pair_f1": f1,
        "persons_warned": warned,
    }


def _prf(predicted: set[tuple[int, int]], true: set[tuple[int, int]]) -> tuple[float, float, float]:
    hit = len(predicted & true)
    precision = hit / len(predicted) if predicted else 1.0
    recall = hit / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return round(precision, 5), round(recall, 5), round(f1, 5)


def _cluster_pairs(cluster_of: dict[int, Any]) -> set[tuple[int, int]]:
    members: dict[Any, list[int]] = {}
    for pid, cluster in cluster_of.items():
        members.setdefault(cluster, []).append(pid)
    pairs: set[tuple[int, int]] = set()
    for ids in members.values():
        if 1 < len(ids) <= 50:
            pairs.update(combinations(sorted(ids), 2))
    return pairs


def _measure(
    table: Any, model: dict[str, Any], true: set[tuple[int, int]], engine: str, *, baseline: bool = False
) -> dict[str, Any]:
    """Score ``table`` as a linkage run does (the pairs at or above the review threshold, less those a
    likelier pair rules out; the baseline keeps every pair at or above the threshold, as Splink does), then
    cluster them as the audit export does."""
    from vaxreg.linkage.engine import REVIEW_THRESHOLD, Engine, ScoredPair, connected_clusters

    started = time.perf_counter()
    linker = Engine(table, engine=engine, model=model)
    scored = [
        ScoredPair(a, b, p, 0.0, {}) for a, b, p in linker.probabilities(linker.predict_frame(threshold=0.01))
    ]
    suspected = [p for p in scored if p.probability >= REVIEW_THRESHOLD]
    if not baseline:
        suspected = linker.without_competing(suspected)
    predict_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = {(p.a, p.b) for p in suspected}
    cluster_of = connected_clusters(predicted)
    cluster_seconds = time.perf_counter() - started
    pp, pr, pf = _prf(predicted, true)
    cp, cr, cf = _prf(_cluster_pairs(cluster_of), true)
    return {
        "predict_seconds": round(predict_seconds, 2),
        "cluster_seconds": round(cluster_seconds, 2),
        "pairs_scored": len(scored),
        "pairs_suspected": len(predicted),
        "pair_precision": pp,
        "pair_recall": pr,
        "pair_f1": pf,
        "cluster_precision": cp,
        "cluster_recall": cr,
        "cluster_f1": cf,
    }


def _blocked_recall(table: Any, true: set[tuple[int, int]]) -> float:
    import duckdb

    from vaxreg.linkage.engine import BLOCKING_RULES

    con = duckdb.connect()
    con.register("t", table)
    found: set[tuple[int, int]] = set()
    for rule in BLOCKING_RULES:
        rows = con.execute(
            f"SELECT l.unique_id, r.unique_id FROM t l JOIN t r ON {rule} AND l.unique_id < r.unique_id"  # noqa: S608
        ).fetchall()
        found.update((a, b) for a, b in rows if (a, b) in true)
    return round(len(found) / len(true), 5) if true else 1.0


def _phase_link(options: dict[str, Any]) -> dict[str, Any]:
    from vaxreg.linkage.engine import model_load, model_save, records_table, train
    from vaxreg.linkage.selectors import truth_of_persons
    from vaxreg.linkage.services import _stream, dose_spans, linkable_persons

    truth = truth_of_persons(options["file"])
    started = time.perf_counter()
    # Read as a linkage run reads: persons and their dose spans streamed from the database into Arrow.
    labelled = records_table(_stream(linkable_persons().order_by("id")), spans=dose_spans(), truth=truth)
    read_seconds = time.perf_counter() - started
    table = labelled.drop(["truth"])
    groups: dict[str, list[int]] = {}
    for pid, key in truth.items():
        groups.setdefault(key, []).append(pid)
    true = {pair for ids in groups.values() for pair in combinations(sorted(ids), 2)}
    engine = options["engine"]
    # First the stored model, as `vaxreg linkage run` scores (its λ scaled to this population).
    stored = {"train_seconds": 0.0, **_measure(table, model_load(), true, engine)}
    peak_stored = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    model = train(labelled, engine=engine)
    train_seconds = time.perf_counter() - started
    if options["save_model"]:
        model_save(model)
    ours = {"train_seconds": round(train_seconds, 2), **_measure(table, model, true, engine)}
    started = time.perf_counter()
    baseline_model = train(labelled, engine=engine, baseline=True)
    baseline_train = time.perf_counter() - started
    base = {
        "train_seconds": round(baseline_train, 2),
        **_measure(table, baseline_model, true, engine, baseline=True),
    }
    return {
        "persons": labelled.num_rows,
        "true_pairs": len(true),
        "read_seconds": round(read_seconds, 2),
        "blocking_recall": _blocked_recall(table, true),
        "stored": stored,
        "model": ours,
        "baseline": base,
        "peak_rss_mb_stored": round(peak_stored, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
