"""Explain, in plain words, how docs.yaml (the page) differs from reference.yaml (the official API).

Nothing here knows about videos: the report comes from walking both documents side by side
(endpoints, parameters, bodies, responses, headers, links, schemas) and, where an overlay action
changed that place, the action's `description` is printed as the reason.

Objects shared by several endpoints (named object components such as `VideoResource`) are
compared once, in their own section, so each difference is said once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.specgen.examples import HTTP_METHODS
from mockserver.specgen.overlay import AppliedAction, Path

NULL = "null"


@dataclass(frozen=True)
class Change:
    text: str
    path: Path  # where it is in the reference document, to find the overlay's reason
    # Where to look next when no overlay action touched `path`: a property that is a $ref to,
    # say, VideoStatus was not changed itself; the VideoStatus component was.
    fallback: Path | None = None


@dataclass
class _Section:
    title: str
    changes: list[Change] = field(default_factory=list)


def describe(
    docs: Mapping[str, Any],
    reference: Mapping[str, Any],
    applied: list[AppliedAction],
    docs_name: str = "docs.yaml",
    reference_name: str = "reference.yaml",
) -> str:
    walker = _Walker(docs, reference)
    sections = walker.endpoint_sections() + walker.object_sections()
    title = f"How the docs page ({docs_name}) differs from the reference contract ({reference_name})"
    lines = [title, "=" * len(title), ""]
    if not any(section.changes for section in sections):
        lines.append("No differences.")
    for section in sections:
        lines.append(section.title)
        if not section.changes:
            lines.append("  - no differences")
        for change in section.changes:
            lines.append(f"  - {change.text}")
            reasons = _reasons(change.path, applied) or (_reasons(change.fallback, applied) if change.fallback else [])
            lines.extend(f"      why: {reason}" for reason in reasons)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _reasons(path: Path, applied: list[AppliedAction]) -> list[str]:
    """The overlay actions that touched this place (or inside it), most specific first."""
    best: list[AppliedAction] = []
    best_score = 0
    for action in applied:
        for touched in action.touched:
            shorter = min(len(touched), len(path))
            if touched[:shorter] != path[:shorter] or shorter < 2:
                continue
            if shorter > best_score:
                best, best_score = [action], shorter
            elif shorter == best_score and action not in best:
                best.append(action)
    # A remove followed by an update is one change; the update's reason says what the value is now.
    updates = [a for a in best if a.kind == "update"]
    return list(dict.fromkeys(a.description for a in (updates or best)))


class _Walker:
    def __init__(self, docs: Mapping[str, Any], reference: Mapping[str, Any]) -> None:
        self.docs = docs
        self.reference = reference
        self.objects: dict[str, list[str]] = {}  # shared object name -> endpoints using it

    # -- endpoints --------------------------------------------------------------------------

    def endpoint_sections(self) -> list[_Section]:
        docs_ops, ref_ops = _operations(self.docs), _operations(self.reference)
        sections: list[_Section] = []
        for key in [*ref_ops, *(k for k in docs_ops if k not in ref_ops)]:
            method, path = key
            operation = ref_ops.get(key) or docs_ops[key]
            section = _Section(f"{method.upper()} {path} ({operation.get('operationId', '?')})")
            where: Path = ("paths", path, method)
            if key not in docs_ops:
                section.changes.append(Change(self._added_endpoint(operation), where))
            elif key not in ref_ops:
                section.changes.append(
                    Change("described by the docs page but not part of the official API; the reference drops it", where)
                )
            else:
                self._operation(section, docs_ops[key], ref_ops[key], where)
            sections.append(section)
        return sections

    def _added_endpoint(self, operation: Mapping[str, Any]) -> str:
        bodies = [
            f"{media} `{_ref_name(media_obj.get('schema', {})) or 'inline'}`"
            for media, media_obj in _resolve(self.reference, operation.get("requestBody", {}))
            .get("content", {})
            .items()
        ]
        ok = [status for status in operation.get("responses", {}) if status.startswith("2")]
        returns = []
        for status in ok:
            response = _resolve(self.reference, operation["responses"][status])
            returns += [_ref_name(m.get("schema", {})) or media for media, m in response.get("content", {}).items()]
        text = "not on the docs page; the reference adds it"
        if bodies:
            text += f" (takes {', '.join(bodies)}"
            text += f"; returns {', '.join(f'`{r}`' for r in returns)})" if returns else ")"
        elif returns:
            text += f" (returns {', '.join(f'`{r}`' for r in returns)})"
        errors = [s for s in operation.get("responses", {}) if not s.startswith("2")]
        if errors:
            text += f"; error responses {', '.join(errors)}"
        return text

    def _operation(self, section: _Section, docs_op: Mapping[str, Any], ref_op: Mapping[str, Any], where: Path) -> None:
        label = section.title.split(" (")[0]
        self._parameters(section, docs_op, ref_op, where)
        self._request_body(section, docs_op, ref_op, where, label)
        self._responses(section, docs_op, ref_op, where, label)
        if bool(docs_op.get("security")) != bool(ref_op.get("security")):
            state = "requires" if ref_op.get("security") else "no longer requires"
            section.changes.append(Change(f"{state} the bearer token", (*where, "security")))

    def _parameters(
        self, section: _Section, docs_op: Mapping[str, Any], ref_op: Mapping[str, Any], where: Path
    ) -> None:
        docs_params = {
            (p["in"], p["name"]): (i, p)
            for i, p in enumerate(_resolve(self.docs, p) for p in docs_op.get("parameters", []))
        }
        ref_params = {
            (p["in"], p["name"]): (i, p)
            for i, p in enumerate(_resolve(self.reference, p) for p in ref_op.get("parameters", []))
        }
        for key, (index, parameter) in ref_params.items():
            label = f"{key[0]} parameter `{key[1]}`"
            here: Path = (*where, "parameters", index)
            if key not in docs_params:
                section.changes.append(
                    Change(f"adds {label}: {self._phrase(self.reference, parameter.get('schema', {}))}", here)
                )
                continue
            _, old = docs_params[key]
            if bool(old.get("required")) != bool(parameter.get("required")):
                section.changes.append(
                    Change(f"{label} is now {'required' if parameter.get('required') else 'optional'}", here)
                )
            section.changes += self._schema(
                old.get("schema", {}), parameter.get("schema", {}), label, (*here, "schema")
            )
        for key in docs_params:
            if key not in ref_params:
                section.changes.append(Change(f"drops {key[0]} parameter `{key[1]}`", (*where, "parameters")))

    def _request_body(
        self, section: _Section, docs_op: Mapping[str, Any], ref_op: Mapping[str, Any], where: Path, endpoint: str
    ) -> None:
        old = _resolve(self.docs, docs_op.get("requestBody", {})).get("content", {})
        new = _resolve(self.reference, ref_op.get("requestBody", {})).get("content", {})
        here: Path = (*where, "requestBody", "content")
        for media, media_obj in new.items():
            if media not in old:
                name = _ref_name(media_obj.get("schema", {}))
                section.changes.append(
                    Change(f"request: also accepts {media}" + (f" (`{name}`)" if name else ""), (*here, media))
                )
                continue
            section.changes += self._schema(
                old[media].get("schema", {}),
                media_obj.get("schema", {}),
                f"request {media} body",
                (*here, media, "schema"),
                endpoint,
            )
            for field_name, encoding in media_obj.get("encoding", {}).items():
                if field_name not in old[media].get("encoding", {}) and "contentType" in encoding:
                    section.changes.append(
                        Change(
                            f"request {media} field `{field_name}` accepts files of type {encoding['contentType']}",
                            (*here, media, "encoding", field_name),
                        )
                    )
        for media in old:
            if media not in new:
                section.changes.append(Change(f"request: no longer accepts {media}", here))

    def _responses(
        self, section: _Section, docs_op: Mapping[str, Any], ref_op: Mapping[str, Any], where: Path, endpoint: str
    ) -> None:
        old_responses, new_responses = docs_op.get("responses", {}), ref_op.get("responses", {})
        for status, raw in new_responses.items():
            here: Path = (*where, "responses", status)
            new = _resolve(self.reference, raw)
            if status not in old_responses:
                section.changes.append(Change(self._added_response(status, raw, new), here))
                continue
            old = _resolve(self.docs, old_responses[status])
            label = f"response {status}"
            if name := _ref_name(raw):
                # A shared response (e.g. TooManyRequests) is changed by the overlay in components.
                here = ("components", "responses", name)
            self._response_content(section, old, new, label, here, endpoint)
            self._headers(section, old, new, label, here)
            for name, link in new.get("links", {}).items():
                if name not in old.get("links", {}):
                    section.changes.append(
                        Change(
                            f"{label} links to {link.get('operationId', name)} (with the new job's id)",
                            (*here, "links", name),
                        )
                    )
        for status in old_responses:
            if status not in new_responses:
                section.changes.append(Change(f"drops response {status}", (*where, "responses")))

    def _added_response(self, status: str, raw: Mapping[str, Any], response: Mapping[str, Any]) -> str:
        name = _ref_name(raw)
        text = f"adds response {status}" + (f" `{name}`" if name else "")
        codes = [
            example.get("value", {}).get("error", {}).get("code")
            for media in response.get("content", {}).values()
            for example in media.get("examples", {}).values()
            if isinstance(example.get("value"), Mapping) and isinstance(example["value"].get("error"), Mapping)
        ]
        if codes:
            text += f" (error code {', '.join(f'`{c}`' for c in codes if c)})"
        if response.get("headers"):
            text += f", with header {', '.join(response['headers'])}"
        return text

    def _response_content(
        self, section: _Section, old: Mapping[str, Any], new: Mapping[str, Any], label: str, here: Path, endpoint: str
    ) -> None:
        old_content, new_content = old.get("content", {}), new.get("content", {})
        for media, media_obj in new_content.items():
            if media not in old_content:
                section.changes.append(Change(f"{label} may also be {media}", (*here, "content", media)))
            else:
                section.changes += self._schema(
                    old_content[media].get("schema", {}),
                    media_obj.get("schema", {}),
                    f"{label} body",
                    (*here, "content", media, "schema"),
                    endpoint,
                )
        for media in old_content:
            if media not in new_content:
                section.changes.append(Change(f"{label} is no longer {media}", (*here, "content")))

    def _headers(
        self, section: _Section, old: Mapping[str, Any], new: Mapping[str, Any], label: str, here: Path
    ) -> None:
        old_headers, new_headers = old.get("headers", {}), new.get("headers", {})
        for name, header in new_headers.items():
            header = _resolve(self.reference, header)
            where: Path = (*here, "headers", name)
            if name not in old_headers:
                required = "required" if header.get("required") else "optional"
                phrase = self._phrase(self.reference, header.get("schema", {}))
                section.changes.append(
                    Change(
                        f"{label} adds {required} header {name}: {phrase}",
                        where,
                    )
                )
            else:
                section.changes += self._schema(
                    _resolve(self.docs, old_headers[name]).get("schema", {}),
                    header.get("schema", {}),
                    f"{label} header {name}",
                    (*where, "schema"),
                )

    # -- shared objects ---------------------------------------------------------------------

    def object_sections(self) -> list[_Section]:
        sections: list[_Section] = []
        done: set[str] = set()
        # Comparing an object can reveal further shared objects, so loop until none are new.
        while pending := [name for name in self.objects if name not in done]:
            for name in pending:
                done.add(name)
                users = ", ".join(dict.fromkeys(self.objects[name]))
                section = _Section(f"Object {name} (used by {users})")
                old = self.docs["components"]["schemas"][name]
                new = self.reference["components"]["schemas"][name]
                section.changes = self._schema(old, new, "", ("components", "schemas", name), name)
                if section.changes:
                    sections.append(section)
        return sections

    # -- schemas ----------------------------------------------------------------------------

    def _schema(
        self, old: Mapping[str, Any], new: Mapping[str, Any], label: str, here: Path, user: str = ""
    ) -> list[Change]:
        old_name, new_name = _ref_name(old), _ref_name(new)
        if old_name and old_name == new_name and self._is_shared_object(old_name):
            # Compared once in its own section (which is left out if nothing differs).
            self.objects.setdefault(old_name, []).append(user or label)
            return []
        component: Path | None = ("components", "schemas", new_name) if new_name else None
        old_s, new_s = self._resolve_schema(self.docs, old), self._resolve_schema(self.reference, new)
        changes: list[Change] = []
        name = (
            f"`{label}`"
            if label and not label.startswith(("request", "response", "query", "path", "header"))
            else label
        )
        own = self._shape(old_s, new_s, name, here) + self._bounds(old_s, new_s, name, here)
        changes += [Change(c.text, c.path, _under(component, c.path, here)) for c in own]
        changes += self._properties(old_s, new_s, label, here, user)
        if "items" in old_s and "items" in new_s:
            changes += self._schema(old_s["items"], new_s["items"], f"{label}[]", (*here, "items"), user)
        return changes

    def _shape(self, old: Mapping[str, Any], new: Mapping[str, Any], name: str, here: Path) -> list[Change]:
        changes: list[Change] = []
        old_types, new_types = _types(old), _types(new)
        old_null, new_null = NULL in old_types, NULL in new_types
        old_enum, new_enum = _enum(old), _enum(new)
        subject = name or "the value"
        if old_enum and new_enum and old_enum != new_enum:
            gone = [v for v in old_enum if v not in new_enum]
            came = [v for v in new_enum if v not in old_enum]
            if gone and came:
                changes.append(
                    Change(f"the docs say {subject} {_values(gone)}; the SDKs expect {_values(came)}", (*here, "enum"))
                )
            elif came:
                changes.append(Change(f"{subject} also allows {_values(came)}", (*here, "enum")))
            else:
                changes.append(Change(f"{subject} no longer allows {_values(gone)}", (*here, "enum")))
        elif new_enum and not old_enum:
            open_string = _is_open_string(new)
            kind = "any string; known values" if open_string else "allowed values"
            changes.append(Change(f"{subject}: {kind} are now {_values(new_enum)} (the docs give none)", here))
        elif old_enum and not new_enum and not _is_open_string(new):
            changes.append(Change(f"{subject} is no longer limited to {_values(old_enum)}", here))
        old_plain, new_plain = (
            self._phrase(self.docs, old, with_null=False, with_enum=False),
            self._phrase(self.reference, new, with_null=False, with_enum=False),
        )
        if old_plain != new_plain:
            changes.append(Change(f"{subject} changes from {old_plain} to {new_plain}", here))
        if new_null and not old_null:
            changes.append(Change(f"{subject} can now be null", here))
        elif old_null and not new_null:
            changes.append(Change(f"{subject} can no longer be null", here))
        if old.get("default") != new.get("default"):
            if "default" in new:
                changes.append(
                    Change(
                        f"{subject} defaults to {new['default']!r}"
                        + (
                            f" (the docs say {old['default']!r})" if "default" in old else " (the docs give no default)"
                        ),
                        here,
                    )
                )
            else:
                changes.append(Change(f"{subject} loses its default {old['default']!r}", here))
        return changes

    def _bounds(self, old: Mapping[str, Any], new: Mapping[str, Any], name: str, here: Path) -> list[Change]:
        changes: list[Change] = []
        for low, high, what in (
            ("minimum", "maximum", "range"),
            ("minLength", "maxLength", "length"),
            ("minProperties", "maxProperties", "number of fields"),
            ("minItems", "maxItems", "number of items"),
        ):
            before, after = (old.get(low), old.get(high)), (new.get(low), new.get(high))
            if before != after:
                was = f" (the docs say {_range(*before)})" if before != (None, None) else " (the docs give no limit)"
                changes.append(Change(f"{name or 'the value'}: {what} now {_range(*after)}{was}", here))
        if old.get("format") != new.get("format") and new.get("format") and new.get("format") != "binary":
            changes.append(Change(f"{name or 'the value'} must be a valid {new['format']}", here))
        return changes

    def _properties(
        self, old: Mapping[str, Any], new: Mapping[str, Any], label: str, here: Path, user: str
    ) -> list[Change]:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        if not old_props and not new_props:
            return []
        old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
        prefix = f"{label}." if label and not label.startswith(("request", "response")) else ""
        changes: list[Change] = []
        for prop, schema in new_props.items():
            where: Path = (*here, "properties", prop)
            name = f"`{prefix}{prop}`"
            if prop not in old_props:
                required = "required" if prop in new_req else "optional"
                changes.append(Change(f"adds {required} field {name}: {self._phrase(self.reference, schema)}", where))
                continue
            if prop in new_req and prop not in old_req:
                changes.append(Change(f"{name} is now required", (*here, "required")))
            elif prop in old_req and prop not in new_req:
                changes.append(Change(f"{name} is no longer required (kept as an optional field)", where))
            elif prop not in new_req and old_req != new_req:
                # Say so explicitly: other fields became required, this one deliberately did not.
                changes.append(Change(f"{name} stays optional", where))
            changes += self._schema(old_props[prop], schema, f"{prefix}{prop}", where, user)
        for prop in old_props:
            if prop not in new_props:
                changes.append(Change(f"drops field `{prefix}{prop}`", (*here, "properties")))
        return changes

    # -- helpers ----------------------------------------------------------------------------

    def _is_shared_object(self, name: str) -> bool:
        schema = self.reference.get("components", {}).get("schemas", {}).get(name, {})
        return "properties" in schema and name in self.docs.get("components", {}).get("schemas", {})

    def _resolve_schema(self, document: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
        """The schema with a top-level $ref replaced by its target (siblings like default win)."""
        if "$ref" not in schema:
            return dict(schema)
        target = self._resolve_schema(document, _resolve(document, {"$ref": schema["$ref"]}))
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}

    def _phrase(
        self, document: Mapping[str, Any], schema: Mapping[str, Any], with_null: bool = True, with_enum: bool = True
    ) -> str:
        """A short human description of a schema's shape: 'string or null', 'a file or `X`'."""
        name = _ref_name(schema)
        schema = self._resolve_schema(document, schema)
        branches = schema.get("oneOf") or schema.get("anyOf")
        if branches:
            if _is_open_string(schema):
                # "any string, known values ..." is still a string; the values are reported as an enum change
                words = ["any string" if with_enum else "string"]
            else:
                words = [
                    self._phrase(document, b, with_null=False, with_enum=with_enum)
                    for b in branches
                    if _types(self._resolve_schema(document, b)) != {NULL}
                ]
            text = " or ".join(dict.fromkeys(words))
        elif name and "properties" in schema:
            text = f"`{name}` object"
        else:
            types = [t for t in _type_list(schema) if t != NULL]
            text = (
                " or ".join("a file" if schema.get("format") == "binary" and t == "string" else t for t in types)
                or "anything"
            )
            if with_enum and _enum(schema):
                text = f"one of {_values(_enum(schema))}"
        if with_null and NULL in _types(schema):
            text += " or null"
        return text


# -- module helpers ---------------------------------------------------------------------------------


def _operations(document: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {
        (method, path): item[method]
        for path, item in document.get("paths", {}).items()
        for method in HTTP_METHODS
        if method in item
    }


def _resolve(document: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref") if isinstance(schema, Mapping) else None
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _type_list(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    return list(declared or [])


def _types(schema: Mapping[str, Any]) -> set[str]:
    types = set(_type_list(schema))
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        types |= set(_type_list(branch)) or {"object"}
    return types


def _enum(schema: Mapping[str, Any]) -> list[Any]:
    values = list(schema.get("enum", []))
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        values += [v for v in branch.get("enum", []) if v not in values]
    return values


def _is_open_string(schema: Mapping[str, Any]) -> bool:
    """anyOf [string, string-with-enum]: the official way to say "any string, these are known"."""
    branches = schema.get("anyOf", [])
    return any(b.get("type") == "string" and "enum" not in b for b in branches) and any("enum" in b for b in branches)


def _under(component: Path | None, path: Path, here: Path) -> Path | None:
    """`path` re-rooted at the component a $ref points to (the same spot, seen from there)."""
    if component is None:
        return None
    return (*component, *path[len(here) :])


def _values(values: list[Any]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _range(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f"at least {low}"
    if high is not None:
        return f"at most {high}"
    return "unlimited"
