"""A toy translation task: English number words to digits, generated offline.

"three hundred forty two" -> "3 4 2". Small enough to train a Transformer
encoder-decoder on a CPU in a minute or two, yet a real sequence-to-sequence
task: the output is longer or shorter than the input ("twelve" -> "1 2",
"three hundred five" -> "3 0 5"), and some digits ("0" in "3 0 5") have no
source word of their own.
"""

import dataclasses

import numpy as np

PAD_ID = 0
START_ID = 1
END_ID = 2

_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

# Source tokens are words, target tokens digits; id 0 is padding in both.
SOURCE_VOCABULARY = ("<pad>", *_ONES, *_TENS, "hundred")
TARGET_VOCABULARY = ("<pad>", "<start>", "<end>", *"0123456789")
SOURCE_LENGTH = 4  # "seven hundred seventy seven"
TARGET_LENGTH = 4  # three digits and <end> (or <start> and three digits)

_SOURCE_IDS = {word: index for index, word in enumerate(SOURCE_VOCABULARY)}
_TARGET_IDS = {token: index for index, token in enumerate(TARGET_VOCABULARY)}


def number_to_words(number):
    """English words for an integer in [0, 999], without "and" or hyphens.

    Example:

    >>> number_to_words(342)
    'three hundred forty two'
    >>> number_to_words(15), number_to_words(700)
    ('fifteen', 'seven hundred')
    """
    number = int(number)
    if not 0 <= number <= 999:
        raise ValueError(f"`number` must be in [0, 999]. Received: number={number}")
    if number < 20:
        return _ONES[number]
    words = []
    hundreds, rest = divmod(number, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens - 2])
        if ones:
            words.append(_ONES[ones])
    elif rest:
        words.append(_ONES[rest])
    return " ".join(words)


def encode_source(text):
    """Source ids of a number in words, padded with 0 to `SOURCE_LENGTH`.

    Example:

    >>> encode_source("three hundred forty two").tolist()
    [4, 29, 23, 3]
    """
    words = text.split()
    if len(words) > SOURCE_LENGTH:
        raise ValueError(f"At most {SOURCE_LENGTH} words. Received: {text!r}")
    unknown = [word for word in words if word not in _SOURCE_IDS or word == "<pad>"]
    if unknown:
        raise ValueError(f"Unknown source words {unknown} in {text!r}.")
    ids = np.zeros(SOURCE_LENGTH, dtype="int32")
    ids[: len(words)] = [_SOURCE_IDS[word] for word in words]
    return ids


def encode_target(digits):
    """Teacher-forcing pair for a digit string: (decoder input, labels).

    The decoder input is `<start>` then the digits; the labels are the digits
    then `<end>`: at every position the label is the next token of the input.
    Both are padded with 0 to `TARGET_LENGTH`.

    Example:

    >>> decoder_input, labels = encode_target("3 4 2")
    >>> decoder_input.tolist(), labels.tolist()
    ([1, 6, 7, 5], [6, 7, 5, 2])
    """
    tokens = digits.split()
    if not 1 <= len(tokens) < TARGET_LENGTH or any(t not in "0123456789" or len(t) != 1 for t in tokens):
        raise ValueError(f"Expected 1 to {TARGET_LENGTH - 1} digits. Received: {digits!r}")
    ids = [_TARGET_IDS[token] for token in tokens]
    decoder_input = np.zeros(TARGET_LENGTH, dtype="int32")
    labels = np.zeros(TARGET_LENGTH, dtype="int32")
    decoder_input[: len(ids) + 1] = [START_ID, *ids]
    labels[: len(ids) + 1] = [*ids, END_ID]
    return decoder_input, labels


def decode_source(ids):
    """Words of a source id sequence, padding dropped.

    Example:

    >>> decode_source([4, 29, 23, 3, 0])
    'three hundred forty two'
    """
    return " ".join(SOURCE_VOCABULARY[int(i)] for i in ids if int(i) != PAD_ID)


def decode_target(ids):
    """Digits of a target id sequence: `<start>` and padding dropped, stops at `<end>`.

    Example:

    >>> decode_target([6, 7, 5, 2, 0])
    '3 4 2'
    """
    tokens = []
    for index in ids:
        index = int(index)
        if index == END_ID:
            break
        if index not in (PAD_ID, START_ID):
            tokens.append(TARGET_VOCABULARY[index])
    return " ".join(tokens)


@dataclasses.dataclass
class TranslationData:
    """Arrays of one split of `number_translation`, and the numbers they encode.

    Attributes:
        numbers: `(N,)` the integers.
        source: `(N, SOURCE_LENGTH)` source ids (words), 0-padded.
        decoder_input: `(N, TARGET_LENGTH)` `<start>` + digit ids, 0-padded.
        labels: `(N, TARGET_LENGTH)` digit ids + `<end>`, 0-padded.

    Example:

    >>> train, test = number_translation(seed=0)
    >>> train.source.shape[1] == SOURCE_LENGTH, train.labels.shape == train.decoder_input.shape
    (True, True)
    """

    numbers: np.ndarray
    source: np.ndarray
    decoder_input: np.ndarray
    labels: np.ndarray


def translation_data(numbers):
    """The arrays of `TranslationData` for any integers in [0, 999], in the order given.

    Use it for a set of numbers built by hand, such as a block kept out of
    `number_translation` with `exclude`.

    Args:
        numbers: a sequence of integers in [0, 999].

    Returns:
        A `TranslationData`.

    Example:

    >>> data = translation_data([123, 7])
    >>> decode_source(data.source[0]), decode_target(data.labels[0]), decode_target(data.labels[1])
    ('one hundred twenty three', '1 2 3', '7')
    """
    numbers = _check_numbers(numbers, "numbers", 999)
    if not numbers:
        raise ValueError("translation_data: `numbers` expected at least one number, received none")
    pairs = [encode_target(" ".join(str(number))) for number in numbers]
    return TranslationData(
        numbers=np.asarray(numbers, dtype="int32"),
        source=np.stack([encode_source(number_to_words(n)) for n in numbers]),
        decoder_input=np.stack([pair[0] for pair in pairs]),
        labels=np.stack([pair[1] for pair in pairs]),
    )


def _check_numbers(numbers, name, largest):
    """`numbers` as a list of ints, each an integer in [0, `largest`], or a ValueError naming `name`."""
    checked = []
    for number in np.asarray(numbers, dtype=object).reshape(-1).tolist():
        if (
            isinstance(number, bool)
            or not isinstance(number, (int, np.integer))
            or not 0 <= number <= largest
        ):
            raise ValueError(f"`{name}` expected integers in [0, {largest}], received {number!r}")
        checked.append(int(number))
    return checked


def number_translation(test_fraction=0.2, max_number=999, seed=0, exclude=()):
    """Number words -> digits, split by number into training and held-out sets.

    Every integer in `[0, max_number]` appears once, in exactly one split, so
    the held-out numbers are never seen in training: a model must learn how
    the words compose, not memorise the pairs. The split is a seeded shuffle.
    Numbers in `exclude` are in neither split: keep a whole block out, such
    as every number from 100 to 199, and test on it with `translation_data`
    to see whether the model can write "one hundred ..." having never seen it.

    Args:
        test_fraction: share of the numbers held out, in (0, 1); of the numbers
            left after `exclude`.
        max_number: largest number, at most 999.
        seed: seed of the shuffle.
        exclude: integers in `[0, max_number]` to leave out of both splits.
            The other numbers are split as they would be without it.

    Returns:
        `(train, test)`, two `TranslationData`. Vocabularies are
        `SOURCE_VOCABULARY` and `TARGET_VOCABULARY` (PAD_ID=0, START_ID, END_ID).

    Example:

    >>> train, test = number_translation(seed=0)
    >>> len(train.numbers), len(test.numbers)
    (800, 200)
    >>> decode_source(train.source[0]), decode_target(train.labels[0])
    ('fifty four', '5 4')
    >>> train, test = number_translation(seed=0, exclude=range(100, 200))
    >>> len(train.numbers) + len(test.numbers), int(((train.numbers // 100) == 1).sum())
    (900, 0)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1). Received: {test_fraction}")
    if not 1 <= int(max_number) <= 999:
        raise ValueError(f"`max_number` must be in [1, 999]. Received: {max_number}")
    excluded = set(_check_numbers(exclude, "exclude", int(max_number)))
    if len(excluded) > int(max_number) - 1:
        raise ValueError(
            f"`exclude` expected to leave at least 2 of the {int(max_number) + 1} numbers to split, "
            f"received {len(excluded)} distinct numbers to exclude"
        )
    numbers = np.random.default_rng(seed).permutation(int(max_number) + 1)
    numbers = np.array([n for n in numbers if int(n) not in excluded])  # the order of the shuffle kept
    num_test = min(len(numbers) - 1, max(1, round(len(numbers) * test_fraction)))
    test_numbers, train_numbers = numbers[:num_test], numbers[num_test:]
    return translation_data(train_numbers), translation_data(test_numbers)
