"""Build one of the project's spaCy pipelines: a blank tokenizer plus a lookup lemmatizer.

No model download is possible here, so a pipeline is made from spacy.blank(LANGUAGE) and the
lemma tables of spacy-lookups-data, then saved to disk (the tables travel inside it). English
(`en`) is the NLU pipeline's and the English red-flag rules'; Spanish (`es`) the Spanish rules'.
Spanish is often typed without accents ("parpado", "desmaye"), so its lemma table also maps each
form without its accents to the same lemma, where that is unambiguous.

usage: python -m scripts.build_spacy_pipeline OUTPUT_DIR [LANGUAGE]
"""
import sys
from collections import defaultdict
from pathlib import Path

import spacy
import spacy_lookups_data
import srsly

from botox_clinic.language import fold_accents


def add_unaccented_forms(nlp, language: str) -> int:
    """Add "parpado" -> "párpado" for every accented form whose unaccented spelling is not a word
    of its own and stands for one lemma only; returns how many were added."""
    # The pipeline's table keeps only hashes of its keys: read the forms from the package's file.
    source = Path(spacy_lookups_data.__file__).parent / "data" / f"{language}_lemma_lookup.json.gz"
    forms = srsly.read_gzip_json(source)
    table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
    lemmas = defaultdict(set)
    for form, lemma in forms.items():
        folded = fold_accents(form)
        if folded != form:
            lemmas[folded].add(lemma)
    added = 0
    for folded, candidates in lemmas.items():
        if len(candidates) == 1 and folded not in forms:
            table.set(folded, candidates.pop())
            added += 1
    return added


def build(output_dir: Path, language: str) -> None:
    nlp = spacy.blank(language)
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lemma_lookup table from spacy-lookups-data
    if language == "es":
        add_unaccented_forms(nlp, language)
    nlp.meta["name"] = "botox_lookup"
    nlp.meta["description"] = f"Blank {language} tokenizer with a lookup lemmatizer (no vectors)."
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output_dir)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    build(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) == 3 else "en")
