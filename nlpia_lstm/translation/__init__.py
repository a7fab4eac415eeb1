"""English -> Spanish translation with an LSTM encoder-decoder (Jurafsky & Martin, ch. 9).

- :mod:`nlpia_lstm.translation.text`: tokens, splits by English sentence, vocabularies and id
  arrays; loads no Keras.
- :mod:`nlpia_lstm.translation.model`: the encoder-decoder, greedy and beam decoding, BLEU,
  save and load.
- :mod:`nlpia_lstm.translation.experiment`: train and score the decoder variants of a config,
  one CSV row per variant and decoding.
"""
