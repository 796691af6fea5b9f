"""The ``vaxreg`` command: each verb is a management command of the app it belongs to.

``vaxreg reference load`` runs ``reference_load``, ``vaxreg import FILE`` runs ``import_file``, and any
other Django management command can be run by its own name (``vaxreg migrate``, ``vaxreg shell``).
"""

import sys

from config.env import settings_module_default

VERBS: dict[tuple[str, ...], str] = {
    ("reference", "load"): "reference_load",
    ("facilities", "load"): "facilities_load",
    ("import",): "import_file",
    ("synth",): "synth",
    ("demo",): "demo",
    ("serve",): "serve",
    ("bench", "import"): "bench_import",
    ("bench", "quality"): "bench_quality",
    ("bench", "worklist"): "bench_worklist",
    ("quality", "scan"): "quality_scan",
    ("quality", "export"): "quality_export",
    ("verification", "sync"): "verification_sync",
    ("police", "import"): "police_import",
    ("complaints", "tick"): "complaints_tick",
    ("bench", "complaints"): "bench_complaints",
    ("bench", "certs"): "bench_certs",
    ("api", "conformance"): "api_conformance",
    ("certs", "keygen"): "certs_keygen",
    ("certs", "verify"): "certs_verify",
    ("fhir", "token"): "fhir_token",
    ("createuser",): "createuser",
    ("second-factor", "reset"): "second_factor_reset",
    ("worker",): "worker",
    ("linkage",): "linkage",
    ("bench", "linkage"): "bench_linkage",
    ("dashboards",): "dashboards",
    ("bench", "dashboards"): "bench_dashboards",
    ("bench", "drill"): "bench_drill",
}

USAGE = """usage: vaxreg VERB [options]

Verbs:
  migrate                      create or update the database schema
  reference load               load provinces, communes, legacy units and the vaccine catalogue
  facilities load FILE.csv     load facilities from a CSV with columns code,name,commune_code
  import FILE [--facility C]   import a CSV or .xlsx file of dose records
  synth --persons N ...        generate a realistic synthetic dose file with injected defects
  demo                         set up a demo database with data and users, then serve the web UI
  serve                        serve the web UI and API
  quality scan [--province P]  run the data-quality rules over every person (or one province)
  quality export --user U --out F  export the open findings U may read, per source record (.csv/.xlsx) [--facility C]
  linkage run|train|export     find persons recorded twice (DUPLICATE_SUSPECT), train the model, export clusters
  bench linkage --persons N    measure record linkage (seconds, precision/recall/F1, memory) beside a baseline
  dashboards refresh|rebuild   recount the units writes marked stale, or count every unit's figures again
  bench dashboards --persons N measure the dashboards and a campaign page (p50/p95), the rebuild and the recount after an import
  verification sync            open and close verification cases to follow the findings
  complaints tick              send 12-hour reminders and escalate past-due complaints (idempotent; cron)
  police import --user U FILE  apply the police's result file (.xlsx/.csv) to escalated cases
  bench import --rows N        measure import speed against a raw bulk load (--db citus: against one PostgreSQL)
  bench quality --persons N    measure the full quality scan against a plain SELECT, and one re-check
  bench worklist --persons N   measure the health station's worklist page (p50/p95) with --cases open cases
  fhir token create|revoke|list  API tokens of facility systems for the FHIR interface (/fhir/)
  certs keygen [--out DIR]     create the PS256/ES256 signing keys and certificates
  certs verify "HC1:..."       verify a certificate step by step (exit 0 valid, 1 invalid)
  bench certs [--count N]      measure issuing and verifying certificates on one core
  api conformance              check the API against its OpenAPI document with schemathesis (dev; CI)
  bench complaints             measure the public complaint endpoint against a no-op one (gunicorn, PostgreSQL)
  createuser                   create a staff account with a role and a unit
  second-factor reset --username U --reason R   take away an account's second factor (a lost phone)
  citus up|down|status|distribute  a local Citus cluster; distribute the per-person tables by home
  bench drill --persons N      stop a Citus worker during an import: it fails whole, and runs again to the same records
  worker                       run the background tasks and the periodic jobs (complaints' 48-hour clock and notices, the dashboards' recount, every minute)

Run `vaxreg VERB --help` for the options of a verb. Any Django management command also works.
"""


def resolve(argv: list[str]) -> list[str]:
    for length in (2, 1):
        key = tuple(argv[:length])
        if len(key) == length and key in VERBS:
            return [VERBS[key], *argv[length:]]
    return argv


# The task worker derives the one-time codes it texts to citizens from the web server's key: like the server
# (`serve` checks for itself), it does not start in production with a random key of its own.
KEYED_COMMANDS = {"worker"}


def main() -> None:
    settings_module_default()
    argv = sys.argv[1:]
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    command = resolve(argv)
    if command[0] in KEYED_COMMANDS and not {"-h", "--help"} & set(command):
        from vaxreg.web.secret_key import secret_key_require

        try:
            secret_key_require()
        except ImproperlyConfigured as exc:
            sys.exit(f"vaxreg {command[0]}: {exc}")
    execute_from_command_line(["vaxreg", *command])


if __name__ == "__main__":
    main()
