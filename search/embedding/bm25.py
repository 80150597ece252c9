"""BM25 text → sparse vectors, computed locally (docs/api.md#embeddings).

Text is lower-cased, split into words (Unicode letters and digits), English stop words are
dropped and the rest stemmed with the Snowball English stemmer. Each stem maps to a stable
index (a 29-bit BLAKE2 digest, so every process and host agrees without a vocabulary
file). A document's weight for a term is BM25's saturated, length-normalised frequency

    tf · (k₁ + 1) / (tf + k₁ · (1 − b + b · |D| / avgdl)),  k₁ = 1.2, b = 0.75, avgdl = 32

with |D| the document's length in kept tokens. IDF is not baked in: queries ask for it
with weightingStrategy IDF, computed from the namespace's live document frequencies. A
query's terms weigh 1 each (repeats do not add).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from functools import lru_cache

import snowballstemmer

from search.services.records import SparseValue

K1 = 1.2
B = 0.75
AVGDL = 32.0
INDEX_BITS = 29  # indices stay below 2**29, inside pgvector's sparsevec range (10**9)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# The classic English stop-word list (as in NLTK/Lucene), for term weights that mean something.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


def tokens(text: str) -> list[str]:
    words = [word for word in _WORD.findall(text.lower()) if word not in STOP_WORDS]
    return list(_stemmer().stemWords(words))


@lru_cache(maxsize=65536)
def term_index(term: str) -> int:
    digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - INDEX_BITS)


def _sparse(weights: dict[int, float]) -> SparseValue:
    indices = sorted(weights)
    return SparseValue(indices=indices, values=[weights[i] for i in indices])


def embed_document(text: str) -> SparseValue:
    terms = tokens(text)
    length = len(terms)
    weights: dict[int, float] = {}
    for term, tf in Counter(terms).items():
        weight = tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVGDL))
        index = term_index(term)
        weights[index] = weights.get(index, 0.0) + weight  # a digest collision sums
    return _sparse(weights)


def embed_query(text: str) -> SparseValue:
    return _sparse({term_index(term): 1.0 for term in set(tokens(text))})
