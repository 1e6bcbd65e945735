"""The static query encoder (models/static_query.py), its spec option, and the pair / text mining
of the embedding labs (training/query_distill.py, training/embedding_adapt.py)."""

import json

import numpy as np
import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from models import ModelSpecError, load_embeddings
from models.embeddings import QueryDistilledEmbeddings
from models.static_query import StaticQueryEncoder
from training.embedding_adapt import mine_pairs, read_documents
from training.query_distill import training_texts

VOCAB = {"[UNK]": 0, "wing": 1, "flutter": 2, "the": 3, "heat": 4}


def word_tokenizer(tmp_path):
    tokenizer = Tokenizer(WordLevel(VOCAB, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return tokenizer, path


def encoder(tmp_path, weights=(0.0, 1.0, 1.0, 0.01, 1.0)):
    tokenizer, path = word_tokenizer(tmp_path)
    vectors = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=np.float32)
    return StaticQueryEncoder(tokenizer, vectors, np.array(weights, dtype=np.float32)), path


def test_encode_is_the_normalised_weighted_sum_of_token_vectors(tmp_path):
    enc, _ = encoder(tmp_path)
    wing, both, with_stopword = enc.encode(["wing", "wing flutter", "the wing"])
    assert wing == pytest.approx([1, 0, 0])
    assert both == pytest.approx([2 ** -0.5, 2 ** -0.5, 0])
    assert np.linalg.norm(with_stopword) == pytest.approx(1.0)
    assert with_stopword[0] > 0.99  # 'the' weighs 0.01: it barely moves the vector


def test_empty_and_unknown_queries_give_zero_vectors_not_nan(tmp_path):
    enc, _ = encoder(tmp_path)
    vectors = enc.encode(["", "zzz"])
    assert not np.isnan(vectors).any() and np.abs(vectors).sum() == 0


def test_save_and_load_round_trip(tmp_path):
    enc, tokenizer_file = encoder(tmp_path)
    folder = enc.save(tmp_path / "student", tokenizer_file)
    loaded = StaticQueryEncoder.load(folder)
    assert loaded.encode(["heat flutter"]) == pytest.approx(enc.encode(["heat flutter"]), abs=1e-3)


def test_loading_a_folder_without_a_student_names_the_trainer(tmp_path):
    with pytest.raises(FileNotFoundError, match="training.query_distill"):
        StaticQueryEncoder.load(tmp_path)


class RecordingTeacher:
    dimension = 3

    def __init__(self):
        self.documents = []

    def embed_documents(self, texts, **kwargs):
        self.documents += texts
        return [[1.0, 0.0, 0.0] for _ in texts]

    def embed_query(self, text):
        raise AssertionError("queries must go through the student")


def test_distilled_embeddings_send_documents_to_the_teacher_and_queries_to_the_student(tmp_path):
    enc, tokenizer_file = encoder(tmp_path)
    folder = enc.save(tmp_path / "student", tokenizer_file)
    teacher = RecordingTeacher()
    embeddings = QueryDistilledEmbeddings(teacher=teacher, student_folder=str(folder))
    assert embeddings.embed_documents(["a document"]) == [[1.0, 0.0, 0.0]] and teacher.documents == ["a document"]
    assert embeddings.embed_query("flutter") == pytest.approx([0.0, 1.0, 0.0])
    assert embeddings.dimension == 3


def test_evidence_sentences_are_chosen_with_the_full_model(tmp_path):
    from rag.evidence import select_evidence
    from rag.store import ScoredChunk

    class Teacher(RecordingTeacher):
        def embed_documents(self, texts, **kwargs):
            return [[1.0, 0.0, 0.0] if "25 days" in t else [0.0, 1.0, 0.0] for t in texts]

        def embed_query(self, text):
            return [1.0, 0.0, 0.0]

    enc, tokenizer_file = encoder(tmp_path)
    folder = enc.save(tmp_path / "student", tokenizer_file)
    embeddings = QueryDistilledEmbeddings(teacher=Teacher(), student_folder=str(folder))
    chunk = ScoredChunk(text="Leave is booked in the portal. Employees get 25 days a year.", source="a.md",
                        chunk_index=0, score=1.0)
    # the student would embed the question 'flutter' as [0, 1, 0] and pick the portal sentence
    best = select_evidence("flutter", [chunk], embeddings, limit=1)[0]
    assert "25 days" in best.sentence


def test_a_student_of_another_width_is_refused(tmp_path):
    enc, tokenizer_file = encoder(tmp_path)
    folder = enc.save(tmp_path / "student", tokenizer_file)
    teacher = RecordingTeacher()
    teacher.dimension = 384
    with pytest.raises(ValueError, match="same model"):
        QueryDistilledEmbeddings(teacher=teacher, student_folder=str(folder)).dimension


def test_spec_option_checks_the_folder_before_loading_anything(tmp_path):
    with pytest.raises(ModelSpecError, match="training.query_distill"):
        load_embeddings(f"local?query_encoder={tmp_path}")


def test_training_texts_are_query_sized_and_unique():
    body = "Flutter of thin wings was measured in the tunnel. It grows quickly with speed. " * 3
    texts = training_texts([("Wing flutter", body)], windows_per_doc=5, seed=1)
    assert texts.count("It grows quickly with speed.") == 1
    assert "Wing flutter" in texts
    assert all(1 <= len(t.split()) <= 20 for t in texts)


def test_mine_pairs_gives_title_and_cloze_pairs():
    body = "Thin wings lift well. They stall early at low speed. Flaps delay the stall a lot."
    pairs = mine_pairs([("Lift of thin wings", body), ("", "Too short.")], cloze_pairs_per_doc=1, seed=3)
    assert pairs[0] == ("Lift of thin wings", body)
    sentence, rest = pairs[1]
    assert sentence in body and sentence not in rest and len(pairs) == 2


def test_read_documents_strips_a_repeated_title_and_reports_bad_lines(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"_id": "1", "title": "wing flutter", "text": "wing flutter . it grows."}) + "\n")
    assert read_documents(corpus) == [("wing flutter", "it grows.")]
    corpus.write_text("{not json\n")
    with pytest.raises(ValueError, match="corpus.jsonl:1"):
        read_documents(corpus)
    with pytest.raises(FileNotFoundError, match="BEIR corpus.jsonl"):
        read_documents(tmp_path / "missing")


def test_read_documents_from_a_markdown_folder_uses_headings_as_titles(tmp_path):
    (tmp_path / "leave.md").write_text("# Annual leave\nEmployees get 25 days.\n")
    (tmp_path / "empty.md").write_text("")
    assert read_documents(tmp_path) == [("Annual leave", "Employees get 25 days.")]


def test_a_student_distilled_from_another_model_is_refused(tmp_path):
    from models.static_query import model_fingerprint

    teacher_folder, other_folder = tmp_path / "teacher", tmp_path / "other"
    for folder, content in ((teacher_folder, b"weights A"), (other_folder, b"weights B")):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(content)
    tokenizer, tokenizer_file = word_tokenizer(tmp_path)
    vectors = np.eye(5, 3, dtype=np.float32)
    StaticQueryEncoder(tokenizer, vectors, np.ones(5, dtype=np.float32),
                       {"teacher_fingerprint": model_fingerprint(teacher_folder)}).save(tmp_path / "s", tokenizer_file)

    class FolderTeacher(RecordingTeacher):
        def __init__(self, folder):
            super().__init__()
            self.folder = str(folder)

    ok = QueryDistilledEmbeddings(teacher=FolderTeacher(teacher_folder), student_folder=str(tmp_path / "s"))
    assert len(ok.embed_query("wing")) == 3
    wrong = QueryDistilledEmbeddings(teacher=FolderTeacher(other_folder), student_folder=str(tmp_path / "s"))
    with pytest.raises(ValueError, match="distilled from another model"):
        wrong.embed_query("wing")
