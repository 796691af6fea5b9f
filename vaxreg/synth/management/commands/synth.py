import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.core.i18n import both_languages
from vaxreg.places.selectors import province_facilities
from vaxreg.places.services import facilities_generate
from vaxreg.synth.defects import DefectRates
from vaxreg.synth.generator import KinRates
from vaxreg.synth.services import SynthError, synth_write


class Command(BaseCommand):
    help = (
        "Generate a realistic synthetic dose file for one province, with injected defects and their ground truth.\n\n"
        "The file follows the import template (SPEC §3): Vietnamese headers, one row per dose; .csv is UTF-8 with "
        "a BOM, .xlsx is written streamed. People, communes and facilities are those of the province in the "
        "database (run `vaxreg reference load` and `vaxreg facilities load FILE.csv` first, or pass "
        "--create-facilities to make plausible ones). Each --rate-<defect> is the share of persons carrying that "
        "defect (at most one per person); the ground truth lists every affected row "
        "(facility_code, source_record_id, person_key, defect, field, original_value, injected_value) in "
        "<out stem>.truth.csv unless --truth says otherwise. The same --seed gives the same file.\n\n"
        "Example: vaxreg synth --persons 400000 --province 46 --seed 1 --out var/hue.csv"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--persons", type=int, required=True, help="number of persons (each has 1–4 doses)"
        )
        parser.add_argument(
            "--province", required=True, help="2025 province code, e.g. 46 (Huế), 79 (TP HCM)"
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--out", type=Path, required=True, help="output file, .csv or .xlsx")
        parser.add_argument(
            "--truth", type=Path, default=None, help="ground-truth CSV (default <out stem>.truth.csv)"
        )
        parser.add_argument("--clean", action="store_true", help="no defects at all (every rate 0)")
        parser.add_argument(
            "--relatives",
            type=float,
            default=None,
            metavar="R",
            help="record linkage: share of persons drawn as a twin, sibling, parent, child or namesake of another, "
            "and realistic second records of the DUPLICATE_SUSPECT persons (default: off)",
        )
        parser.add_argument(
            "--persons-out", type=Path, default=None, help="write every row's true person to this CSV"
        )
        parser.add_argument(
            "--create-facilities",
            action="store_true",
            help="create plausible facilities when the province has none",
        )
        parser.add_argument("--no-parallel", action="store_true", help="generate in this process only")
        defaults = DefectRates()
        for f in fields(DefectRates):
            parser.add_argument(
                f"--rate-{f.name.replace('_', '-')}",
                dest=f"rate_{f.name}",
                type=float,
                default=None,
                metavar="R",
                help=f"share of persons with {f.name.upper()} (default {getattr(defaults, f.name)})",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        province = options["province"].strip().zfill(2)
        base = DefectRates.none() if options["clean"] else DefectRates()
        overrides = {
            f.name: options[f"rate_{f.name}"]
            for f in fields(DefectRates)
            if options[f"rate_{f.name}"] is not None
        }
        try:
            rates = DefectRates(
                **{**{f.name: getattr(base, f.name) for f in fields(DefectRates)}, **overrides}
            )
        except ValueError as exc:
            raise CommandError(f"{both_languages(gettext_noop('Invalid defect rates'))}: {exc}") from exc
        if options["create_facilities"] and not province_facilities(province):
            created = facilities_generate(province_code=province, seed=options["seed"])
            self.stdout.write(
                both_languages(gettext_noop("Created %(count)s facilities"), {"count": len(created)})
            )
        started = time.perf_counter()
        try:
            summary = synth_write(
                out=options["out"],
                persons=options["persons"],
                province_code=province,
                seed=options["seed"],
                rates=rates,
                truth_out=options["truth"],
                parallel=not options["no_parallel"],
                kin=KinRates(relatives=options["relatives"]) if options["relatives"] is not None else None,
                persons_out=options["persons_out"],
            )
        except SynthError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Đã ghi {summary.rows} dòng ({summary.persons} người) vào {summary.out} trong {elapsed:.1f} s; "
            f"{summary.defective_rows} dòng có lỗi ({summary.defective_row_share:.1%}); đáp án: {summary.truth_out}\n"
            f"Wrote {summary.rows} rows ({summary.persons} persons) to {summary.out} in {elapsed:.1f} s; "
            f"{summary.defective_rows} rows with a defect ({summary.defective_row_share:.1%}); truth: {summary.truth_out}"
        )
        if options["verbosity"] >= 2:
            for code, count in summary.defects_by_code.items():
                self.stdout.write(f"  {code}: {count}")
