"""The toy corpus (seeded, grouped by shared contexts) and its word-level tokenizer."""

import numpy as np
import pytest

from keraskit.course.data import WORD_GROUPS, build_vocabulary, decode, encode, tokenize, toy_corpus
from keraskit.course.data.corpus import PAD, PAD_ID, UNK, UNK_ID


def context_counts(sentences, words, window=2):
    """For each word, how often every vocabulary word stands within `window` of it (NumPy only)."""
    vocabulary = sorted({word for sentence in sentences for word in sentence.split()})
    column = {word: index for index, word in enumerate(vocabulary)}
    counts = np.zeros((len(words), len(vocabulary)))
    row = {word: index for index, word in enumerate(words)}
    for sentence in sentences:
        tokens = sentence.split()
        for i, word in enumerate(tokens):
            if word in row:
                for j in range(max(0, i - window), min(len(tokens), i + window + 1)):
                    if j != i:
                        counts[row[word], column[tokens[j]]] += 1
    return counts


def test_the_same_seed_gives_the_same_corpus_and_another_seed_a_different_one():
    assert toy_corpus(200, seed=3) == toy_corpus(200, seed=3)
    assert toy_corpus(200, seed=3) != toy_corpus(200, seed=4)
    assert len(toy_corpus(1)) == 1 and len(toy_corpus(1234)) == 1234


def test_sentences_are_lowercase_words_and_every_group_word_occurs():
    sentences = toy_corpus(2000, seed=0)
    assert all(sentence == " ".join(tokenize(sentence)) for sentence in sentences)
    seen = {word for sentence in sentences for word in sentence.split()}
    missing = {word for words in WORD_GROUPS.values() for word in words} - seen
    assert not missing, f"group words never generated in 2000 sentences: {sorted(missing)}"


def test_words_of_one_group_share_their_contexts():
    """Count-based check of what embeddings will learn: each word's nearest word is in its group."""
    sentences = toy_corpus(5000, seed=0)
    words = [word for group in WORD_GROUPS.values() for word in group]
    group_of = {word: name for name, group in WORD_GROUPS.items() for word in group}
    counts = context_counts(sentences, words)
    unit = counts / np.linalg.norm(counts, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -1.0)
    for index, word in enumerate(words):
        nearest = words[int(np.argmax(similarity[index]))]
        assert group_of[nearest] == group_of[word], f"{word}: nearest by context is {nearest}"
    cat, dog, car = (words.index(word) for word in ("cat", "dog", "car"))
    assert similarity[cat, dog] > similarity[cat, car] + 0.3, (similarity[cat, dog], similarity[cat, car])


def test_vocabulary_reserves_padding_and_unknown_and_sorts_by_frequency():
    vocabulary = build_vocabulary(["b a a", "c a b", "d"])
    assert vocabulary[PAD_ID] == PAD == "<pad>" and vocabulary[UNK_ID] == UNK == "<unk>"
    assert vocabulary == ["<pad>", "<unk>", "a", "b", "c", "d"]  # a: 3, b: 2, then c, d alphabetically
    assert build_vocabulary(["b a a", "c a b", "d"], min_count=2) == ["<pad>", "<unk>", "a", "b"]


def test_encode_then_decode_gives_back_the_sentences():
    sentences = toy_corpus(300, seed=1)
    vocabulary = build_vocabulary(sentences)
    ids = encode(sentences, vocabulary)
    assert all(PAD_ID not in row and UNK_ID not in row for row in ids)
    assert [decode(row, vocabulary) for row in ids] == sentences


def test_encode_pads_with_zero_cuts_long_sentences_and_marks_unknown_words():
    vocabulary = build_vocabulary(["the cat sat", "the dog"])
    padded = encode(["the dog sat", "a dog", "the cat sat the dog sat"], vocabulary, sequence_length=4)
    assert padded.dtype == np.int32 and padded.shape == (3, 4)
    np.testing.assert_array_equal(padded, [[2, 4, 5, 0], [1, 4, 0, 0], [2, 3, 5, 2]])
    assert decode(padded[1], vocabulary) == "<unk> dog"


def test_bad_inputs_raise_errors_that_say_what_to_do():
    with pytest.raises(ValueError, match=r"num_sentences.*Received: 0"):
        toy_corpus(0)
    with pytest.raises(ValueError, match=r"Wrap it in a list"):
        encode("the cat", ["<pad>", "<unk>", "the", "cat"])
    with pytest.raises(ValueError, match=r"Wrap it in a list"):
        build_vocabulary("the cat")
