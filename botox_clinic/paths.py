"""Where the project's files are: data the clinic reviews, build outputs, local databases.

The Makefile and config.yml name the build outputs too (make needs them as targets, Rasa's config
takes no code); tests/test_layout.py checks that they name the same places as this module.
"""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

CLINIC_SETTINGS = PROJECT_ROOT / "clinic/settings.yml"
RED_FLAG_RULES = PROJECT_ROOT / "clinic/red_flags.yml"
LANGUAGE_REQUESTS = PROJECT_ROOT / "clinic/languages.yml"
SMS_KEYWORDS = PROJECT_ROOT / "clinic/sms_keywords.yml"
MESSAGES = PROJECT_ROOT / "content/messages.yml"
QUESTION_PARTS = PROJECT_ROOT / "content/question_parts.yml"
SPACY_PIPELINE = PROJECT_ROOT / "build/spacy/en_botox_lookup"
SPACY_PIPELINE_ES = PROJECT_ROOT / "build/spacy/es_botox_lookup"
SENTENCE_ENCODER = PROJECT_ROOT / "build/encoder/all-MiniLM-L6-v2"
MULTILINGUAL_ENCODER = PROJECT_ROOT / "build/encoder/use-multilingual-v3"
# The sentence encoders config.yml's featurizers run, in their order: the learned red-flag detector
# is fitted on their embeddings side by side, as the running pipeline gives them.
SENTENCE_ENCODERS = (SENTENCE_ENCODER, MULTILINGUAL_ENCODER)
# The learned red-flag detector, built from the red-flag corpus by scripts/build_red_flag_model.py.
RED_FLAG_MODEL = PROJECT_ROOT / "build/red_flag_model"
RED_FLAG_CORPUS = PROJECT_ROOT / "corpora/red_flags"
# Local databases and other state of the embedded defaults (`make run`).
VAR = PROJECT_ROOT / "var"


def resolve(value: str) -> Path:
    """A path from configuration: absolute as given, relative to the project root otherwise."""
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


def default_records_file() -> Path:
    """The embedded records database; an installation that began before the rename keeps its file
    (it holds opt-outs, which must never be lost)."""
    earlier = VAR / "escalations.db"
    return earlier if earlier.exists() else VAR / "records.db"
