"""Sentiment data: short movie reviews generated offline from a seeded grammar, and IMDB."""

import numpy as np

from keraskit.course.data.files import download_or_explain, keras_datasets_folders

# Opinion words. A review's label is the polarity of its one opinion, flipped
# when the opinion is negated: "not good" is negative, "not bad" is positive.
POSITIVE_WORDS = (
    "good",
    "great",
    "excellent",
    "wonderful",
    "brilliant",
    "enjoyable",
    "charming",
    "superb",
    "moving",
    "fun",
)
NEGATIVE_WORDS = (
    "bad",
    "awful",
    "terrible",
    "boring",
    "dull",
    "poor",
    "weak",
    "horrible",
    "predictable",
    "messy",
)
INTENSIFIERS = ("very", "really", "truly", "quite", "so", "extremely")
_POSITIVE_VERBS = ("liked", "loved", "enjoyed")
_NEGATIVE_VERBS = ("hated", "disliked")
# "i did not like it": the negated verb is in its base form.
_BASE_FORM = {"liked": "like", "loved": "love", "enjoyed": "enjoy", "hated": "hate", "disliked": "dislike"}
_SUBJECTS = ("movie", "film", "plot", "acting", "story", "cast", "ending", "music", "script", "dialogue")
# Neutral sentences around the opinion. One of them says "not" without any
# opinion, so the word "not" alone does not tell the label.
_FILLERS = (
    "i saw it on {day}",
    "my {person} came with me",
    "we had popcorn",
    "it is a {genre} about a {topic}",
    "the {subject} lasts two hours",
    "i had not read the book",
    "the cinema was {place_word}",
    "it came out last {time}",
    "the {subject} is set in a {topic}",
)
_FILLER_WORDS = {
    "day": ("monday", "friday", "sunday", "saturday"),
    "person": ("friend", "sister", "brother", "cousin", "neighbour"),
    "genre": ("drama", "comedy", "thriller", "western", "musical"),
    "topic": ("family", "city", "war", "village", "ship", "school"),
    "subject": ("movie", "film", "story"),
    "place_word": ("full", "empty", "cold", "small"),
    "time": ("year", "month", "week", "summer"),
}


def _pick(rng, words):
    return words[rng.integers(len(words))]


def _opinion(rng, positive_word, negated):
    """One opinion clause whose words have polarity `positive_word`, negated or not."""
    if rng.random() < 0.7:
        adjective = _pick(rng, POSITIVE_WORDS if positive_word else NEGATIVE_WORDS)
        verb = _pick(rng, ("is", "was"))
        if negated:
            middle = "not"
        else:
            middle = _pick(rng, INTENSIFIERS) if rng.random() < 0.5 else ""
        words = ["the", _pick(rng, _SUBJECTS), verb, middle, adjective]
    else:
        verb = _pick(rng, _POSITIVE_VERBS if positive_word else _NEGATIVE_VERBS)
        words = ["i", "did", "not", _BASE_FORM[verb], "it"] if negated else ["i", verb, "it"]
    return " ".join(word for word in words if word)


def _review(rng, label, negation_rate, max_fillers, opinion):
    """A review labelled `label`: `opinion(rng, positive_word, negated)` among neutral fillers."""
    negated = bool(rng.random() < negation_rate)
    positive_word = bool(label) != negated  # negation flips the polarity of the words
    clauses = []
    for _ in range(rng.integers(0, int(max_fillers) + 1)):
        template = _pick(rng, _FILLERS)
        for slot, words in _FILLER_WORDS.items():
            if "{" + slot + "}" in template:
                template = template.replace("{" + slot + "}", _pick(rng, words))
        clauses.append(template)
    clauses.insert(rng.integers(0, len(clauses) + 1), opinion(rng, positive_word, negated))
    return " ".join(clauses)


def synthetic_reviews(n, seed=0, negation_rate=0.4, max_fillers=4):
    """Short movie-review-like texts with sentiment labels, generated offline from a seed.

    Each review holds exactly one opinion ("the acting was very good", "i
    hated it") placed among 0 to `max_fillers` neutral sentences ("we had
    popcorn", "i saw it on friday"), so reviews have different lengths. The
    label is 1 (positive) or 0 (negative). A fraction `negation_rate` of the
    opinions is negated, which flips the label: "the plot was not bad" is
    positive, "i did not like it" negative. A model that only counts words
    cannot get those right; one that relates "not" to the word after it can.
    One neutral sentence ("i had not read the book") also contains "not", so
    the mere presence of "not" does not give the label away. Labels are
    exactly balanced (for even `n`) and the same seed gives the same reviews.

    Args:
        n: number of reviews.
        seed: seed of the generator.
        negation_rate: probability that the opinion is negated, in [0, 1].
        max_fillers: largest number of neutral sentences in a review.

    Returns:
        `(texts, labels)`: a list of `n` lowercase strings and an int32 NumPy
        array of `n` labels (1 positive, 0 negative).

    Example:

    >>> texts, labels = synthetic_reviews(3, seed=0)
    >>> len(texts), labels.shape
    (3, (3,))
    >>> synthetic_reviews(100, seed=1)[0] == synthetic_reviews(100, seed=1)[0]
    True
    """
    if int(n) != n or n < 1:
        raise ValueError(f"synthetic_reviews needs an integer `n` >= 1. Received: n={n}")
    if not 0.0 <= negation_rate <= 1.0:
        raise ValueError(f"`negation_rate` must be in [0, 1]. Received: negation_rate={negation_rate}")
    if int(max_fillers) != max_fillers or max_fillers < 0:
        raise ValueError(f"`max_fillers` must be an integer >= 0. Received: max_fillers={max_fillers}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(int(n)) % 2).astype("int32")  # exactly balanced
    texts = [_review(rng, label, negation_rate, max_fillers, _opinion) for label in labels]
    return texts, labels


SPLITS = ("train", "validation", "test")


def opinion_pairs(seed=0):
    """Which (subject, opinion word) pairs each split of `review_splits` may use.

    An opinion such as "the plot was dull" pairs a subject ("plot") with an
    opinion word ("dull"). The 10 subjects and 20 opinion words make 200
    pairs. They are dealt to the splits like a Latin square: within each
    polarity, subject `i` and word `j` go to split `(a[i] + b[j]) % 5` for
    seeded permutations `a` and `b`, 0 to test, 1 to validation, 2 to 4 to
    train. So 40 pairs are test pairs, 40 validation pairs and 120 training
    pairs, and every subject and every word still appears in training, with 6
    of its 10 partners: a validation or test pair is a new combination of
    known words.

    Args:
        seed: seed of the permutations.

    Returns:
        A dict from "train", "validation" and "test" to sorted lists of
        `(subject, opinion_word)` pairs; every pair is in exactly one list.

    Example:

    >>> pairs = opinion_pairs(seed=0)
    >>> [len(pairs[split]) for split in ("train", "validation", "test")]
    [120, 40, 40]
    >>> set(pairs["train"]) & set(pairs["test"])
    set()
    """
    rng = np.random.default_rng(seed)
    pairs = {split: [] for split in SPLITS}
    for words in (POSITIVE_WORDS, NEGATIVE_WORDS):
        subject_shift, word_shift = rng.permutation(len(_SUBJECTS)), rng.permutation(len(words))
        for i, subject in enumerate(_SUBJECTS):
            for j, word in enumerate(words):
                group = (subject_shift[i] + word_shift[j]) % 5
                split = "test" if group == 0 else "validation" if group == 1 else "train"
                pairs[split].append((subject, word))
    return {split: sorted(found) for split, found in pairs.items()}


def _paired_opinion(pairs, verb_rate):
    """An opinion maker like `_opinion`, whose "the <subject> is <word>" uses only `pairs`."""
    by_polarity = {
        True: [pair for pair in pairs if pair[1] in POSITIVE_WORDS],
        False: [pair for pair in pairs if pair[1] in NEGATIVE_WORDS],
    }

    def opinion(rng, positive_word, negated):
        if rng.random() < verb_rate:  # "i loved it": no subject, so no pair to hold out
            verb = _pick(rng, _POSITIVE_VERBS if positive_word else _NEGATIVE_VERBS)
            return " ".join(["i", "did", "not", _BASE_FORM[verb], "it"] if negated else ["i", verb, "it"])
        subject, adjective = _pick(rng, by_polarity[positive_word])
        if negated:
            middle = "not"
        else:
            middle = _pick(rng, INTENSIFIERS) if rng.random() < 0.5 else ""
        words = ["the", subject, _pick(rng, ("is", "was")), middle, adjective]
        return " ".join(word for word in words if word)

    return opinion


def review_splits(num_train, num_validation, num_test, seed=0, negation_rate=0.4, max_fillers=4):
    """Training, validation and test reviews that share no review: the test holds new combinations.

    A random split of `synthetic_reviews` repeats reviews: the grammar makes
    many short reviews ("i loved it") more than once, so a test review may be
    one the model was trained on, word for word. Here the opinions of
    validation and test reviews pair a subject and an opinion word in a way no
    training review does (`opinion_pairs`): if "the plot was dull" is a test
    opinion, no training review says the plot is dull (or not dull), though
    training has "plot" and "dull" with other partners. So no review is shared
    between splits (the subject and the opinion word can be read back from
    every text), and the test measures whether the model combines known words,
    not whether it recalls reviews. Validation is drawn the same way as test,
    from pairs of its own, so choices made on it carry over to the test.

    Training reviews are made as in `synthetic_reviews`: 70% of the opinions
    say "the <subject> is <word>", 30% "i loved it" or "i did not like it".
    Validation and test opinions are all of the first kind, the only kind with
    a pair to hold out. Each split has exactly balanced labels (for an even
    size), a fraction `negation_rate` of negated opinions, and its own random
    stream: the training reviews do not change with `num_test`.

    Args:
        num_train: number of training reviews.
        num_validation: number of validation reviews.
        num_test: number of test reviews.
        seed: seed of the pairs' split (see `opinion_pairs`) and of the reviews.
        negation_rate: probability that an opinion is negated, in [0, 1].
        max_fillers: largest number of neutral sentences in a review.

    Returns:
        A dict from "train", "validation" and "test" to `(texts, labels)`, as
        `synthetic_reviews` returns them.

    Example:

    >>> splits = review_splits(200, 50, 50, seed=0)
    >>> train_texts, train_labels = splits["train"]
    >>> test_texts, test_labels = splits["test"]
    >>> len(train_texts), len(test_texts), int(test_labels.sum())
    (200, 50, 25)
    >>> set(train_texts) & set(test_texts)
    set()
    """
    sizes = {"train": num_train, "validation": num_validation, "test": num_test}
    for split, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            name = "num_" + split
            raise ValueError(f"review_splits: `{name}` expected an integer >= 1, received {name}={size!r}")
    if not 0.0 <= negation_rate <= 1.0:
        raise ValueError(
            "review_splits: `negation_rate` expected a number in [0, 1], "
            f"received negation_rate={negation_rate!r}"
        )
    if isinstance(max_fillers, bool) or not isinstance(max_fillers, (int, np.integer)) or max_fillers < 0:
        raise ValueError(
            f"review_splits: `max_fillers` expected an integer >= 0, received max_fillers={max_fillers!r}"
        )
    pairs = opinion_pairs(seed)
    splits = {}
    for stream, (split, size) in enumerate(sizes.items(), start=1):
        rng = np.random.default_rng([seed, stream])  # one stream per split
        opinion = _paired_opinion(pairs[split], verb_rate=0.3 if split == "train" else 0.0)
        labels = rng.permutation(np.arange(int(size)) % 2).astype("int32")  # exactly balanced
        texts = [_review(rng, label, negation_rate, max_fillers, opinion) for label in labels]
        splits[split] = (texts, labels)
    return splits


def load_imdb(num_words=20000, maxlen=200):
    """Loads the IMDB movie-review dataset (Maas et al., 2011) as padded token ids.

    25,000 training and 25,000 test reviews labelled positive (1) or negative
    (0), as `keras.datasets.imdb.load_data` provides them: words are ids by
    frequency (1 marks the start, 2 an unknown word, 0 is free for padding),
    keeping the `num_words` most frequent. Each review is cut or padded with
    0 on the right to `maxlen` ids, ready for a model with `mask_zero=True`.

    Keras reads the file `imdb.npz` from its download cache, downloading it
    there once: `$KERAS_HOME/datasets` when `KERAS_HOME` is set, else
    `~/.keras/datasets` (see `keras_datasets_folders`). Unlike the image
    datasets, IMDB is not looked for in `$KERASKIT_DATA_DIR`: Keras's loader,
    which this one keeps for its word ids, reads only its cache.

    Args:
        num_words: size of the vocabulary kept.
        maxlen: length of every returned sequence.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: int32 arrays `(N, maxlen)` and `(N,)`.

    Raises:
        DatasetUnavailableError: the file is not cached and cannot be downloaded
            (e.g. offline); the message says what to fetch and where to put it.

    Example (needs the file, so not run as a doctest):

        (x_train, y_train), (x_test, y_test) = load_imdb(num_words=20000, maxlen=200)
        x_train.shape   # (25000, 200)
    """
    import keras

    cache = keras_datasets_folders()
    (x_train, y_train), (x_test, y_test) = download_or_explain(
        "IMDB",
        lambda: keras.datasets.imdb.load_data(num_words=num_words),
        cache,
        "On a machine with internet, run "
        '`python -c "import keras; keras.datasets.imdb.load_data()"`, or download '
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz, and put "
        f"the file at {cache[0] / 'imdb.npz'}.",
    )

    def pad(sequences):
        return keras.utils.pad_sequences(
            sequences, maxlen=maxlen, padding="post", truncating="post", value=0
        ).astype("int32")

    return (pad(x_train), np.asarray(y_train, "int32")), (pad(x_test), np.asarray(y_test, "int32"))
