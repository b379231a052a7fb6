"""Embedding batches group texts of similar length (less padding), and the vectors still come back
in the texts' order."""

from apps.rag.embedding import embed_texts, embedder_for
from tests.rag.conftest import openai_database

TEXTS = ["a short one", "a much longer text about the vacation policy of every team", "mid sized text here", "x"]


def test_batches_are_made_longest_first_and_vectors_return_in_the_texts_order(fake_embedder):
    embedder = embedder_for(openai_database(fake_embedder, batch_size=2))
    done: list[int] = []

    vectors = embed_texts(embedder, TEXTS, on_batch=done.append)

    sent = [request.json["input"] for request in fake_embedder.requests_to("/v1/embeddings")]
    assert sent == [[TEXTS[1], TEXTS[2]], [TEXTS[0], TEXTS[3]]]
    assert done == [2, 4]
    alone = [embed_texts(embedder, [text])[0] for text in TEXTS]
    assert vectors == alone
