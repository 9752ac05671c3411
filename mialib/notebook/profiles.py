"""Parameter profiles (params/<name>.yaml), checked whole before any notebook runs.

A profile has a ``common`` section, passed to every notebook that declares the name, and one
section per notebook. Unlike papermill, which only warns, the checks here refuse:

- a file that is missing, empty, not valid YAML (reported with file, line and column), or that
  repeats a key in one mapping (YAML would silently keep the last);
- a section naming no notebook, a name its notebook does not declare, a common name that no
  notebook declares;
- a value whose type differs from the one its notebook declares in the parameters cell (an int
  for ``n: int = 3``, a list of ints where the default is a list of ints, ...);
- a ``target`` or ``attacks`` mapping the library refuses (unknown settings, wrong types), via
  the same checks the notebooks run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from ..core import paths


class ParameterError(ValueError):
    """A profile is malformed, or names a parameter, notebook or section that does not exist,
    or gives a value of the wrong type."""


def notebook_paths(root: Path | None = None) -> list[Path]:
    """notebooks/NN_*.ipynb in reading order."""
    root = root or paths.repo_root()
    return sorted(p for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def profile_path(profile: str, root: Path | None = None) -> Path:
    """params/<profile>.yaml, or ``profile`` itself when it is a path to a YAML file."""
    root = root or paths.repo_root()
    p = Path(profile)
    if p.suffix in (".yaml", ".yml"):
        return p if p.is_absolute() else Path.cwd() / p
    return root / "params" / f"{profile}.yaml"


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key repeated within one mapping."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_profile(path: Path) -> dict:
    """The YAML profile as a dict of sections; ParameterError for a missing, empty or
    malformed file (with its line) or a repeated key."""
    if not path.is_file():
        known = sorted(q.stem for q in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        raise ParameterError(f"profile {path} not found; known profiles: {known}")
    try:
        doc = yaml.load(path.read_text(), Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParameterError(f"{where}: not a valid profile: {problem}") from None
    if not doc:
        raise ParameterError(f"{path} is empty: a profile needs at least a 'common' section "
                             "(an empty profile would silently run the notebooks' own defaults)")
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values() if v is not None):
        raise ParameterError(f"{path}: expected sections 'common' and '<notebook>' holding "
                             "name: value pairs")
    return {k: (v or {}) for k, v in doc.items()}


def declared_parameters(notebook: Path) -> dict:
    """The names papermill finds in the notebook's cell tagged ``parameters``, with their
    declared type and default (as papermill reports them)."""
    import papermill as pm

    params = pm.inspect_notebook(str(notebook))
    if not params:
        raise ParameterError(f"{notebook.name} has no cell tagged 'parameters'")
    return params


_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list, tuple),
          "dict": (dict,)}


def _kind(value) -> str:
    return type(value).__name__


def check_value(notebook: str, name: str, value, declared: dict) -> None:
    """ParameterError unless ``value`` has the type ``declared`` (papermill's record of the
    parameters cell) gives ``name``; list elements are checked against the default's elements."""
    type_name = declared.get("inferred_type_name", "None")
    if type_name not in _TYPES:
        return
    ok = isinstance(value, _TYPES[type_name]) and not (isinstance(value, bool) and type_name != "bool")
    if not ok:
        raise ParameterError(f"{notebook}: parameter {name} must be {type_name}, got {value!r} "
                             f"({_kind(value)})")
    if type_name == "list":
        try:
            default = ast.literal_eval(declared.get("default", "[]"))
        except (ValueError, SyntaxError):
            return
        kinds = {_kind(v) for v in default}
        if kinds == {"int"} and not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ParameterError(f"{notebook}: parameter {name} must be a list of integers, got {value!r}")
        if kinds <= {"int", "float"} and kinds and not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ParameterError(f"{notebook}: parameter {name} must be a list of numbers, got {value!r}")


def _library_checks() -> dict:
    """The library's own checks of the structured parameters, run before anything executes."""
    from ..attacks.registry import attack_settings
    from ..experiments.defences import DefenceParams
    from ..experiments.membership import TargetSpec

    return {"target": TargetSpec.from_params, "attacks": attack_settings, "defences": DefenceParams.from_overrides}


def plan(profile: dict, notebooks: list[Path], declared: dict[str, dict] | None = None) -> dict[str, dict]:
    """Notebook stem -> the parameters to inject, after checking every name in the profile
    is declared where it is used and every value has its declared type."""
    declared = declared or {nb.stem: declared_parameters(nb) for nb in notebooks}
    stems = [nb.stem for nb in notebooks]
    unknown_sections = sorted(set(profile) - {"common", *stems})
    if unknown_sections:
        raise ParameterError(f"profile sections {unknown_sections} name no notebook; notebooks: {stems}")
    common = profile.get("common", {})
    unused = sorted(k for k in common if not any(k in declared[s] for s in stems))
    if unused:
        raise ParameterError(f"common parameters {unused} are declared by no notebook")
    checks = _library_checks()
    out = {}
    for s in stems:
        own = profile.get(s, {})
        bad = sorted(k for k in own if k not in declared[s])
        if bad:
            raise ParameterError(f"{s}: unknown parameter(s) {bad}; the notebook declares "
                                 f"{sorted(declared[s])}")
        out[s] = {**{k: v for k, v in common.items() if k in declared[s]}, **own}
        for name, value in out[s].items():
            check_value(s, name, value, declared[s][name])
            if name in checks:
                try:
                    checks[name](value)
                except ValueError as exc:
                    raise ParameterError(f"{s}: parameter {name}: {exc}") from None
    return out
