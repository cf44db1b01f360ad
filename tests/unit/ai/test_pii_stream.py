"""PII_REDACTION: prompts redacted with shared placeholders, replies restored or masked as they stream."""

from __future__ import annotations

import pytest

from src.application.ai.pii_stream import HOLDBACK_CHARS, ChatPiiPolicy, PiiReplyFilter
from src.application.ai.safety import PiiScanner
from src.domain.llm.model import MessageRole, PromptMessage
from src.infrastructure.ai.pii_recognizers import NationalIdRecognizer, PhoneNumberRecognizer

SCANNER = PiiScanner([PhoneNumberRecognizer(), NationalIdRecognizer()])


def stream(reply_filter: PiiReplyFilter, deltas: list[str]) -> list[str]:
    sent = [reply_filter.feed(d) for d in deltas]
    sent.append(reply_filter.finish())
    return sent


def test_input_mode_redacts_every_message_with_shared_placeholders() -> None:
    policy = ChatPiiPolicy(SCANNER, "input")
    messages, reply_filter = policy.prepare(
        [
            PromptMessage(MessageRole.SYSTEM, "Be brief."),
            PromptMessage(MessageRole.USER, "I am ada@example.com, card 4111 1111 1111 1111"),
            PromptMessage(MessageRole.ASSISTANT, "Noted, ada@example.com."),
            PromptMessage(MessageRole.USER, "Also bob@example.com"),
        ]
    )
    assert [m.content for m in messages] == [
        "Be brief.",
        "I am [EMAIL_1], card [CARD_1]",
        "Noted, [EMAIL_1].",
        "Also [EMAIL_2]",
    ]
    assert reply_filter is not None
    sent = stream(reply_filter, ["Sure, I wrote to [EMAIL", "_2] and ", "[EMAIL_1] about [CARD_1].", " [EMAIL_9]"])
    assert "".join(sent) == (
        "Sure, I wrote to bob@example.com and ada@example.com about 4111 1111 1111 1111. [EMAIL_9]"
    )


def test_nothing_to_do_without_personal_data_or_with_the_policy_off() -> None:
    plain = [PromptMessage(MessageRole.USER, "Hello there")]
    assert ChatPiiPolicy(SCANNER, "input").prepare(plain) == (tuple(plain), None)
    personal = [PromptMessage(MessageRole.USER, "ada@example.com")]
    assert ChatPiiPolicy(SCANNER, "off").prepare(personal) == (tuple(personal), None)


@pytest.mark.parametrize("size", [1, 3, 7])
def test_output_mode_masks_a_number_split_across_deltas(size: int) -> None:
    _, reply_filter = ChatPiiPolicy(SCANNER, "output").prepare([PromptMessage(MessageRole.USER, "hi")])
    assert reply_filter is not None
    reply = "Your card 4111 1111 1111 1111 and mail eve@example.com are on file. " * 3
    deltas = [reply[i : i + size] for i in range(0, len(reply), size)]
    sent = stream(reply_filter, deltas)
    joined = "".join(sent)
    assert joined == "Your card [CARD] and mail [EMAIL] are on file. " * 3
    assert "4111" not in joined
    # Nothing is held back longer than needed: text flows once more than the holdback has arrived.
    assert any(sent[: len(deltas) - HOLDBACK_CHARS // size])


def test_both_restores_the_users_own_values_and_masks_new_ones() -> None:
    _, reply_filter = ChatPiiPolicy(SCANNER, "both").prepare([PromptMessage(MessageRole.USER, "I am ada@example.com")])
    assert reply_filter is not None
    assert "".join(stream(reply_filter, ["Hi [EMAIL_1], ", "write to eve@example.com"])) == (
        "Hi ada@example.com, write to [EMAIL]"
    )
