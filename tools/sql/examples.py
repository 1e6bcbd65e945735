"""What the text-to-SQL graph learns from (the Vanna-style triplet): DDL, documentation, and
question/SQL example pairs, kept in a JSONL file that users can add to.

    >>> store = ExampleStore()                     # in memory; ExampleStore("examples.jsonl") persists
    >>> store.add_question_sql("how many cities are in texas", "SELECT COUNT(*) FROM city WHERE state_name = 'texas'")
    >>> store.add_question_sql("what is the area of ohio", "SELECT area FROM state WHERE state_name = 'ohio'")
    >>> [e.question for e, _ in store.get_similar_question_sql("how many cities are in ohio", k=1)]
    ['how many cities are in texas']

Similarity is TF-IDF over word 1-2-grams (scikit-learn) or the bundled MiniLM embeddings
(`similarity="embeddings"`); `python -m evals.text2sql --compare-retrieval` measures both. A
`normalize` function (e.g. `ValueIndex.mask`) can rewrite questions before comparing, so
"cities in texas" and "cities in ohio" look alike.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal

Kind = Literal["sql", "documentation", "ddl"]


@dataclass
class Example:
    kind: Kind
    text: str  # the question (sql), the note (documentation) or the DDL
    sql: str = ""

    @property
    def question(self) -> str:
        return self.text


class ExampleStore:
    """DDL, documentation and question/SQL pairs; `get_*` retrieves, `add_*` adds (and appends to the file)."""

    def __init__(self, path: str | Path | None = None, *, similarity: str = "tfidf",
                 normalize: Callable[[str], str] | None = None, embeddings: str = "local"):
        if similarity not in ("tfidf", "embeddings"):
            raise ValueError(f"similarity must be 'tfidf' or 'embeddings', not {similarity!r}.")
        self.path = Path(path) if path else None
        self.similarity = similarity
        self.normalize = normalize or (lambda text: text.lower())
        self.embeddings_spec = embeddings
        self.items: list[Example] = []
        self._index = None
        if self.path and self.path.is_file():
            for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
                if line.strip():
                    try:
                        self.items.append(Example(**json.loads(line)))
                    except (TypeError, json.JSONDecodeError) as err:
                        raise ValueError(f"{self.path}:{number} is not an example record ({err}). "
                                         "Each line must be {\"kind\": ..., \"text\": ..., \"sql\": ...}; fix or delete it.") from err

    # -- adding ------------------------------------------------------------------------
    def _add(self, example: Example) -> None:
        self.items.append(example)
        self._index = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(example)) + "\n")

    def add_question_sql(self, question: str, sql: str) -> None:
        self._add(Example("sql", question.strip(), sql.strip()))

    def add_documentation(self, text: str) -> None:
        self._add(Example("documentation", text.strip()))

    def add_ddl(self, ddl: str) -> None:
        self._add(Example("ddl", ddl.strip()))

    def extend(self, pairs) -> "ExampleStore":
        """Add many (question, sql) pairs in memory at once (no file writes): a benchmark's pool."""
        self.items.extend(Example("sql", q, s) for q, s in pairs)
        self._index = None
        return self

    # -- retrieving ---------------------------------------------------------------------
    def _fit(self):
        texts = [self.normalize(e.text) if e.kind == "sql" else e.text.lower() for e in self.items]
        if self.similarity == "tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[a-z0-9_]+")
            matrix = vectorizer.fit_transform(texts) if texts else None
            self._index = ("tfidf", vectorizer, matrix)
        else:
            import numpy as np

            from models import load_embeddings

            embedder = load_embeddings(self.embeddings_spec)
            matrix = np.asarray(embedder.embed_documents(texts), dtype="float32") if texts else None
            if matrix is not None:
                matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-9
            self._index = ("embeddings", embedder, matrix)
        return self._index

    def _scores(self, query: str):
        import numpy as np

        kind, model, matrix = self._index or self._fit()
        if matrix is None:
            return np.zeros(0)
        if kind == "tfidf":
            return (matrix @ model.transform([query]).T).toarray().ravel()
        vector = np.asarray(model.embed_query(query), dtype="float32")
        return matrix @ (vector / (np.linalg.norm(vector) + 1e-9))

    def _top(self, question: str, kind: Kind, k: int) -> list[tuple[Example, float]]:
        if k <= 0 or not self.items:
            return []
        scores = self._scores(self.normalize(question))
        ranked = sorted((i for i, e in enumerate(self.items) if e.kind == kind), key=lambda i: -scores[i])
        return [(self.items[i], float(scores[i])) for i in ranked[:k]]

    def get_similar_question_sql(self, question: str, k: int = 5) -> list[tuple[Example, float]]:
        return self._top(question, "sql", k)

    def get_related_documentation(self, question: str, k: int = 3) -> list[str]:
        return [e.text for e, score in self._top(question, "documentation", k) if score > 0]

    def get_related_ddl(self, question: str, k: int = 3) -> list[str]:
        return [e.text for e, score in self._top(question, "ddl", k) if score > 0]
