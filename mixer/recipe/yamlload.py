"""A strict YAML loader for recipes: remembers where each key came from, refuses what YAML lets slip.

PyYAML's safe loader silently keeps the last of two duplicate keys and expands anchors without bound (a
few lines of aliases can expand to gigabytes). A recipe is small and hand-written, so both are refused
with the line they occur on. Every mapping key and sequence item is recorded with its line, so
validation errors can point at the line as well as the key path.
"""

from __future__ import annotations

from typing import Any

import yaml

# Far above any real recipe, far below what an alias bomb needs to hurt.
MAX_NODES = 200_000

KeyPath = tuple[str | int, ...]


class YamlError(ValueError):
    """The text is not a loadable recipe document; the message names the line."""


def format_path(path: KeyPath) -> str:
    """``("sources", "web", "paths", 0)`` → ``sources.web.paths[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


class _Builder:
    def __init__(self, source: str, loader: yaml.SafeLoader):
        self.source = source
        self._loader = loader  # constructs scalars only; aliases are expanded (and counted) here
        self.lines: dict[KeyPath, int] = {}
        self.nodes = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError(
                f"{self.source}: the document expands to more than {MAX_NODES} values "
                f"(anchors/aliases repeated exponentially?); write the recipe out without nested aliases"
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise YamlError(
                        f"{self.source}, line {key_node.start_mark.line + 1}: merge keys (<<) are not supported"
                    )
                key = self._loader.construct_object(key_node)  # type: ignore[arg-type]
                if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                    raise YamlError(
                        f"{self.source}, line {key_node.start_mark.line + 1}: keys must be plain names"
                    )
                key = str(key)
                if key in out:
                    first = self.lines.get((*path, key), "?")
                    raise YamlError(
                        f"{self.source}, line {key_node.start_mark.line + 1}: duplicate key "
                        f"'{format_path((*path, key))}' (first defined on line {first}); keep one of them"
                    )
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._loader.construct_object(node)  # type: ignore[arg-type]


def load_yaml(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse one YAML document; return the plain data and a map from key path to line number."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise YamlError(f"{source}{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if node is None:
        return None, {}
    builder = _Builder(source, loader)
    return builder.build(node, ()), builder.lines
