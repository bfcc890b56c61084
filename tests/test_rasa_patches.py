"""Rasa's internals are replaced by one explicit call, only on the Rasa they were measured against."""
import dataclasses
import inspect

import pytest

import components  # noqa: F401  (applies the replacements, as loading the model does)
from components import rasa_patches


def test_every_replacement_is_in_place():
    assert rasa_patches.applied() == list(rasa_patches.PATCHES)
    for patch in rasa_patches.PATCHES:
        assert inspect.getattr_static(patch.owner, patch.name) is patch.replacement, patch.target


def test_the_fingerprints_are_of_rasas_own_objects():
    assert rasa_patches.problems() == []
    for patch in rasa_patches.PATCHES:
        assert patch.original is not patch.replacement


def test_another_rasa_version_is_refused(monkeypatch):
    monkeypatch.setattr(rasa_patches, "_applied", [])
    found = rasa_patches.problems(version="3.6.22")
    assert found == ["Rasa 3.6.22 is installed; the replacements are for 3.6.21"]
    monkeypatch.setattr(rasa_patches.rasa, "__version__", "3.6.22")
    monkeypatch.setattr(rasa_patches, "problems", lambda patches: found)
    with pytest.raises(RuntimeError, match="Refusing to patch Rasa"):
        rasa_patches.apply()


def test_a_changed_rasa_function_is_refused(monkeypatch):
    changed = dataclasses.replace(rasa_patches.PATCHES[0], fingerprint="0" * 16)
    [problem] = rasa_patches.problems([changed])
    assert problem.startswith("RemoteAction._validate_action_result has changed")
    monkeypatch.setattr(rasa_patches, "_applied", [])
    monkeypatch.setattr(changed.owner, changed.name, changed.original)
    with pytest.raises(RuntimeError, match="has changed"):
        rasa_patches.apply([changed])
    assert inspect.getattr_static(changed.owner, changed.name) is changed.original  # nothing half-applied


def test_applying_twice_changes_nothing():
    before = [inspect.getattr_static(p.owner, p.name) for p in rasa_patches.PATCHES]
    rasa_patches.apply()
    assert [inspect.getattr_static(p.owner, p.name) for p in rasa_patches.PATCHES] == before
