"""Reading scenario files: YAML with line numbers, ``extends`` and ``--set`` overrides.

Every problem is reported located: ``FILE:LINE: field.path: message (allowed: ...)``.

The YAML dialect is YAML 1.2's core schema: ``12:30`` is the string "12:30" (which a duration
field then refuses), not the sexagesimal 750 of YAML 1.1, and only ``true``/``false`` are
booleans (``on``, ``no`` and ``yes`` stay strings). Duplicate keys are errors.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from softtarget.sim.errors import Problem, ScenarioError
from softtarget.sim.schema import SPECIAL_TARGETS, Scenario, Section, deep_merge
from softtarget.sim.schema import resolve_extends as schema_resolve_extends

#: The built-in scenario files, read as package data (installed as files, never zipped).
BUILTIN_DIR = Path(str(resources.files("softtarget.scenarios")))

# --------------------------------------------------------------------------- YAML dialect ---


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars."""


_Loader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    try:
        if text.startswith("0o"):
            return int(text[2:], 8)
        return int(text, 0) if text.startswith("0x") else int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise yaml.constructor.ConstructorError(
            None, None, f"integer of {len(text)} digits is too long", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)

Path_ = tuple[str | int, ...]


@dataclass
class Source:
    """A parsed document and where each of its fields was written."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    overridden: dict[Path_, str] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)

    def inherited(self, path: Sequence[str | int]) -> bool:
        """Whether ``path`` in a configuration was written under an ancestor, not there.

        Such a problem is reported once, where it was written.
        """
        if len(path) < 3 or path[0] != "configurations" or str(path[1]) not in self.chains:
            return False
        rest = tuple(path[2:])
        for n in range(len(rest), 0, -1):
            if ("configurations", path[1], *rest[:n]) in self.lines:
                return False
            if any(
                ("configurations", a, *rest[:n]) in self.lines
                for a in self.chains[str(path[1])][1:]
            ):
                return True
        return False

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the longest prefix of ``path`` that was written in the file."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def owner(self, path: Sequence[str | int]) -> str | None:
        """The configuration in whose text ``path`` (in a configuration) was written.

        The configuration itself, or the ancestor of its ``extends`` chain that wrote the
        longest prefix of the rest of the path; None outside configurations or chains.
        """
        if len(path) < 3 or path[0] != "configurations" or str(path[1]) not in self.chains:
            return None
        chain = self.chains[str(path[1])]
        rest = tuple(path[2:])
        for n in range(len(rest), 0, -1):
            for name in chain:
                if ("configurations", name, *rest[:n]) in self.lines:
                    return name
        return chain[0]

    def written_line(self, path: Sequence[str | int]) -> int | None:
        """Line where ``path`` was written: in the configuration or the ancestor it came from."""
        owner = self.owner(path)
        if owner is None:
            return self.line_of(path)
        return self.line_of(("configurations", owner, *path[2:]))


#: Values a document may expand to (aliases can make a short file recursive or explosive).
MAX_NODES = 200_000
#: Levels of nesting a document may have (a scenario needs fewer than ten).
MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def _walk(root: yaml.Node, file: str, lines: dict[Path_, int]) -> list[Problem]:
    """Record the line of every path under ``root``; report duplicate keys and bad text."""
    problems: list[Problem] = []
    todo: list[tuple[yaml.Node, Path_]] = [(root, ())]
    visited = 0
    while todo:
        node, path = todo.pop()
        visited += 1
        if len(path) > MAX_DEPTH:
            return [
                Problem(
                    file,
                    node.start_mark.line + 1,
                    ".".join(map(str, path[:3])) + ".…",
                    f"nested deeper than {MAX_DEPTH} levels (is an alias used inside its own "
                    "anchor?)",
                )
            ]
        if visited > MAX_NODES:
            return [
                Problem(
                    file,
                    node.start_mark.line + 1,
                    "",
                    f"the document expands to more than {MAX_NODES} values "
                    "(an alias used inside its own anchor, or aliases of aliases)",
                )
            ]
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key in seen:
                    problems.append(
                        Problem(file, key_node.start_mark.line + 1, str(key), "key given twice")
                    )
                seen.add(key)
                lines[(*path, _key(key_node))] = key_node.start_mark.line + 1
                todo.append((key_node, (*path, _key(key_node))))
                todo.append((value_node, (*path, _key(key_node))))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                todo.append((item, (*path, i)))
        elif isinstance(node.value, str) and _SURROGATE.search(node.value):
            problems.append(
                Problem(
                    file,
                    node.start_mark.line + 1,
                    ".".join(map(str, path)),
                    "text contains a lone surrogate escape (\\ud800-\\udfff), not a character",
                )
            )
    problems.sort(key=lambda p: p.line or 0)
    return problems


def _key(node: yaml.Node) -> str | int:
    if isinstance(node, yaml.ScalarNode) and re.fullmatch(r"[-+]?\d+", node.value or ""):
        return int(node.value)
    return node.value if isinstance(node, yaml.ScalarNode) else str(node.start_mark)


def parse_yaml(text: str, file: str) -> Source:
    """Parse ``text``; raise :class:`ScenarioError` with the line of any syntax problem."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError([Problem(file, 1, "", "the file is empty", "a YAML mapping")])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise ScenarioError([Problem(file, line, "", f"YAML syntax error: {what}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow in text
        line = text[: max(exc.position, 0)].count("\n") + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        message = f"special character #x{char:04x} is not allowed in YAML text"
        raise ScenarioError([Problem(file, line, "", message)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, None, "", f"YAML error: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(
            [Problem(file, None, "", "the document is nested too deeply to read")]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[Path_, int] = {}
    problems = _walk(node, file, lines)
    if problems:
        raise ScenarioError(problems)
    if not isinstance(data, dict):
        raise ScenarioError(
            [
                Problem(
                    file,
                    1,
                    "",
                    f"expected a mapping of sections, got {type(data).__name__}",
                    "name, description, venue, crowd, threat, configurations, run",
                )
            ]
        )
    return Source(file, data, lines)


def read_source(path: Path) -> Source:
    """Read and parse a scenario file (UTF-8)."""
    from softtarget.sim.bounds import MAX_INPUT_BYTES, check_input_file

    file = str(path)
    refused = check_input_file(path)  # before opening: a FIFO would block, a device not end
    if refused:
        raise ScenarioError([Problem(file, None, "", refused)])
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_INPUT_BYTES + 1)
        if len(raw) > MAX_INPUT_BYTES:  # it grew since the check
            raise ScenarioError(
                [Problem(file, None, "", f"is larger than {MAX_INPUT_BYTES // 2**20} MiB")]
            )
    except FileNotFoundError:
        raise ScenarioError([Problem(file, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(file, None, "", "is a folder, not a scenario file")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(file, None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([Problem(file, line, "", "not valid UTF-8 text")]) from None
    if "\x00" in text:
        raise ScenarioError([Problem(file, None, "", "contains NUL bytes: not a text file")])
    return parse_yaml(text.removeprefix("\ufeff"), file)


# ----------------------------------------------------------------------- overrides (--set) ---


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``dotted.path=value``; the value is read as a YAML scalar or flow collection."""
    if "=" not in text:
        raise ScenarioError(
            [Problem(f"--set {text}", None, "", "expected KEY=VALUE", "dotted.path=value")]
        )
    key, value = text.split("=", 1)
    parts = [p for p in key.strip().split(".")]
    if not all(parts):
        raise ScenarioError([Problem(f"--set {text}", None, key, "empty part in the dotted path")])
    try:
        parsed = parse_yaml(f"v: {value}", f"--set {text}").data["v"] if value.strip() else ""
    except ScenarioError as exc:
        raise ScenarioError(
            [Problem(f"--set {text}", None, key, p.message) for p in exc.problems]
        ) from None
    return parts, parsed


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``dotted.path=value`` set (intermediate mappings created)."""
    data = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
            if isinstance(node, dict):
                node = node.setdefault(key, {})
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                raise ScenarioError(
                    [
                        Problem(
                            f"--set {text}",
                            None,
                            ".".join(parts[: i + 1]),
                            "cannot descend into a value that is not a mapping or list",
                        )
                    ]
                )
        last: Any = parts[-1]
        if isinstance(node, list) and last.isdigit() and int(last) < len(node):
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ScenarioError(
                [
                    Problem(
                        f"--set {text}",
                        None,
                        ".".join(parts),
                        "cannot set a field inside a value that is not a mapping",
                    )
                ]
            )
    return data


# ------------------------------------------------------------------------------ extends ---


def resolve_extends(
    data: dict[str, Any], src: Source
) -> tuple[dict[str, Any], dict[str, list[str]], list[Problem]]:
    """Expand ``extends`` in ``data['configurations']``; return data, chains and problems.

    The schema's own resolution (:func:`softtarget.sim.schema.resolve_extends`, which
    ``Scenario`` runs before validating), with its problems located in the file.
    """
    data, chains, found = schema_resolve_extends(data)
    problems = [
        Problem(src.file, src.line_of(p.path), ".".join(map(str, p.path)), p.message, p.allowed)
        for p in found
    ]
    return data, chains, problems


# ------------------------------------------------------------------- validation messages ---


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (for listing allowed keys)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                alias = {f.alias: f for f in current.model_fields.values() if f.alias}
                info = alias.get(str(part))
            if info is None:
                return None
            current = info.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            members = [
                m
                for m in _members(current)
                if isinstance(m, type) and issubclass(m, BaseModel) and str(part) in m.model_fields
            ]
            if not members:
                return None
            current = members[0].model_fields[str(part)].annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _members(tp: Any) -> list[Any]:
    args = get_args(tp)
    out: list[Any] = []
    for a in args:
        a = _unwrap(a)
        out.extend(_members(a) if get_args(a) and get_origin(a) is not dict else [a])
    return out


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is not None and hasattr(tp, "__metadata__"):
        tp = get_args(tp)[0]
    args = [a for a in get_args(tp) if a is not type(None)]
    if get_origin(tp) is not None and get_origin(tp) not in (dict, list) and len(args) == 1:
        return _unwrap(args[0])
    return tp


def _allowed(err: Mapping[str, Any], loc: Sequence[str | int]) -> str | None:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(Scenario, loc[:-1])
        if owner is not None:
            return ", ".join(f.alias or n for n, f in owner.model_fields.items())
        return None
    if kind == "literal_error" or kind == "enum":
        return str(ctx.get("expected", "")).replace("'", "")
    if kind == "union_tag_invalid":
        return str(ctx.get("expected_tags", "")).replace("'", "")
    for key, sym in (("ge", ">= "), ("gt", "> "), ("le", "<= "), ("lt", "< ")):
        if key in ctx:
            return f"{sym}{ctx[key]}"
    if kind in ("too_short", "too_long"):
        return f"{ctx.get('min_length', 0)} to {ctx.get('max_length', 'any')} items"
    return None


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """Drop pydantic's union-branch and validator markers from an error location."""
    out: list[str | int] = []
    tags = {"fixed", "uniform", "exponential", "lognormal", "normal"}
    for part in loc:
        if isinstance(part, str) and (
            part in tags
            or part.startswith(("function-", "constrained-", "lax-", "json-"))
            or re.fullmatch(r"[\w-]+\[.*\]", part)
        ):
            continue
        out.append(part)
    return out


#: Error types of the schema's checks across sections (``ctx`` has message and allowed).
LOCATED_TYPES = ("scenario", "extends")


def _problems_from(exc: ValidationError, src: Source) -> list[Problem]:
    """Located problems from a validation error of :class:`Scenario`.

    A problem in a field a configuration inherited through ``extends`` is reported once,
    where it is written: it is dropped when the ancestor that wrote it has a problem at the
    same field; otherwise (the ancestor is fine, the merged configuration is not) it is kept,
    on the ancestor's line.
    """
    errors = [(err, _clean_loc(err["loc"])) for err in exc.errors(include_url=False)]
    at = {tuple(loc) for _, loc in errors}
    problems: list[Problem] = []
    for err, loc in errors:
        if src.inherited(loc):
            owner = src.owner(loc)
            if owner is not None and ("configurations", owner, *loc[2:]) in at:
                continue
        line = src.written_line(loc)
        ctx = err.get("ctx") or {}
        message = err["msg"].removeprefix("Value error, ")
        allowed = _allowed(err, loc)
        if err["type"] in LOCATED_TYPES:
            message, allowed = str(ctx.get("message", message)), ctx.get("allowed")
        elif err["type"] == "extra_forbidden":
            message = f"unknown field '{err['loc'][-1]}'"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] in ("literal_error", "union_tag_invalid", "enum"):
            message = f"unknown value {_short(err.get('input'))}"
        elif err["type"].startswith(("greater_than", "less_than")):
            message = f"{_short(err.get('input'))} is out of range"
        file = src.file
        for n in range(len(loc), 0, -1):
            if tuple(loc[:n]) in src.overridden:
                file, line = src.overridden[tuple(loc[:n])], None
                break
        problems.append(Problem(file, line, ".".join(map(str, loc)), message, allowed))
    return problems


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ----------------------------------------------------------------------------- entry ---


@dataclass(frozen=True)
class Loaded:
    """A validated scenario, where it came from, and its hash."""

    scenario: Scenario
    file: str
    hash: str


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the scenario's canonical JSON: the same content always gives the same hash."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def resolve_path(name_or_path: str) -> Path:
    """A built-in scenario name (``festival``) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists() or "/" in name_or_path:
        return candidate
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.exists():
        return builtin
    raise ScenarioError(
        [
            Problem(
                name_or_path,
                None,
                "",
                "no such file and no built-in scenario of that name",
                ", ".join(builtin_names()),
            )
        ]
    )


def expand_template(data: dict[str, Any], src: Source) -> tuple[dict[str, Any], list[Problem]]:
    """Replace ``venue: {template: ...}`` by the venue it generates (zones given merge on top)."""
    from softtarget.sim.templates import TEMPLATES

    venue = data.get("venue")
    if not isinstance(venue, dict) or "template" not in venue:
        return data, []
    name = venue["template"]
    if name not in TEMPLATES:
        path = ("venue", "template")
        return data, [
            Problem(
                src.file,
                src.line_of(path),
                "venue.template",
                f"unknown template {_short(name)}",
                ", ".join(TEMPLATES),
            )
        ]
    params = {k: v for k, v in venue.items() if k not in ("zones", "walls")}
    try:
        generated = TEMPLATES[name].model_validate(params).expand()  # type: ignore[attr-defined]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = ["venue", *_clean_loc(err["loc"])]
            allowed = _allowed(err, loc)
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(TEMPLATES[name].model_fields) + ", zones, walls"
            message = (
                f"unknown field '{loc[-1]}'"
                if err["type"] == "extra_forbidden"
                else err["msg"].removeprefix("Value error, ")
            )
            problems.append(
                Problem(src.file, src.line_of(loc), ".".join(map(str, loc)), message, allowed)
            )
        return data, problems
    extra_zones = venue.get("zones") or {}
    extra_walls = venue.get("walls") or []
    if isinstance(extra_zones, dict):
        generated["zones"] = {**generated["zones"], **extra_zones}
    if isinstance(extra_walls, list):
        generated["walls"] = [*generated["walls"], *extra_walls]
    out = dict(data)
    out["venue"] = generated
    return out, []


def validate_data(data: dict[str, Any], src: Source) -> Scenario:
    """Validate parsed data (after overrides) into a :class:`Scenario`; collect every problem."""
    data, template_problems = expand_template(data, src)
    if template_problems:
        raise ScenarioError(template_problems)
    # extends is resolved here (Scenario resolves it again, changing nothing) so that its
    # problems are reported with every other one, and inherited fields are known
    data, chains, problems = resolve_extends(data, src)
    src.chains = chains
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems += _problems_from(exc, src)
        if not problems:  # cannot happen: every error is reported, or is its ancestor's
            problems = [Problem(src.file, None, "", str(exc).replace("\n", "; "))]
        raise ScenarioError(problems) from None
    if problems:
        raise ScenarioError(problems)
    problems = _bounds_problems(scenario, src)
    if problems:
        raise ScenarioError(problems)
    return scenario


def _bounds_problems(scenario: Scenario, src: Source) -> list[Problem]:
    """The bounds of :mod:`softtarget.sim.bounds` the scenario breaks, located like the rest."""
    from softtarget.sim.bounds import check_bounds

    problems = []
    for breach in check_bounds(scenario):
        loc = list(breach.path)
        file, line = src.file, src.written_line(loc)
        for n in range(len(loc), 0, -1):
            if tuple(loc[:n]) in src.overridden:
                file, line = src.overridden[tuple(loc[:n])], None
                break
        problems.append(
            Problem(file, line, ".".join(map(str, loc)), breach.message, breach.allowed)
        )
    return problems


_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")


def _one_line(text: str | None) -> str | None:
    """``text`` with line breaks, control characters and lone surrogates escaped."""
    if text is None:
        return None
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def load_scenario(name_or_path: str, overrides: Sequence[str] = ()) -> Loaded:
    """Read, override and validate a scenario; raise :class:`ScenarioError` with every problem.

    Every problem is one line: line breaks and control characters in keys and values are
    shown escaped.
    """
    try:
        path = resolve_path(name_or_path)
        src = read_source(path)
        data = apply_overrides(src.data, overrides) if overrides else src.data
        for text in overrides:
            parts, _ = parse_override(text)
            src.overridden[tuple(int(p) if p.isdigit() else p for p in parts)] = f"--set {text}"
        scenario = validate_data(data, src)
    except ScenarioError as exc:
        raise ScenarioError(
            [
                Problem(
                    p.file,
                    p.line,
                    _one_line(p.path) or "",
                    _one_line(p.message) or "",
                    _one_line(p.allowed),
                )
                for p in exc.problems
            ]
        ) from None
    except RecursionError:
        raise ScenarioError(
            [Problem(str(name_or_path), None, "", "the document is nested too deeply to check")]
        ) from None
    return Loaded(scenario=scenario, file=str(path), hash=scenario_hash(scenario))


__all__ = [
    "SPECIAL_TARGETS",
    "Loaded",
    "Section",
    "apply_overrides",
    "builtin_names",
    "deep_merge",
    "load_scenario",
    "parse_yaml",
    "resolve_path",
    "scenario_hash",
]
