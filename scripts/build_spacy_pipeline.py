"""Build the project's spaCy pipeline: a blank English tokenizer plus a lookup lemmatizer.

No model download is possible here, so the pipeline is made from spacy.blank("en") and the
lemma tables of spacy-lookups-data, then saved to disk (the tables travel inside it).

usage: python scripts/build_spacy_pipeline.py OUTPUT_DIR
"""
import sys
from pathlib import Path

import spacy


def build(output_dir: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lemma_lookup table from spacy-lookups-data
    nlp.meta["name"] = "botox_lookup"
    nlp.meta["description"] = "Blank English tokenizer with a lookup lemmatizer (no vectors)."
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output_dir)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build(Path(sys.argv[1]))
