"""The online population-registry adapter (SPEC §6): one small interface, one HTTP implementation.

The contract the HTTP client speaks (JSON over HTTP, UTF-8)::

    POST {VAXREG_REGISTRY_URL}/lookup
    {"id_number": "001090012345", "full_name": "Nguyễn Văn An", "birth_year": 1990}

    200 {"result": "MATCH" | "MISMATCH" | "NOT_FOUND",
         "person": {"full_name": "...", "birth_year": 1990, "birth_month": 1, "birth_day": 15,
                    "gender": "M" | "F" | "O", "id_number": "001090012345"}}

``person`` is the identity as the register holds it; it may be absent for NOT_FOUND, and any of its fields
may be absent or null. Any other status, a body that is not such an object, a refused connection or no
answer within the timeout is an error (``RegistryUnavailable``), never a result: a register that cannot be
asked has not said that the person does not exist.

The address is ``settings.VAXREG_REGISTRY_URL`` (from the environment variable of that name); the timeout in
seconds ``VAXREG_REGISTRY_TIMEOUT`` (default 10).
"""

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.utils.translation import gettext_noop

from vaxreg.accounts.models import User
from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.core.i18n import both_languages
from vaxreg.core.refusals import Refusal
from vaxreg.core.text import normalize_text
from vaxreg.people.models import Person
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.selectors import access_case_by_id
from vaxreg.verification.services import POLICE_RESULTS, CaseActionRefused, case_police_result

DEFAULT_TIMEOUT = 10.0
_MAX_ANSWER_BYTES = 1 << 20


@dataclass(frozen=True)
class RegistryAnswer:
    result: str  # MATCH, MISMATCH or NOT_FOUND
    full_name: str = ""
    birth_year: int | None = None
    birth_month: int | None = None
    birth_day: int | None = None
    gender: str = ""
    id_number: str = ""

    def verified(self) -> dict[str, Any]:
        """The identity as ``case_police_result`` takes it: only the fields the register gave."""
        fields = {
            "full_name": self.full_name,
            "birth_year": self.birth_year,
            "birth_month": self.birth_month,
            "birth_day": self.birth_day,
            "gender": self.gender,
            "id_number": self.id_number,
        }
        return {name: value for name, value in fields.items() if value not in (None, "")}


class RegistryUnavailable(Refusal):
    """The register could not be asked, or its answer could not be understood; said in both languages."""

    code = "registry_unavailable"
    status = 503


class RegistryClient(Protocol):
    def lookup(self, id_number: str, full_name: str, birth_year: int | None) -> RegistryAnswer: ...


def registry_url() -> str:
    return str(settings.VAXREG_REGISTRY_URL or "").strip()


def registry_configured() -> bool:
    return bool(registry_url())


def _optional_int(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(name)
    return int(value)


def answer_parse(payload: Any) -> RegistryAnswer:
    """The register's JSON answer as a ``RegistryAnswer``; ``ValueError`` when it breaks the contract."""
    if not isinstance(payload, dict) or payload.get("result") not in POLICE_RESULTS:
        raise ValueError("result")
    person = payload.get("person") or {}
    if not isinstance(person, dict):
        raise ValueError("person")
    gender = person.get("gender") or ""
    if gender not in ("M", "F", "O", ""):
        raise ValueError("gender")
    return RegistryAnswer(
        result=payload["result"],
        full_name=normalize_text(str(person.get("full_name") or ""))[:200],
        birth_year=_optional_int(person.get("birth_year"), "birth_year"),
        birth_month=_optional_int(person.get("birth_month"), "birth_month"),
        birth_day=_optional_int(person.get("birth_day"), "birth_day"),
        gender=gender,
        id_number=str(person.get("id_number") or "").strip()[:32],
    )


class HttpRegistryClient:
    """Asks the population register over HTTP (see the module docstring for the contract)."""

    def __init__(self, base_url: str | None = None, *, timeout: float | None = None) -> None:
        self.base_url = (base_url if base_url is not None else registry_url()).rstrip("/")
        self.timeout = timeout if timeout is not None else float(settings.VAXREG_REGISTRY_TIMEOUT)

    def lookup(self, id_number: str, full_name: str, birth_year: int | None) -> RegistryAnswer:
        if not self.base_url:
            raise RegistryUnavailable(
                "Chưa cấu hình địa chỉ CSDL dân cư (VAXREG_REGISTRY_URL).",
                "The population registry address is not configured (VAXREG_REGISTRY_URL).",
            )
        url = f"{self.base_url}/lookup"
        body = json.dumps({"id_number": id_number, "full_name": full_name, "birth_year": birth_year}).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read(_MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise RegistryUnavailable(
                f"CSDL dân cư tại {url} trả lỗi HTTP {exc.code}; chưa có kết quả, hãy thử lại sau.",
                f"The population registry at {url} answered HTTP {exc.code}; no result yet, try again later.",
            ) from exc
        except TimeoutError as exc:
            raise self._unreachable(
                url, f"không trả lời sau {self.timeout:g} giây", f"no answer within {self.timeout:g} s"
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._unreachable(
                    url, f"không trả lời sau {self.timeout:g} giây", f"no answer within {self.timeout:g} s"
                ) from exc
            raise self._unreachable(url, str(exc.reason), str(exc.reason)) from exc
        except (OSError, http.client.HTTPException) as exc:  # reset connections, truncated answers
            raise self._unreachable(
                url, str(exc) or type(exc).__name__, str(exc) or type(exc).__name__
            ) from exc
        try:
            if len(raw) > _MAX_ANSWER_BYTES:
                raise ValueError("size")
            return answer_parse(json.loads(raw.decode("utf-8")))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors too
            raise RegistryUnavailable(
                f"Không hiểu câu trả lời của CSDL dân cư tại {url} ({exc}).",
                f"The answer of the population registry at {url} cannot be understood ({exc}).",
            ) from exc

    @staticmethod
    def _unreachable(url: str, why_vi: str, why_en: str) -> RegistryUnavailable:
        return RegistryUnavailable(
            f"Không kết nối được CSDL dân cư tại {url} ({why_vi}); chưa có kết quả, hãy thử lại sau.",
            f"The population registry at {url} cannot be reached ({why_en}); no result yet, try again later.",
        )


def case_registry_check(*, actor: User, case_id: int, client: RegistryClient) -> VerificationCase:
    """Ask the register about the escalated case's person and record its answer as the police's result.

    Not one transaction: the case is not kept locked while the register is asked over the network;
    ``case_police_result`` then locks it and checks its state again.
    """
    case = access_case_by_id(user=actor, case_id=case_id)
    if not user_can(actor, Capability.CASE_POLICE) or actor.commune_id != case.commune_id:
        raise CaseActionRefused(
            "Chỉ công an xã của hồ sơ mới tra cứu CSDL dân cư cho hồ sơ này.",
            "Only the case's commune police can look the case up in the population registry.",
        )
    if case.state != CaseState.ESCALATED:
        raise CaseActionRefused(
            "Hồ sơ không chờ kết quả của công an.", "The case is not waiting for the police."
        )
    person: Person = case.person
    answer = client.lookup(person.id_number, person.full_name, person.birth_year)
    return case_police_result(
        actor=actor,
        case_id=case.pk,
        result=answer.result,
        verified=answer.verified(),
        note=f"{both_languages(gettext_noop('population registry lookup'))}: {answer.result}",
        source_id="registry",
    )
