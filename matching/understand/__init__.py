"""Problem understanding: validating and preparing problems, the bilingual lexicon of needs, and the evidence
that a text states a need at all."""
