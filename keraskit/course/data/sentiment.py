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
    texts = []
    for label in labels:
        negated = bool(rng.random() < negation_rate)
        positive_word = bool(label) != negated  # negation flips the polarity of the words
        clauses = []
        for _ in range(rng.integers(0, int(max_fillers) + 1)):
            template = _pick(rng, _FILLERS)
            for slot, words in _FILLER_WORDS.items():
                if "{" + slot + "}" in template:
                    template = template.replace("{" + slot + "}", _pick(rng, words))
            clauses.append(template)
        clauses.insert(rng.integers(0, len(clauses) + 1), _opinion(rng, positive_word, negated))
        texts.append(" ".join(clauses))
    return texts, labels


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
