"""The layout's rules: who may import whom, and build paths named alike wherever they are named."""
import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT, load_yaml

from botox_clinic import paths


def _imports(package: str):
    """(file, imported module) for every import in a package's Python files."""
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path.relative_to(ROOT).as_posix(), alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path.relative_to(ROOT).as_posix(), node.module


def _crossing(package: str, forbidden: tuple):
    return sorted((where, module) for where, module in _imports(package)
                  if module.split(".")[0] in forbidden or module in forbidden)


@pytest.mark.parametrize("package", ["components", "channels"])
def test_the_rasa_server_side_never_imports_the_action_server(package):
    assert _crossing(package, ("actions", "rasa_sdk")) == []


def test_the_core_imports_neither_rasa_nor_its_sdk_nor_the_packages_around_it():
    assert _crossing("botox_clinic", ("rasa", "rasa_sdk", "actions", "components", "channels", "commands")) == []


def test_actions_hold_only_rasa_sdk_actions():
    for path in sorted((ROOT / "actions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        assert classes, f"{path.name} defines no action"
        for node in classes:
            assert [ast.unparse(base) for base in node.bases] == ["Action"], f"{path.name}: {node.name}"


def test_the_boundary_check_sees_a_forbidden_import():
    # The checks above would pass on an empty walk; this one shows the walk finds an import.
    assert ("components/red_flag_detector.py", "botox_clinic.red_flags") in set(_imports("components"))


def test_build_paths_are_named_alike_in_the_makefile_config_and_dockerfiles():
    relative = {name: getattr(paths, name).relative_to(ROOT).as_posix()
                for name in ("SPACY_PIPELINE", "SPACY_PIPELINE_ES", "SENTENCE_ENCODER", "MULTILINGUAL_ENCODER")}
    makefile = (ROOT / "Makefile").read_text()
    for name, path in relative.items():
        assert re.search(rf"^{name} := {re.escape(path)}$", makefile, re.M), name
    steps = load_yaml(ROOT / "config.yml")["pipeline"]
    assert next(step for step in steps if step["name"] == "SpacyNLP")["model"] == relative["SPACY_PIPELINE"]
    featurizers = [step["model"] for step in steps
                   if step["name"] == "components.sentence_embedding_featurizer.SentenceEmbeddingFeaturizer"]
    assert featurizers == [directory.relative_to(ROOT).as_posix() for directory in paths.SENTENCE_ENCODERS]
    named = set(re.findall(r"build/(?:spacy|encoder)/[\w.-]+", (ROOT / "deploy/Dockerfile.rasa").read_text()))
    assert named == set(relative.values())


def test_the_readme_layout_table_names_every_top_level_folder():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):readme.index("### Where does X live?")]
    table = set(re.findall(r"^\| `([\w./-]+)`", layout, re.M))
    folders = {p.name + "/" for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")
               and p.name not in {"build", "models", "results", "var", "__pycache__"}}
    assert folders - {entry.split("/")[0] + "/" for entry in table} == set()
    assert {entry for entry in table if not (ROOT / entry.rstrip("/")).exists()} == set()


def test_the_records_database_accepts_its_old_variable(monkeypatch):
    from botox_clinic.settings import load_settings

    assert load_settings({"ESCALATION_DB_URL": "sqlite:///old.db"}).records_db_url == "sqlite:///old.db"
    assert load_settings({"ESCALATION_DB_URL": "sqlite:///old.db",
                          "RECORDS_DB_URL": "sqlite:///new.db"}).records_db_url == "sqlite:///new.db"
    assert Path(load_settings({}).records_db_url.removeprefix("sqlite:///")).parent == paths.VAR
