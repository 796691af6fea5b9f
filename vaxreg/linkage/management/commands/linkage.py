import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.core.i18n import both_languages

HELP = """Record linkage: find the persons recorded twice (SPEC §5 DUPLICATE_SUSPECT).

  run [--province P] [--engine duckdb|spark]
      score every person against everyone with the stored model (national: people move), keep the pairs at
      or above the review threshold, open a DUPLICATE_SUSPECT warning on both persons of each, close the
      warnings of pairs no longer suspected; a pair decided "not the same" stays decided unless one of the
      two changed. --province keeps only pairs with a person of that province.
  train --truth F.persons.csv [--out model.json]
      train the model on the persons in this database, labelled by a synthetic persons file (`vaxreg synth
      --relatives 0.06 --persons-out F.persons.csv`, then `vaxreg import F.csv`); writes
      vaxreg/linkage/data/model-vN.json unless --out is given.
  export --user U --out F.csv|F.xlsx
      one row per dose source record U may read: facility_code, source_record_id, person_id, cluster_id
      (persons merged, or suspected and not decided otherwise, share a cluster); audited.
"""


def _bar(phase: str, share: float) -> None:
    width = 30
    done = int(share * width)
    sys.stderr.write(f"\r{phase:<9}[{'#' * done}{'.' * (width - done)}] {share:4.0%}")
    if share >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        from argparse import RawDescriptionHelpFormatter

        kwargs["formatter_class"] = RawDescriptionHelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run", "train", "export"], help="what to do (see above)")
        parser.add_argument("--province", help="run: only pairs with a person of this province code")
        parser.add_argument("--engine", choices=["duckdb", "spark"], default=None, help="run: where to score")
        parser.add_argument("--truth", type=Path, help="train: the synthetic persons file")
        parser.add_argument("--out", type=Path, help="train: the model file; export: the .csv or .xlsx")
        parser.add_argument("--user", help="export: the account the export is made for")
        parser.add_argument("--json", action="store_true", help="run: print the figures as one JSON object")
        parser.add_argument("--no-progress", action="store_true", help="run: no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "run":
            self._run(options)
        elif action == "train":
            self._train(options)
        else:
            self._export(options)

    def _run(self, options: dict[str, Any]) -> None:
        from vaxreg.linkage.services import linkage_run

        started = time.perf_counter()
        province = options["province"].strip().zfill(2) if options["province"] else None
        progress = (lambda phase, share: None) if options["no_progress"] or options["json"] else _bar
        from vaxreg.linkage.spark import SparkUnavailable

        try:
            result = linkage_run(province_code=province, engine=options["engine"], progress=progress)
        except SparkUnavailable as refused:
            raise CommandError(f"{refused.message_vi}\n{refused.message_en}") from refused
        figures = {
            "persons": result.persons,
            "pairs_suspected": result.pairs_scored,
            "opened": result.opened,
            "updated": result.updated,
            "reopened": result.reopened,
            "dropped": result.dropped,
            "seconds": round(time.perf_counter() - started, 2),
        }
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        self.stdout.write(
            both_languages(
                gettext_noop(
                    "%(persons)s persons; %(pairs)s suspected pairs (%(opened)s new, %(reopened)s reopened, "
                    "%(dropped)s dropped) in %(seconds)s s"
                ),
                {
                    "persons": f"{result.persons:,}",
                    "pairs": f"{result.pairs_scored:,}",
                    "opened": f"{result.opened:,}",
                    "reopened": f"{result.reopened:,}",
                    "dropped": f"{result.dropped:,}",
                    "seconds": figures["seconds"],
                },
            )
        )

    def _train(self, options: dict[str, Any]) -> None:
        from vaxreg.linkage.engine import model_save, records_table, train
        from vaxreg.linkage.selectors import truth_of_persons
        from vaxreg.linkage.services import _rows, dose_spans, linkable_persons

        if not options["truth"]:
            raise CommandError(both_languages(gettext_noop("train needs --truth F.persons.csv")))
        truth = truth_of_persons(options["truth"])
        rows = _rows(linkable_persons().filter(id__in=list(truth)).order_by("id"))
        model = train(records_table(rows, spans=dose_spans(truth), truth=truth))
        if options["out"]:
            options["out"].write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            path = options["out"]
        else:
            path = model_save(model)
        self.stdout.write(
            both_languages(gettext_noop("%(n)s persons → %(path)s"), {"n": f"{len(rows):,}", "path": path})
        )

    def _export(self, options: dict[str, Any]) -> None:
        from vaxreg.accounts.models import User
        from vaxreg.core.jurisdiction import Scope, jurisdiction_of
        from vaxreg.core.tables import TableTooLong
        from vaxreg.linkage.selectors import clusters_export_write

        if not options["user"] or not options["out"]:
            raise CommandError(both_languages(gettext_noop("export needs --user U --out F.csv")))
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None or jurisdiction_of(user).scope is Scope.NOTHING:
            raise CommandError(
                both_languages(
                    gettext_noop("the account “%(user)s” may not export"), {"user": options["user"]}
                )
            )
        out: Path = options["out"]
        if out.suffix.lower() not in (".csv", ".xlsx"):
            raise CommandError(both_languages(gettext_noop("The output file must be .csv or .xlsx.")))
        try:
            written = clusters_export_write(user=user, fmt=out.suffix.lower()[1:], out=out)
        except TableTooLong as refused:
            out.unlink(missing_ok=True)
            raise CommandError(f"{refused.message_vi}\n{refused.message_en}") from refused
        self.stdout.write(
            both_languages(gettext_noop("%(n)s rows → %(path)s"), {"n": f"{written:,}", "path": out})
        )
