#!/usr/bin/env python3
"""The input and output tables of a Terraform module's README, generated from its code.

Reads every `variable` and `output` block of the module's .tf files (name, description,
type, default) and writes them as Markdown tables between these markers in README.md:

    <!-- BEGIN INPUTS --> ... <!-- END INPUTS -->
    <!-- BEGIN OUTPUTS --> ... <!-- END OUTPUTS -->

    python3 infra/terraform_docs.py terraform            # print what would change; exit 1 if anything
    python3 infra/terraform_docs.py terraform --write    # rewrite the README's tables

tests/terraform/test_module.py fails when a README and its module drift apart.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

BLOCK = re.compile(r'^(variable|output)\s+"([^"]+)"\s*\{', re.M)


def _skip(text: str, i: int) -> int:
    """The index just past the string, heredoc or comment starting at `i`, or `i` itself."""
    if text.startswith("<<", i):
        m = re.match(r"<<-?(\w+)\n", text[i:])
        if m:
            return re.compile(rf"^\s*{m.group(1)}\s*$", re.M).search(text, i + m.end()).end()
    if text[i] == '"':
        i += 1
        while text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return i + 1
    if text[i] == "#":
        return text.index("\n", i)
    return i


def _scan(text: str, start: int):
    """Each index from `start` that is code (not in a string, heredoc or comment), with the
    bracket depth there; stops after the bracket that closes the one open at `start`."""
    depth, i = 0, start
    while i < len(text):
        after = _skip(text, i)
        if after != i:
            i = after
            continue
        yield i, depth
        if text[i] in "{([":
            depth += 1
        elif text[i] in "})]":
            depth -= 1
            if depth < 0:
                return
        i += 1


def _block_body(text: str, start: int) -> str:
    """The text between the `{` at `start - 1` and its matching `}`."""
    end = start
    for end, _ in _scan(text, start):
        pass
    return text[start:end]


def _attribute(body: str, name: str) -> str | None:
    """The source text of a top-level attribute of a block body."""
    for i, depth in _scan(body, 0):
        if depth == 0 and (i == 0 or body[i - 1] == "\n"):
            m = re.match(rf"[ \t]*{name}\s*=\s*", body[i:])
            if m:
                return _value_text(body, i + m.end())
    return None


def _value_text(body: str, start: int) -> str:
    """An attribute's value: up to the end of its line, or of the brackets it opens."""
    after = _skip(body, start)
    if after != start and body.startswith("<<", start):
        return body[start:after]
    end = len(body)
    for i, depth in _scan(body, start):
        if depth == 0 and body[i] == "\n":
            end = i
            break
    return body[start:end].strip()


def _text(value: str | None) -> str:
    """A description's words, on one line: a quoted string or a heredoc."""
    if value is None:
        return ""
    m = re.match(r"<<-?(\w+)\n(.*)^\s*\1\s*$", value, re.S | re.M)
    if m:
        return " ".join(m.group(2).split())
    return value.strip()[1:-1].replace('\\"', '"')


def _type(value: str | None) -> str:
    """A type as the table shows it: scalars and lists whole, objects by their shape."""
    if value is None:
        return "any"
    flat = " ".join(value.split())
    return re.sub(r"object\(\{.*\}\)", "object", flat)


def _default(value: str | None) -> str:
    if value is None:
        return "required"
    flat = " ".join(value.split())
    return flat if len(flat) <= 80 else flat[:77] + "..."


def blocks(module: Path, kind: str) -> list[dict]:
    """Every block of `kind` in the module's .tf files, in file order (variables.tf, outputs.tf first)."""
    found = []
    files = sorted(module.glob("*.tf"), key=lambda p: (p.name not in ("variables.tf", "outputs.tf"), p.name))
    for path in files:
        text = path.read_text()
        for m in BLOCK.finditer(text):
            if m.group(1) != kind:
                continue
            body = _block_body(text, m.end())
            found.append({
                "name": m.group(2),
                "description": _text(_attribute(body, "description")),
                "type": _type(_attribute(body, "type")),
                "default": _default(_attribute(body, "default")),
            })
    return found


def tables(module: Path) -> dict[str, str]:
    cell = lambda s: s.replace("|", "\\|")  # noqa: E731
    inputs = ["| name | description | type | default |", "| --- | --- | --- | --- |"]
    for v in blocks(module, "variable"):
        default = v["default"] if v["default"] == "required" else f"`{v['default']}`"
        inputs.append(f"| `{v['name']}` | {cell(v['description'])} | `{cell(v['type'])}` | {cell(default)} |")
    outputs = ["| name | description |", "| --- | --- |"]
    for o in blocks(module, "output"):
        outputs.append(f"| `{o['name']}` | {cell(o['description'])} |")
    return {"INPUTS": "\n".join(inputs), "OUTPUTS": "\n".join(outputs)}


def rendered(module: Path) -> tuple[str, str]:
    """The README as it is, and as it should be."""
    readme = (module / "README.md").read_text()
    wanted = readme
    for marker, table in tables(module).items():
        pattern = re.compile(rf"(<!-- BEGIN {marker} -->\n)(?:.*?\n)?(<!-- END {marker} -->)", re.S)
        if not pattern.search(wanted):
            raise SystemExit(f"{module}/README.md has no <!-- BEGIN {marker} --> ... <!-- END {marker} --> markers")
        wanted = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), wanted)
    return readme, wanted


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        raise SystemExit(__doc__)
    module = Path(args[0])
    current, wanted = rendered(module)
    if "--write" in sys.argv:
        (module / "README.md").write_text(wanted)
    elif current != wanted:
        print(f"{module}/README.md's tables differ from the code: run python3 infra/terraform_docs.py {module} --write")
        sys.exit(1)


if __name__ == "__main__":
    main()
