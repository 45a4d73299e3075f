"""A toy text corpus generated from a seeded grammar, and a word-level tokenizer for it."""

import collections
import re

import numpy as np

# The words the grammar talks about, by topic. Words of one group fill the same
# slots of the same sentence templates, so they share their neighbours: the
# signal that word embeddings learn from.
WORD_GROUPS = {
    "animals": ("cat", "dog", "horse", "rabbit", "cow", "sheep"),
    "vehicles": ("car", "bus", "truck", "van", "taxi", "tractor"),
    "foods": ("bread", "rice", "soup", "cheese", "apple", "cake"),
    "colours": ("red", "blue", "green", "yellow", "black", "white"),
    "places": ("garden", "forest", "city", "village", "market", "beach"),
}

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1

# The context words that go with each group (verbs, adjectives, ...).
_SLOTS = {
    "animal_adjective": ("little", "hungry", "sleepy", "furry", "young"),
    "animal_verb": ("eats", "sleeps", "runs", "plays", "jumps"),
    "animal_action": ("fed", "petted", "brushed", "chased", "walked"),
    "vehicle_adjective": ("fast", "noisy", "new", "rusty", "electric"),
    "vehicle_verb": ("drives", "stops", "turns", "honks", "brakes"),
    "vehicle_action": ("drove", "washed", "parked", "fixed", "repaired"),
    "food_action": ("cooked", "ate", "bought", "baked", "shared"),
    "food_taste": ("tasty", "sweet", "fresh", "salty", "delicious"),
    "meal": ("breakfast", "lunch", "dinner"),
    "painted": ("wall", "door", "fence", "house"),
    "place_adjective": ("quiet", "busy", "crowded", "beautiful", "sunny"),
    "person": ("she", "he", "they", "we", "i"),
    # Finer structure inside two groups: pets and farm animals, cars for people and for loads.
    "pet": ("cat", "dog", "rabbit"),
    "farm_animal": ("horse", "cow", "sheep"),
    "passenger_vehicle": ("car", "bus", "taxi"),
    "cargo_vehicle": ("truck", "van", "tractor"),
}
_SLOTS.update(
    {
        "animal": WORD_GROUPS["animals"],
        "vehicle": WORD_GROUPS["vehicles"],
        "food": WORD_GROUPS["foods"],
        "colour": WORD_GROUPS["colours"],
        "place": WORD_GROUPS["places"],
    }
)

# Sentence templates: `{slot}` is replaced by a random word of that slot.
_TEMPLATES = (
    "the {animal_adjective} {animal} {animal_verb} in the {place}",
    "my {pet} {animal_verb} on the sofa",
    "the farmer led the {farm_animal} to the barn",
    "{person} {animal_action} the {animal}",
    "the {animal} eats some {food}",
    "the {vehicle_adjective} {vehicle} {vehicle_verb} on the road",
    "{person} {vehicle_action} the {colour} {vehicle}",
    "{person} took the {vehicle} to the {place}",
    "the {passenger_vehicle} picked up two passengers",
    "the {cargo_vehicle} carried the load to the farm",
    "{person} {food_action} {food} for {meal}",
    "the {food} tastes {food_taste}",
    "{person} painted the {painted} {colour}",
    "the {colour} {painted} is very bright",
    "the {place} is {place_adjective} today",
    "{person} walked to the {place}",
)


def toy_corpus(num_sentences=20000, seed=0):
    """Short English sentences from a small seeded grammar, for training word embeddings.

    Each sentence fills one of a few templates ("the hungry cat sleeps in the
    garden", "she washed the red bus") with random words. Words of one topic
    in `WORD_GROUPS` (animals, vehicles, foods, colours, places) fill the same
    slots, so they appear next to the same words: "cat" and "dog" both come
    before "eats" and "sleeps", "car" and "bus" before "drives" and "honks".
    That shared context is exactly what skip-gram word vectors pick up, so a
    model trained on this corpus should put words of one group close together.
    A few templates add finer structure (pets and farm animals, vehicles for
    passengers and for loads). There is no file to download and the same seed gives the same corpus.

    Args:
        num_sentences: number of sentences.
        seed: seed of the generator; the same seed gives the same sentences.

    Returns:
        A list of `num_sentences` strings: lowercase words separated by spaces.

    Example:

    >>> toy_corpus(2, seed=0)
    ['the yellow door is very bright', 'he cooked bread for breakfast']
    >>> toy_corpus(500, seed=1) == toy_corpus(500, seed=1)
    True
    """
    if int(num_sentences) != num_sentences or num_sentences < 1:
        raise ValueError(f"toy_corpus needs an integer `num_sentences` >= 1. Received: {num_sentences}")
    rng = np.random.default_rng(seed)
    fields = re.compile(r"\{(\w+)\}")

    def fill(match):
        words = _SLOTS[match.group(1)]
        return words[rng.integers(len(words))]

    template_ids = rng.integers(0, len(_TEMPLATES), size=int(num_sentences))
    return [fields.sub(fill, _TEMPLATES[template_id]) for template_id in template_ids]


def tokenize(sentence):
    """Split a sentence into lowercase words, dropping punctuation.

    Example:

    >>> tokenize("The cat, the DOG!")
    ['the', 'cat', 'the', 'dog']
    """
    return re.findall(r"[a-z0-9']+", sentence.lower())


def build_vocabulary(sentences, min_count=1):
    """The list of known words: its index is a word's id.

    Id 0 is `"<pad>"` (padding, added to make sequences the same length) and id
    1 is `"<unk>"` (any word not in the vocabulary). The other words follow,
    most frequent first (ties in alphabetical order), keeping only words seen
    at least `min_count` times.

    Args:
        sentences: list of strings.
        min_count: how often a word must occur to get its own id.

    Returns:
        A list of strings, `vocabulary[id] == word`.

    Example:

    >>> build_vocabulary(["the cat sat", "the dog"])
    ['<pad>', '<unk>', 'the', 'cat', 'dog', 'sat']
    """
    if isinstance(sentences, str):
        raise ValueError(
            "build_vocabulary expects a list of sentences, received one string. "
            "Wrap it in a list: build_vocabulary([sentence])."
        )
    counts = collections.Counter(word for sentence in sentences for word in tokenize(sentence))
    kept = sorted(
        (word for word, count in counts.items() if count >= min_count), key=lambda word: (-counts[word], word)
    )
    return [PAD, UNK, *kept]


def encode(sentences, vocabulary, sequence_length=None):
    """Turn sentences into token ids; unknown words become 1 (`"<unk>"`).

    Args:
        sentences: list of strings.
        vocabulary: list of words, as returned by `build_vocabulary`.
        sequence_length: `None` to return one list of ids per sentence, or an
            integer to return an int32 array `(len(sentences), sequence_length)`,
            each row cut to that length or padded with 0 on the right.

    Returns:
        A list of lists of ints, or an int32 NumPy array if `sequence_length` is set.

    Example:

    >>> vocabulary = build_vocabulary(["the cat sat", "the dog"])
    >>> encode(["the dog sat", "the bird"], vocabulary)
    [[2, 4, 5], [2, 1]]
    >>> encode(["the dog sat", "the bird"], vocabulary, sequence_length=4).tolist()
    [[2, 4, 5, 0], [2, 1, 0, 0]]
    """
    if isinstance(sentences, str):
        raise ValueError(
            "encode expects a list of sentences, received one string. "
            "Wrap it in a list: encode([sentence], vocabulary)."
        )
    word_ids = {word: index for index, word in enumerate(vocabulary)}
    ids = [[word_ids.get(word, UNK_ID) for word in tokenize(sentence)] for sentence in sentences]
    if sequence_length is None:
        return ids
    padded = np.full((len(ids), int(sequence_length)), PAD_ID, dtype="int32")
    for row, sentence_ids in enumerate(ids):
        sentence_ids = sentence_ids[: int(sequence_length)]
        padded[row, : len(sentence_ids)] = sentence_ids
    return padded


def decode(ids, vocabulary):
    """Turn one sequence of token ids back into a sentence, skipping padding.

    Example:

    >>> decode([2, 4, 5, 0, 0], ['<pad>', '<unk>', 'the', 'cat', 'dog', 'sat'])
    'the dog sat'
    """
    return " ".join(vocabulary[int(i)] for i in np.asarray(ids).reshape(-1) if int(i) != PAD_ID)
