"""`vaxreg demo`: a working VaxReg with realistic data for Thành phố Huế and one account per role."""

import datetime as dt
import io
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_noop, pgettext_lazy

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.services import password_generate, user_create
from vaxreg.certificates.keys import KeyNotConfigured, keys_generate, signing_key
from vaxreg.complaints.deadline import complaints_tick
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Complaint
from vaxreg.core import clock
from vaxreg.core.i18n import both_languages
from vaxreg.core.phones import normalize_phone
from vaxreg.dashboards.campaigns import campaign_create
from vaxreg.dashboards.models import Campaign, Target
from vaxreg.dashboards.services import rollups_rebuild, rollups_refresh
from vaxreg.imports.models import ImportBatch
from vaxreg.imports.services import import_batch_create, import_batch_run
from vaxreg.people.models import Person
from vaxreg.places.models import Commune, Facility, Province
from vaxreg.places.services import facilities_generate
from vaxreg.synth.services import synth_write
from vaxreg.vaccinations.models import DaySignOff, Dose
from vaxreg.vaccinations.services import day_sign_off
from vaxreg.verification.models import ACTIVE_STATES, CaseState, VerificationCase
from vaxreg.verification.services import case_resolve
from vaxreg.web.management.commands.serve import SERVER_STOPPED, serve_run

DEMO_PERSONS = 20_000  # the README's demo: about 20,000 people of Huế

DEMO_PROVINCE = "46"  # Thành phố Huế
DEMO_SEED = 1
DEMO_CAMPAIGN = "Xác minh xong mọi hồ sơ của Huế"
REPLAY_DAYS = 14
REPLAY_STATION_PREFIX = "tram-mau-"  # the stations' accounts of the replay: no login, switched off after it
REPLAY_JUSTIFICATION = "Đã xác minh trực tiếp với người dân tại trạm (dữ liệu trình diễn)."
DEMO_ROLES = [Role.NATIONAL, Role.PROVINCE, Role.COMMUNE, Role.FACILITY, Role.POLICE, Role.ADMIN]


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    password: str
    unit: str


_DEMO_FILE_PREFIX = "demo-hue-"


def _demo_file_name(persons: int) -> str:
    return f"{_DEMO_FILE_PREFIX}{persons}-nguoi.csv"


def _username(role: str) -> str:
    return f"demo-{role}"


def _busiest_commune() -> Commune:
    row = (
        Person.objects.filter(province_id=DEMO_PROVINCE, commune__isnull=False)
        .values("commune")
        .annotate(n=Count("id"))
        .order_by("-n", "commune")
        .first()
    )
    if row is not None:
        return Commune.objects.get(pk=row["commune"])
    return Commune.objects.filter(province_id=DEMO_PROVINCE).order_by("code").first() or _missing_reference()


def _busiest_facility() -> Facility:
    row = (
        Dose.objects.filter(facility__province_id=DEMO_PROVINCE)
        .values("facility")
        .annotate(n=Count("id"))
        .order_by("-n", "facility")
        .first()
    )
    if row is not None:
        return Facility.objects.get(pk=row["facility"])
    return Facility.objects.filter(province_id=DEMO_PROVINCE).order_by("code").first() or _missing_reference()


def _missing_reference() -> Any:
    missing = gettext_noop("No units of province %(province)s: the reference data is not loaded.")
    raise CommandError(both_languages(missing, {"province": DEMO_PROVINCE}))


def _unit_label(user: User) -> str:
    if user.facility is not None:
        return f"{user.facility.code} {user.facility.name}"
    if user.commune is not None:
        return f"{user.commune.code} {user.commune}"
    if user.province is not None:
        return f"{user.province.code} {user.province.name}"
    return both_languages(gettext_noop("whole country"))


def _user_ensure(role: Role, password: str) -> User:
    user = User.objects.filter(username=_username(role)).first()
    if user is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
        return user
    commune = _busiest_commune().code if role in (Role.COMMUNE, Role.POLICE) else None
    return user_create(
        username=_username(role),
        password=password,
        role=role,
        province_code=DEMO_PROVINCE if role == Role.PROVINCE else None,
        commune_code=commune,
        facility_code=_busiest_facility().code if role == Role.FACILITY else None,
    )


@transaction.atomic
def demo_users_ensure() -> list[DemoAccount]:
    """One account per role, created once; each call gives every account a new random password.

    The passwords are printed, never stored in a file: running the demo again shows a fresh set.
    """
    accounts = []
    for role in DEMO_ROLES:
        password = password_generate()
        user = _user_ensure(role, password)
        accounts.append(
            DemoAccount(role=role.value, username=user.username, password=password, unit=_unit_label(user))
        )
    return accounts


def demo_setup(
    *, persons: int = 20_000, work_dir: Path | None = None, say: Callable[[str], None] = print
) -> list[DemoAccount]:
    """Fill a migrated database with the demo: reference data, Huế's facilities, ``persons`` synthetic
    people imported through the real import pipeline, and one account per role.

    Steps already done (by an earlier run on the same database) are skipped, so running it again is quick.
    """
    work_dir = work_dir or Path(settings.VAR_DIR) / "demo"

    def step(label: str, action: Callable[[], object]) -> None:
        started = time.monotonic()
        say(f"… {label}")
        action()
        say(f"  {both_languages(gettext_noop('done'))} ({time.monotonic() - started:.1f} s)")

    if not Province.objects.filter(code=DEMO_PROVINCE).exists():
        step(
            both_languages(gettext_noop("Loading reference data (provinces, communes, old units, vaccines)")),
            lambda: call_command("reference_load", verbosity=0, stdout=io.StringIO()),
        )
    if not Facility.objects.filter(province_id=DEMO_PROVINCE).exists():
        step(
            both_languages(gettext_noop("Creating Huế's vaccination facilities")),
            lambda: facilities_generate(province_code=DEMO_PROVINCE, seed=DEMO_SEED),
        )

    file_name = _demo_file_name(persons)
    imported = ImportBatch.objects.filter(
        file_name__startswith=_DEMO_FILE_PREFIX, status=ImportBatch.Status.DONE
    ).first()
    if imported is not None:
        already = gettext_noop("The demo data is already imported (%(file)s): skipped; --reset starts over.")
        say(both_languages(already, {"file": imported.file_name}))
    elif persons > 0:
        work_dir.mkdir(parents=True, exist_ok=True)
        out = work_dir / file_name
        step(
            both_languages(gettext_noop("Generating %(persons)s people in Huế"), {"persons": persons}),
            lambda: synth_write(out=out, persons=persons, province_code=DEMO_PROVINCE, seed=DEMO_SEED),
        )
        # The national account is the uploader; its password is replaced with the others' at the end.
        uploader = _user_ensure(Role.NATIONAL, password_generate())

        def run_import() -> None:
            batch = import_batch_create(file_name=file_name, content=out.read_bytes(), uploaded_by=uploader)
            done = import_batch_run(batch_id=batch.pk)
            counted = gettext_noop(
                "%(read)s rows: %(stored)s stored, %(rejected)s rejected; %(people)s people, %(doses)s doses"
            )
            counts = {"read": done.rows_read, "stored": done.rows_stored, "rejected": done.rows_rejected}
            say(
                f"  {both_languages(counted, {**counts, 'people': done.persons_created, 'doses': done.doses_created})}"
            )
            if done.status != ImportBatch.Status.DONE:
                raise CommandError(
                    f"{both_languages(gettext_noop('The import did not finish'))}: {done.message}"
                )

        # The file arrived at the start of the campaign the demo replays (``demo_work_replay``).
        with clock.moved_to(_replay_start()):
            step(both_languages(gettext_noop("Importing the file through the import pipeline")), run_import)
            step(both_languages(gettext_noop("Counting the progress figures of every unit")), rollups_rebuild)
        step(
            both_languages(
                gettext_noop("Replaying %(days)s days of the health stations' verification work"),
                {"days": REPLAY_DAYS},
            ),
            demo_work_replay,
        )
    accounts = demo_users_ensure()
    if persons > 0:
        step(both_languages(gettext_noop("Signing off the demo facility's days")), demo_days_sign_off)
        step(both_languages(gettext_noop("Filing a few citizens' complaints")), demo_complaints_ensure)
    step(both_languages(gettext_noop("Certificate signing keys")), demo_signing_keys_ensure)
    if persons > 0 and not Campaign.objects.filter(name=DEMO_CAMPAIGN).exists():
        step(both_languages(gettext_noop("Starting the province's campaign")), demo_campaign_ensure)
    return accounts


def _replay_start() -> dt.datetime:
    """08:00 on the first day of the replayed campaign, ``REPLAY_DAYS`` days ago."""
    day = clock.today() - dt.timedelta(days=REPLAY_DAYS)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(8)))


def _pace(commune_code: str) -> float:
    """The share of its open cases a commune's station closes a day in the replay: most keep up, some are
    slow, a few have not started (the communes a campaign page shows behind)."""
    return (0.0, 0.02, 0.04, 0.08, 0.12, 0.15)[zlib.crc32(commune_code.encode()) % 6]


def _station(commune_code: str) -> User:
    """The account the replay acts as for a commune's health station: a password nobody is told, and
    switched off once the replay is done (``demo_work_replay``)."""
    username = f"{REPLAY_STATION_PREFIX}{commune_code}"
    user = User.objects.filter(username=username).first()
    if user is None:
        return user_create(
            username=username, password=password_generate(), role=Role.COMMUNE, commune_code=commune_code
        )
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def demo_work_replay() -> int:
    """Each of the last ``REPLAY_DAYS`` days (today included), each commune's station closes its share of open
    cases through the verification service, as that day; each day's figures are kept by a recount as that day
    (the worker's, in service). Runs right after the demo's import, before anything else happens today."""
    closed = 0
    start = _replay_start()
    for day in range(1, REPLAY_DAYS + 1):
        with clock.moved_to(start + dt.timedelta(days=day, hours=1)):
            closed += _replay_day()
            rollups_refresh()  # that day's figures, as the worker would have kept them that day
    User.objects.filter(username__startswith=REPLAY_STATION_PREFIX).update(is_active=False)
    return closed


@transaction.atomic
def _replay_day() -> int:
    """One day of the replay: each commune's station closes its share of its open cases; how many closed."""
    closed = 0
    active = (
        VerificationCase.objects.filter(province_id=DEMO_PROVINCE, state__in=ACTIVE_STATES)
        .values("commune_id")
        .annotate(n=Count("pk"))
        .order_by("commune_id")
    )
    for row in active:
        commune, count = row["commune_id"], row["n"]
        todo = math.ceil(count * _pace(commune))
        if todo == 0:
            continue
        station = _station(commune)
        cases = VerificationCase.objects.filter(
            commune_id=commune, state__in=[CaseState.OPEN, CaseState.IN_PROGRESS]
        ).order_by("opened_at", "pk")[:todo]
        for case_id in list(cases.values_list("pk", flat=True)):
            case_resolve(actor=station, case_id=case_id, justification=REPLAY_JUSTIFICATION)
            closed += 1
    return closed


def demo_campaign_ensure() -> Campaign:
    """The province's campaign of the replayed scenario: every verification case closed by a deadline ten
    days from today (SPEC §9; the Ministry's 11/11 of 2021)."""
    province_user = User.objects.get(username=_username(Role.PROVINCE))
    return campaign_create(
        actor=province_user,
        name=DEMO_CAMPAIGN,
        unit_key=DEMO_PROVINCE,
        target=Target.CASES_ACTIVE,
        goal=Decimal(0),
        start=clock.today() - dt.timedelta(days=REPLAY_DAYS),
        deadline=clock.today() + dt.timedelta(days=10),
    )


def demo_signing_keys_ensure() -> None:
    """Certificates need a signing key: the demo makes one in the var folder when none is configured.
    (Production keys come from files or the environment; see `vaxreg certs keygen`.)"""
    try:
        signing_key()
    except KeyNotConfigured:
        keys_generate(Path(settings.VAR_DIR) / "dcc-keys")


def demo_days_sign_off() -> int:
    """The demo facility has reviewed and signed off every past day, so its people can get certificates."""
    facility = _busiest_facility()
    head = User.objects.get(username=_username(Role.FACILITY))
    days = (
        Dose.objects.filter(facility=facility, vaccination_date__lt=clock.today())
        .exclude(vaccination_date__in=DaySignOff.objects.filter(facility=facility).values("day"))
        .values_list("vaccination_date", flat=True)
        .distinct()
    )
    signed = 0
    for day in sorted(set(days)):
        day_sign_off(actor=head, facility_id=facility.pk, day=day, note="Đã rà soát / reviewed (demo)")
        signed += 1
    return signed


def demo_complaints_ensure() -> int:
    """A few citizens' complaints in the demo facility's inbox: fresh ones, one with 12 hours left and one
    past due (escalated to the province), so every state of the 48-hour clock can be seen."""
    if Complaint.objects.exists():
        return 0
    facility = _busiest_facility()
    # Citizens who fill the form right: a valid phone (the synthetic data holds broken ones on purpose).
    candidates = (
        Person.objects.filter(
            doses__facility=facility, id_number__regex=r"^[0-9]{12}$", phone__startswith="0"
        )
        .distinct()
        .order_by("pk")[:200]
    )
    persons = [person for person in candidates if normalize_phone(person.phone)[1]][:6]
    made = []
    for i, person in enumerate(persons):
        birth = (
            f"{person.birth_day or 1:02d}/{person.birth_month or 1:02d}/{person.birth_year}"
            if person.birth_year
            else ""
        )
        named = i % 2 == 0
        made.append(
            complaint_submit(
                intake=Intake(
                    category=3 if named else 5,
                    full_name=person.full_name,
                    phone=person.phone,
                    birth_date=birth,
                    gender=person.gender,
                    id_number=person.id_number,
                    province_code=DEMO_PROVINCE,
                    facility_code=facility.code if named else None,
                    claimed_doses=(
                        {"date": "2021-10-15", "vaccine": "AZ", "dose_number": 2, "lot": "NX1234"},
                    )
                    if named
                    else (),
                    description="Tôi đã tiêm mũi 2 nhưng ứng dụng chưa hiện. / My second dose is not shown."
                    if named
                    else "Ngày sinh trên hệ thống sai. / My birth date is wrong in the system.",
                )
            )
        )
    now = clock.now()
    # Two complaints arrived earlier: one now has under 12 hours left, one is past its 48 hours.
    for complaint, hours_ago in zip(made[:2], (40, 50), strict=False):
        received = now - dt.timedelta(hours=hours_ago)
        Complaint.objects.filter(pk=complaint.pk).update(
            received_at=received, due_at=received + dt.timedelta(hours=48)
        )
    complaints_tick(now=now)
    return len(made)


def demo_accounts_table(accounts: list[DemoAccount]) -> str:
    header = tuple(
        both_languages(pgettext_lazy("demo accounts", word))
        for word in ("role", "username", "password", "unit")
    )
    rows = [header, *((a.role, a.username, a.password, a.unit) for a in accounts)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])), row[3]]) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Set up a demo and serve it: migrates the SQLite database (default "
        "./var/vaxreg.sqlite3; a non-SQLite database is refused unless --force), loads the reference "
        "data, creates facilities for Thành phố Huế (province 46), generates --persons synthetic people "
        "with their doses and imports them through the import pipeline, creates one account per role "
        "(national, province, commune, facility, police, admin) with fresh random passwords and prints "
        "them, then serves the web UI on http://127.0.0.1:PORT like `vaxreg serve`. Running it again on "
        "the same database skips the steps already done and prints new passwords."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--persons", type=int, default=DEMO_PERSONS, help=f"number of people to generate ({DEMO_PERSONS})"
        )
        parser.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
        parser.add_argument("--no-serve", action="store_true", help="set up only, do not start the server")
        parser.add_argument("--reset", action="store_true", help="start from an empty database")
        parser.add_argument("--force", action="store_true", help="allow a database that is not SQLite")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        if connection.vendor != "sqlite" and not options["force"]:
            raise CommandError(
                both_languages(
                    gettext_noop(
                        "The demo only uses a SQLite database; add --force to use the configured one anyway."
                    )
                )
            )
        if options["reset"]:
            self._reset()
        self.stdout.write(f"… {both_languages(gettext_noop('Migrating the database'))}")
        call_command("migrate", interactive=False, verbosity=0)
        accounts = demo_setup(persons=options["persons"], say=self.stdout.write)
        self.stdout.write("")
        self.stdout.write(demo_accounts_table(accounts))
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"{both_languages(gettext_noop('Set up in'))} {time.monotonic() - started:.0f} s: "
                f"{settings.DATABASES['default']['NAME']}"
            )
        )
        if options["no_serve"]:
            return
        connections.close_all()
        code = serve_run(host="127.0.0.1", port=options["port"], workers=2, with_worker=True, demo=True)
        if code:
            raise CommandError(both_languages(SERVER_STOPPED, {"code": code}))

    def _reset(self) -> None:
        if connection.vendor == "sqlite":
            name = Path(str(settings.DATABASES["default"]["NAME"]))
            connections.close_all()
            for path in (name, name.with_name(name.name + "-wal"), name.with_name(name.name + "-shm")):
                path.unlink(missing_ok=True)
        else:
            call_command("flush", interactive=False, verbosity=0)
        self.stdout.write(both_languages(gettext_noop("The old data was removed.")))
