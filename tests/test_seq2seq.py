"""The number-translation data, seq2seq_transformer() and greedy_decode()."""

import keras
import numpy as np
import pytest
from conftest import to_numpy

from keraskit.course.data import number_translation
from keraskit.course.data import translation as T
from keraskit.models import greedy_decode, seq2seq_transformer


def tiny_model(**overrides):
    config = dict(
        source_vocabulary_size=len(T.SOURCE_VOCABULARY),
        target_vocabulary_size=len(T.TARGET_VOCABULARY),
        source_length=T.SOURCE_LENGTH,
        target_length=T.TARGET_LENGTH,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        dropout=0.0,
    )
    config.update(overrides)
    return seq2seq_transformer(**config)


def test_dataset_is_reproducible_and_splits_are_disjoint():
    train, test = number_translation(seed=3)
    again, _ = number_translation(seed=3)
    other, _ = number_translation(seed=4)
    np.testing.assert_array_equal(train.numbers, again.numbers)
    np.testing.assert_array_equal(train.source, again.source)
    assert not np.array_equal(train.numbers, other.numbers)
    assert not set(train.numbers.tolist()) & set(test.numbers.tolist())
    assert sorted([*train.numbers.tolist(), *test.numbers.tolist()]) == list(range(1000))


def test_excluded_numbers_are_in_neither_split_and_the_rest_split_as_before():
    plain_train, plain_test = number_translation(seed=0)
    train, test = number_translation(seed=0, exclude=range(100, 200))
    kept = set(train.numbers.tolist()) | set(test.numbers.tolist())
    assert kept == set(range(1000)) - set(range(100, 200))
    assert not set(train.numbers.tolist()) & set(test.numbers.tolist())
    assert len(test.numbers) == 180  # 20% of the 900 numbers left
    # Leaving a block out does not reshuffle the others: they keep the order of the plain split.
    order = [n for n in [*plain_test.numbers.tolist(), *plain_train.numbers.tolist()] if not 100 <= n < 200]
    assert [*test.numbers.tolist(), *train.numbers.tolist()] == order
    # "one hundred" is never said in training, yet "one" and "hundred" are.
    words = [T.decode_source(source) for source in train.source]
    assert not any(text.startswith("one hundred") for text in words)
    assert any(text.split()[-1] == "one" for text in words) and any("hundred" in text for text in words)


def test_translation_data_writes_any_numbers_in_the_order_given():
    data = T.translation_data([123, 7, 910])
    assert data.numbers.tolist() == [123, 7, 910]
    sources = [T.decode_source(source) for source in data.source]
    assert sources == ["one hundred twenty three", "seven", "nine hundred ten"]
    assert [T.decode_target(labels) for labels in data.labels] == ["1 2 3", "7", "9 1 0"]
    assert data.decoder_input[0].tolist() == [T.START_ID, 4, 5, 6]  # <start> 1 2 3


def test_exclude_and_translation_data_reject_bad_numbers():
    with pytest.raises(ValueError, match=r"`exclude` expected integers in \[0, 999\], received 1000"):
        number_translation(exclude=[5, 1000])
    with pytest.raises(ValueError, match=r"`exclude` expected integers in \[0, 99\], received 100"):
        number_translation(max_number=99, exclude=[100])
    with pytest.raises(ValueError, match=r"`exclude` expected integers in \[0, 999\], received 2.5"):
        number_translation(exclude=[2.5])
    with pytest.raises(ValueError, match=r"at least 2 of the 100 numbers"):
        number_translation(max_number=99, exclude=range(99))
    with pytest.raises(ValueError, match=r"`numbers` expected integers in \[0, 999\], received -1"):
        T.translation_data([3, -1])
    with pytest.raises(ValueError, match=r"`numbers` expected at least one number"):
        T.translation_data([])


def test_encode_decode_round_trip_and_teacher_forcing_shift():
    train, _ = number_translation(seed=0)
    for number, source, decoder_input, labels in zip(
        train.numbers, train.source, train.decoder_input, train.labels, strict=True
    ):
        assert T.decode_source(source) == T.number_to_words(number)
        assert T.decode_target(labels) == " ".join(str(number))
        assert decoder_input[0] == T.START_ID
        length = len(str(number))
        np.testing.assert_array_equal(decoder_input[1 : length + 1], labels[:length])
        assert labels[length] == T.END_ID
    assert T.number_to_words(905) == "nine hundred five"
    with pytest.raises(ValueError):
        T.encode_source("one zillion")
    with pytest.raises(ValueError):
        T.number_to_words(1000)


def test_output_shape_and_argument_checks():
    model = tiny_model()
    source = np.array([[4, 29, 23, 3]], dtype="int32")
    target = np.array([[1, 6, 7, 5]], dtype="int32")
    assert tuple(model([source, target]).shape) == (1, T.TARGET_LENGTH, len(T.TARGET_VOCABULARY))
    with pytest.raises(ValueError, match=r"`num_heads`=4 does not divide `hidden_dim`=10"):
        tiny_model(hidden_dim=10, num_heads=4)
    with pytest.raises(ValueError, match=r"`num_layers` must be an integer >= 1. Received: num_layers=0"):
        tiny_model(num_layers=0)
    with pytest.raises(ValueError, match=r"`attention_dropout` must be a rate in \[0, 1\)"):
        tiny_model(attention_dropout=1.0)
    with pytest.raises(TypeError, match="positional argument"):
        seq2seq_transformer(10, 6, 3, 4)  # the lengths must be named
    with pytest.raises(ValueError, match=r"`max_length` must be in \[1, 4\]"):
        greedy_decode(model, source, start_id=T.START_ID, end_id=T.END_ID, max_length=T.TARGET_LENGTH + 1)
    with pytest.raises(ValueError, match=r"`source_ids` must have shape \(batch, source_length\)"):
        greedy_decode(model, source[0], start_id=T.START_ID, end_id=T.END_ID, max_length=2)


def test_logits_at_t_ignore_target_tokens_after_t():
    model = tiny_model()
    rng = np.random.default_rng(0)
    source = rng.integers(1, len(T.SOURCE_VOCABULARY), size=(3, T.SOURCE_LENGTH))
    target = rng.integers(1, len(T.TARGET_VOCABULARY), size=(3, T.TARGET_LENGTH))
    before = to_numpy(model([source, target]))
    for t in range(T.TARGET_LENGTH - 1):
        changed = target.copy()
        changed[:, t + 1 :] = rng.integers(1, len(T.TARGET_VOCABULARY), size=(3, T.TARGET_LENGTH - t - 1))
        after = to_numpy(model([source, changed]))
        np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-5)
        assert np.abs(after[:, t + 1 :] - before[:, t + 1 :]).max() > 1e-4


def test_source_padding_does_not_change_outputs():
    # A model for 2-word sources, and one for 4-word sources with the same weights:
    # appending two padding tokens to the source must not change the logits.
    short = tiny_model(source_length=2)
    long = tiny_model(source_length=4)
    for layer in long.layers:
        weights = short.get_layer(layer.name).get_weights()
        if layer.name == "source_embedding":  # the long model has 2 more positions
            weights = [
                w if w.shape == v.shape else np.concatenate([w, v[w.shape[0] :]])
                for w, v in zip(weights, layer.get_weights(), strict=True)
            ]
        layer.set_weights(weights)
    target = np.array([[1, 6, 7, 5]], dtype="int32")
    source = np.array([[4, 29]], dtype="int32")
    padded = np.array([[4, 29, 0, 0]], dtype="int32")
    np.testing.assert_allclose(to_numpy(long([padded, target])), to_numpy(short([source, target])), atol=1e-5)
    # And what the padding embeds to does not matter either.
    embedding = long.get_layer("source_embedding").token_embedding.embeddings
    before = to_numpy(long([padded, target]))
    table = to_numpy(embedding).copy()
    table[0] = 50.0
    embedding.assign(table)
    np.testing.assert_allclose(to_numpy(long([padded, target])), before, atol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    model = tiny_model()
    train, _ = number_translation(seed=0)
    inputs = [train.source[:8], train.decoder_input[:8]]
    path = tmp_path / "seq2seq.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(inputs)), to_numpy(model(inputs)))


def test_greedy_decode_matches_a_step_by_step_argmax_and_stops_at_end():
    model = tiny_model()
    train, _ = number_translation(seed=0)
    source = train.source[:5]
    result = greedy_decode(model, source, start_id=T.START_ID, end_id=T.END_ID, max_length=T.TARGET_LENGTH)
    for row in range(len(source)):
        prefix = [T.START_ID]
        expected = []
        while len(expected) < T.TARGET_LENGTH:
            padded = np.zeros((1, T.TARGET_LENGTH), dtype="int32")
            padded[0, : len(prefix)] = prefix
            logits = to_numpy(model([source[row : row + 1], padded]))
            token = int(np.argmax(logits[0, len(prefix) - 1]))
            expected.append(token)
            prefix.append(token)
            if token == T.END_ID:
                break
        assert result[row, : len(expected)].tolist() == expected
        assert (result[row, len(expected) :] == 0).all()

    # A model whose logits always favour <end> stops after one step.
    bias = model.get_layer("logits").bias
    bias.assign(np.where(np.arange(len(T.TARGET_VOCABULARY)) == T.END_ID, 100.0, 0.0))
    ended = greedy_decode(model, source, start_id=T.START_ID, end_id=T.END_ID, max_length=T.TARGET_LENGTH)
    assert ended.shape == (5, 1) and (ended == T.END_ID).all()


@pytest.mark.slow
def test_a_tiny_model_learns_to_translate_numbers():
    keras.utils.set_random_seed(0)
    train, test = number_translation(seed=0)
    model = tiny_model(hidden_dim=32, intermediate_dim=64)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    model.fit([train.source, train.decoder_input], train.labels, batch_size=32, epochs=4, verbose=0)
    ids = greedy_decode(model, test.source, start_id=T.START_ID, end_id=T.END_ID, max_length=T.TARGET_LENGTH)
    exact = np.mean([T.decode_target(p) == T.decode_target(y) for p, y in zip(ids, test.labels, strict=True)])
    # Chance is about 1 in 1000 numbers; well above it means the model reads the words.
    assert exact > 0.5, exact
