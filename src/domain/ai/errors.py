"""AI tools and safety errors, each with a stable code the front doors translate."""

from __future__ import annotations

from src.domain.shared.errors import DomainError, InvalidInput, NotFound


class PromptInjectionSuspected(InvalidInput):
    """The policy is ``block`` and the text reads like an attempt to take over the model."""

    code = "prompt_injection_suspected"
    title = "The message looks like a prompt-injection attempt"


class InvalidModelOutput(DomainError):
    """The model answered twice with something that is not the JSON the tool asked for."""

    code = "invalid_model_output"
    kind = "unavailable"
    title = "The model's answer could not be read"


class TemplateNotFound(NotFound):
    code = "template_not_found"
    title = "No such template"


class InvalidTemplateParameters(InvalidInput):
    """A parameter the template needs is missing, or one it does not declare was given."""

    code = "invalid_template_parameters"
    title = "The template's parameters are not right"


class InvalidToolInput(InvalidInput):
    code = "invalid_tool_input"
    title = "Invalid input for this AI tool"
