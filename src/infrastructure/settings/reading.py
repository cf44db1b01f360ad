"""How a setting is declared and read: ``var`` (read by its declaration), ``manual`` (read by its
group's loader), the reader of the environment, and the checks every group shares.

A group of settings is a frozen dataclass whose fields are made with ``var`` or ``manual``; each names its
environment variable, its default and its limits once. ``read_group`` builds a group from the
environment, ``shown`` prints it for ``parley config show``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from src.infrastructure.redaction import mask_url

_T = TypeVar("_T")
_G = TypeVar("_G")

HTTP = ("http", "https")


class ConfigError(Exception):
    """A configuration variable is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"configuration error: {variable} {problem}")


@dataclass(frozen=True, slots=True)
class Variable:
    """How one setting is read: its variable and its limits. The type to read comes from the field's
    default (bool, int, float, str, Path, or None with ``url``)."""

    name: str
    minimum: float | None = None
    maximum: float | None = None
    #: Allowed values (lower case, or upper with ``upper``).
    choices: tuple[str, ...] = ()
    upper: bool = False
    #: A URL with one of these schemes (the default is then ``None``: unset).
    url: tuple[str, ...] = ()
    #: Shown as ``****`` by ``parley config show`` (and never in a repr).
    secret: bool = False
    #: Read by its group's loader (its default or check depends on other variables), not by ``read_group``.
    manual: bool = False


def var(
    name: str,
    default: _T,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    upper: bool = False,
    url: tuple[str, ...] = (),
    secret: bool = False,
    repr: bool = True,
) -> _T:
    """A setting read from the variable ``name`` by ``read_group``, declared once: default and limits."""
    spec = Variable(name, minimum, maximum, choices, upper, url, secret)
    made: _T = field(default=default, repr=repr and not secret, metadata={"variable": spec})
    return made


def manual(
    name: str,
    default: Any = MISSING,
    *,
    default_factory: Callable[[], Any] | Any = MISSING,
    secret: bool = False,
    repr: bool = True,
) -> Any:
    """A setting read from the variable ``name`` by its group's loader, which takes its default from here."""
    spec = Variable(name, secret=secret, manual=True)
    return field(
        default=default, default_factory=default_factory, repr=repr and not secret, metadata={"variable": spec}
    )


def variable_of(setting: Field[Any]) -> Variable | None:
    spec: Variable | None = setting.metadata.get("variable")
    return spec


def default_of(group: type[Any], name: str) -> Any:
    """The declared default of one of ``group``'s settings (for its loader)."""
    for setting in fields(group):
        if setting.name == name:
            if setting.default_factory is not MISSING:
                return setting.default_factory()
            return setting.default
    raise KeyError(name)


def read_group(group: type[_G], env: Reader, **by_hand: Any) -> _G:
    """``group`` with every ``var`` setting read by its type, default and limits, and ``by_hand`` the
    values its loader read (settings left out of both keep their defaults)."""
    values: dict[str, Any] = {}
    for setting in fields(group):  # type: ignore[arg-type]
        spec = variable_of(setting)
        if spec is None or spec.manual:
            continue
        values[setting.name] = env.declared(spec, setting.default)
    return group(**values, **by_hand)


def shown(group: object) -> dict[str, str]:
    """``group``'s settings by variable name, as text, with secrets and URL passwords masked."""
    result: dict[str, str] = {}
    for setting in fields(group):  # type: ignore[arg-type]
        spec = variable_of(setting)
        if spec is None:
            continue
        value = getattr(group, setting.name)
        if spec.secret:
            text = "****" if value else ""
        elif isinstance(value, Mapping):
            text = ",".join(f"{n}={mask_url(u)}" for n, u in value.items())
        elif isinstance(value, tuple):
            text = ",".join(mask_url(item) if "://" in item else item for item in value)
        else:
            text = str(value)
            # Any URL (database, Redis, providers, OTLP, paragraph source, dictionary ...).
            if "://" in text:
                text = mask_url(text)
        result[spec.name] = text
    return result


def dollars(env: Reader, name: str, default: Decimal, *, maximum: int) -> Decimal:
    """An amount in US dollars (``12.50``), from zero to ``maximum``."""
    value = env.raw(name) or str(default)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ConfigError(name, f"must be an amount in dollars such as 12.50, got {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount > maximum:
        raise ConfigError(name, f"must be between 0 and {maximum} dollars, got {value!r}")
    return amount


def existing_file(env: Reader, name: str) -> Path | None:
    value = env.raw(name)
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(name, f"names {value!r}, which is not a readable file")
    return path


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def both_or_neither(env: Reader, first: str, second: str, problem: str) -> tuple[str | None, str | None]:
    """Two variables that go together: both set or neither (else ``problem``, named after the missing one)."""
    one, other = env.raw(first), env.raw(second)
    if (one is None) != (other is None):
        raise ConfigError(second if other is None else first, problem)
    return one, other


class Reader:
    """The environment (and ``.env``) as typed values, each checked against its limits."""

    def __init__(self, source: Mapping[str, str]) -> None:
        self._source = source

    def raw(self, name: str) -> str | None:
        value = self._source.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def declared(self, spec: Variable, default: Any) -> Any:
        """The value of a ``var`` setting, read as its default's type."""
        name = spec.name
        if spec.url:
            return self.url(name, schemes=spec.url, default=None)
        if spec.choices:
            return self.choice(name, spec.choices, str(default), upper=spec.upper)
        if isinstance(default, bool):
            return self.boolean(name, default)
        if isinstance(default, int):
            return self.integer(name, default, minimum=_whole(spec.minimum), maximum=_whole(spec.maximum))
        if isinstance(default, float):
            return self.number(name, default, minimum=spec.minimum, maximum=spec.maximum)
        if isinstance(default, Path):
            return Path(self.text(name, default.as_posix()))
        if default is None:
            return self.raw(name)
        return self.text(name, str(default))

    def _parse(self, name: str, default: _T, convert: Callable[[str], _T], expected: str) -> _T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return convert(value)
        except ValueError:
            raise ConfigError(name, f"must be {expected}, got {value!r}") from None

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        number = self._parse(name, default, int, "a whole number")
        _check_range(name, number, minimum, maximum)
        return number

    def number(self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
        number = self._parse(name, default, float, "a number")
        _check_range(name, number, minimum, maximum)
        return number

    def boolean(self, name: str, default: bool) -> bool:
        def convert(value: str) -> bool:
            lowered = value.lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)

        return self._parse(name, default, convert, "true or false")

    def choice(self, name: str, allowed: tuple[str, ...], default: str, *, upper: bool = False) -> str:
        value = self.raw(name)
        if value is None:
            return default
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise ConfigError(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def url(
        self,
        name: str,
        *,
        schemes: tuple[str, ...],
        default: str | None,
        aliases: Mapping[str, str] | None = None,
    ) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        scheme, sep, rest = value.partition("://")
        if sep and aliases and scheme in aliases:
            value = f"{aliases[scheme]}://{rest}"
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError on a non-numeric port
        except ValueError as exc:
            raise ConfigError(name, f"is not a valid URL ({exc})") from None
        if parts.scheme not in schemes:
            raise ConfigError(name, f"must start with {' or '.join(s + '://' for s in schemes)}")
        if parts.scheme.startswith("sqlite"):
            if not parts.path or parts.path == "/":
                raise ConfigError(name, "must name a database file, e.g. sqlite+aiosqlite:///var/parley.db")
        elif parts.scheme != "unix" and not parts.hostname:
            raise ConfigError(name, "has no host")
        return value


def _whole(limit: float | None) -> int | None:
    return None if limit is None else int(limit)


def _check_range(name: str, value: Any, minimum: Any, maximum: Any) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"must be at most {maximum}, got {value}")
