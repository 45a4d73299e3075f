"""The offline sentiment reviews, the IMDB loader's offline error, and the text classifier."""

import re

import keras
import numpy as np
import pytest
from conftest import to_numpy

from keraskit.course.data import DatasetUnavailableError, build_vocabulary, encode
from keraskit.course.data.sentiment import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    load_imdb,
    opinion_pairs,
    review_splits,
    synthetic_reviews,
)
from keraskit.models.text import text_classifier


def test_reviews_are_reproducible_from_the_seed():
    texts, labels = synthetic_reviews(200, seed=3)
    again_texts, again_labels = synthetic_reviews(200, seed=3)
    assert texts == again_texts
    np.testing.assert_array_equal(labels, again_labels)
    assert synthetic_reviews(200, seed=4)[0] != texts


def test_labels_are_balanced_and_lengths_vary():
    texts, labels = synthetic_reviews(1000, seed=0)
    assert labels.dtype == np.int32 and set(labels.tolist()) == {0, 1}
    assert labels.sum() == 500
    lengths = {len(text.split()) for text in texts}
    assert min(lengths) <= 5 and max(lengths) >= 20  # padding matters


def test_negation_flips_the_label():
    texts, labels = synthetic_reviews(3000, seed=1)
    positive = "|".join(POSITIVE_WORDS)
    negative = "|".join(NEGATIVE_WORDS)
    cases = {
        rf"\b(is|was) not ({positive})$|\b(is|was) not ({positive}) ": 0,  # "not good": negative
        rf"\b(is|was) not ({negative})$|\b(is|was) not ({negative}) ": 1,  # "not bad": positive
        r"\bi did not (like|love|enjoy) it\b": 0,
        r"\bi did not (hate|dislike) it\b": 1,
        rf"\b(is|was) ({positive})\b": 1,
        rf"\b(is|was) ({negative})\b": 0,
    }
    for pattern, expected in cases.items():
        found = [label for text, label in zip(texts, labels, strict=True) if re.search(pattern, text)]
        assert len(found) > 20, pattern
        assert set(found) == {expected}, pattern


def test_reviews_reject_bad_arguments():
    with pytest.raises(ValueError, match="`n`"):
        synthetic_reviews(0)
    with pytest.raises(ValueError, match="negation_rate"):
        synthetic_reviews(10, negation_rate=1.5)


# Read back from a text, independently of the generator: "the plot was not dull" -> ("plot", "dull").
SUBJECTS = ("movie", "film", "plot", "acting", "story", "cast", "ending", "music", "script", "dialogue")
OPINION = re.compile(
    rf"\bthe ({'|'.join(SUBJECTS)}) (?:is|was) (?:(\w+) )?({'|'.join(POSITIVE_WORDS + NEGATIVE_WORDS)})\b"
)


def pairs_in(texts):
    """The (subject, opinion word) pairs said in `texts`, one list per text."""
    return [[(m.group(1), m.group(3)) for m in OPINION.finditer(text)] for text in texts]


def test_review_splits_share_no_text():
    for seed in (0, 1):
        splits = review_splits(3000, 800, 800, seed=seed)
        texts = {split: set(splits[split][0]) for split in ("train", "validation", "test")}
        assert not texts["train"] & texts["test"], "a test review is also a training review"
        assert not texts["train"] & texts["validation"], "a validation review is also a training review"
        assert not texts["validation"] & texts["test"], "a test review is also a validation review"
    # The random split it replaces does repeat reviews: the problem is real.
    texts, _ = synthetic_reviews(3800, seed=0)
    assert set(texts[:3000]) & set(texts[3000:])


def test_held_out_pairs_never_appear_in_training():
    splits = review_splits(3000, 800, 800, seed=0)
    found = {split: pairs_in(splits[split][0]) for split in ("train", "validation", "test")}
    for split in ("validation", "test"):
        # Every held-out review has exactly one "the <subject> is <word>" opinion...
        assert all(len(pairs) == 1 for pairs in found[split]), split
    train_pairs = {pair for pairs in found["train"] for pair in pairs}
    val_pairs = {pairs[0] for pairs in found["validation"]}
    test_pairs = {pairs[0] for pairs in found["test"]}
    # ... whose pair no training review says, and which is one the split was dealt.
    assert not train_pairs & test_pairs and not train_pairs & val_pairs and not val_pairs & test_pairs
    dealt = opinion_pairs(seed=0)
    assert test_pairs <= set(dealt["test"]) and val_pairs <= set(dealt["validation"])
    assert train_pairs <= set(dealt["train"])
    # New combinations of known words: every subject and word of the test is in training.
    assert {s for s, _ in test_pairs} <= {s for s, _ in train_pairs}
    assert {w for _, w in test_pairs} <= {w for _, w in train_pairs}
    # Training also has the opinions without a subject ("i loved it"), the held-out splits do not.
    assert sum(not pairs for pairs in found["train"]) > 500
    assert not any(
        re.search(r"\bi (did not \w+|liked|loved|enjoyed|hated|disliked) it\b", text)
        for text in splits["test"][0]
    )


def test_opinion_pairs_deal_every_pair_once_like_a_latin_square():
    dealt = opinion_pairs(seed=3)
    everything = [pair for split in ("train", "validation", "test") for pair in dealt[split]]
    assert len(everything) == len(set(everything)) == len(SUBJECTS) * 20
    for split, share in (("train", 6), ("validation", 2), ("test", 2)):
        for word in POSITIVE_WORDS + NEGATIVE_WORDS:
            assert sum(w == word for _, w in dealt[split]) == share, (split, word)
        for subject in SUBJECTS:
            assert sum(s == subject for s, _ in dealt[split]) == 2 * share, (split, subject)
    assert opinion_pairs(seed=4) != dealt


def test_review_splits_labels_are_balanced_and_follow_the_words():
    splits = review_splits(1000, 300, 300, seed=2)
    for split in ("train", "validation", "test"):
        texts, labels = splits[split]
        assert labels.dtype == np.int32 and labels.sum() == len(labels) // 2, split
        for text, label, pairs in zip(texts, labels, pairs_in(texts), strict=True):
            if not pairs:  # "i loved it", "i did not like it"
                continue
            (match,) = list(OPINION.finditer(text))
            positive = match.group(3) in POSITIVE_WORDS
            assert label == (positive != (match.group(2) == "not")), text
        negated = np.mean([" not " in f" {t} ".replace("had not read", "") for t in texts])
        assert 0.3 < negated < 0.5, (split, negated)  # negation_rate=0.4


def test_review_splits_are_reproducible_from_the_seed():
    first = review_splits(300, 100, 100, seed=5)
    again = review_splits(300, 100, 100, seed=5)
    for split in ("train", "validation", "test"):
        assert first[split][0] == again[split][0]
        np.testing.assert_array_equal(first[split][1], again[split][1])
    assert review_splits(300, 100, 100, seed=6)["test"][0] != first["test"][0]
    # Each split has its own stream: a larger test set leaves training as it was.
    assert review_splits(300, 100, 400, seed=5)["train"][0] == first["train"][0]


def test_review_splits_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"`num_test` expected an integer >= 1, received num_test=0"):
        review_splits(10, 10, 0)
    with pytest.raises(ValueError, match=r"`num_train` expected an integer >= 1, received num_train=2.5"):
        review_splits(2.5, 10, 10)
    with pytest.raises(ValueError, match=r"`num_validation` expected an integer >= 1"):
        review_splits(10, True, 10)
    with pytest.raises(ValueError, match=r"`negation_rate` expected a number in \[0, 1\]"):
        review_splits(10, 10, 10, negation_rate=-0.1)
    with pytest.raises(ValueError, match=r"`max_fillers` expected an integer >= 0, received max_fillers=-1"):
        review_splits(10, 10, 10, max_fillers=-1)


def test_load_imdb_offline_raises_a_helpful_error(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise OSError("no internet")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(keras.datasets.imdb, "load_data", offline)
    with pytest.raises(DatasetUnavailableError, match="imdb.npz") as error:
        load_imdb()
    # It names Keras's cache as KERAS_HOME makes it, the one place Keras's loader reads.
    cache = tmp_path / "keras_home" / "datasets"
    assert f"Searched:\n  {cache}\n" in str(error.value)
    assert f"put the file at {cache / 'imdb.npz'}" in str(error.value)


def test_load_imdb_pads_on_the_right(monkeypatch):
    def fake(num_words=None):
        train = [[1, 5, 6], [1, 7, 8, 9, 10]]
        return (np.array(train, dtype=object), np.array([0, 1])), (
            np.array([[1, 4]], dtype=object),
            np.array([1]),
        )

    monkeypatch.setattr(keras.datasets.imdb, "load_data", fake)
    (x_train, y_train), (x_test, _) = load_imdb(maxlen=4)
    assert x_train.tolist() == [[1, 5, 6, 0], [1, 7, 8, 9]]
    assert x_test.tolist() == [[1, 4, 0, 0]] and y_train.tolist() == [0, 1]


def small_classifier(**kwargs):
    config = dict(
        vocabulary_size=50,
        sequence_length=24,
        hidden_dim=16,
        num_layers=2,
        num_heads=2,
        intermediate_dim=32,
        dropout=0.0,
    )
    config.update(kwargs)
    return text_classifier(**config)


def test_classifier_output_shape_and_dtype():
    model = small_classifier(num_classes=3)
    ids = np.random.default_rng(0).integers(1, 50, size=(4, 10))
    logits = model(ids)
    assert tuple(logits.shape) == (4, 3)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def test_classifier_rejects_bad_arguments():
    with pytest.raises(ValueError, match="divide"):
        small_classifier(hidden_dim=16, num_heads=3)
    with pytest.raises(ValueError, match="num_layers"):
        small_classifier(num_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        small_classifier(dropout=1.0)


def test_extra_padding_does_not_change_the_prediction():
    model = small_classifier()
    rng = np.random.default_rng(1)
    real = rng.integers(1, 50, size=(3, 7)).astype("int32")
    short = np.pad(real, ((0, 0), (0, 3)))  # 7 real tokens + 3 padding
    long = np.pad(real, ((0, 0), (0, 17)))  # 7 real tokens + 17 padding
    np.testing.assert_allclose(to_numpy(model(short)), to_numpy(model(long)), atol=1e-5)
    np.testing.assert_allclose(to_numpy(model(real)), to_numpy(model(long)), atol=1e-5)


def test_classifier_save_and_load_round_trip(tmp_path):
    model = small_classifier()
    ids = np.pad(np.random.default_rng(2).integers(1, 50, size=(2, 6)), ((0, 0), (0, 4)))
    path = tmp_path / "text.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(to_numpy(restored(ids)), to_numpy(model(ids)), atol=1e-6)


@pytest.mark.slow
def test_classifier_learns_the_synthetic_reviews():
    texts, labels = synthetic_reviews(1792, seed=0)
    vocabulary = build_vocabulary(texts)
    ids = encode(texts, vocabulary, sequence_length=40)
    model = small_classifier(vocabulary_size=len(vocabulary), sequence_length=40, num_layers=1)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(ids[:1536], labels[:1536], epochs=10, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(ids[1536:], labels[1536:], batch_size=64, verbose=0)
    assert accuracy > 0.9, accuracy  # negated reviews included: counting words alone cannot get there
