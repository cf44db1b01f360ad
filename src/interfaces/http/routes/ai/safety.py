"""``POST /safety/scan``: the prompt-injection and personal-data scanners on any text."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import JSONBody, SkipValidation
from litestar.status_codes import HTTP_200_OK

from src.application.ai.safety import CHECKS
from src.application.ai.scan_text import ScanTextCommand
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY
from src.interfaces.http.routes.ai.schemas import ScanRequest, ScanResponse


class SafetyController(Controller):
    path = "/safety"
    tags = ["safety"]
    security = SECURITY

    @post(
        "/scan",
        status_code=HTTP_200_OK,
        summary="Scan text for prompt injection and personal data",
        description=(
            "`prompt_injection`: instruction overrides (several languages), role-play jailbreaks, system-prompt "
            "extraction and their disguises (zero-width or homoglyph characters, spaced letters, base64, rot13). "
            "`pii`: e-mail addresses, phone numbers, payment cards (Luhn-valid), IBANs (checksum-valid), IP "
            "addresses, national ids and API-key-shaped secrets, with their positions and a redacted copy. "
            "Nothing is stored or charged."
        ),
    )
    async def scan(self, data: JSONBody[ScanRequest], container: SkipValidation[Container]) -> ScanResponse:
        checks = tuple(data.checks) if data.checks else CHECKS
        return ScanResponse.of(container.ai.scan_text(ScanTextCommand(data.text, checks)))
